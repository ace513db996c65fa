%% @doc beamflame: flame graphs of a live BEAM node.
%%
%% The API, and what each call costs on a production node:
%% <ul>
%% <li>{@link sample/1}: samples the stacks of the node's processes for a duration (default
%%   5 s at 99 Hz). Needs no VM flags and sets no trace flags. Cost: one short sweep per
%%   tick in a separate process; processes that are not running are checked about once a
%%   second (~0.3 us each); only processes that ran are asked for their stacks (one signal
%%   each). `backtrace_depth' is raised for the run and restored after it, also when the
%%   caller dies. Memory is bounded by the caps (`max_stacks', `max_bytes').</li>
%% <li>{@link folded/1}, {@link svg/2}, {@link write/3}: outputs, rendered in C (large
%%   ones on a dirty scheduler).</li>
%% <li>{@link read_folded/1}: a profile from folded text made by any tool.</li>
%% </ul>
%% A profile is an opaque handle (a NIF resource) to a table of merged stacks; the data is
%% not on any process heap and is freed when the handle is garbage collected. It is only
%% usable on the node that made it: remote callers ask for binaries (folded, SVG).
-module(beamflame).
-export([attach/1, detach/1, sample/2, remote_sample/2, sample_cluster/2]).
-export([cap_folded/1]).
-export([trace/2, capture/3, trace_process/2, native/1, native/2, remote_native/2]).
-export([trace/3, capture/4, remote_trace/3, remote_capture/4]).
-export([pprof/1]).
-export([continuous/1, continuous_stop/0, continuous_info/0, history/1,
         continuous/2, continuous_stop/1, continuous_info/1, history/2]).
-export([sample/1, folded/1, svg/1, svg/2, html/1, html/2, speedscope/1, speedscope/2, diff/3,
         write/2, write/3, info/1, read_folded/1]).

%% A run ends itself at its deadline; this margin covers its last sweep and slow
%% schedulers. Past it, the run is stopped and the call says so (no bare timeout crash).
-define(AWAIT_MARGIN_MS, 10000).

-type profile() :: beamflame_nif:profile().
-type svg_opts() :: #{title => unicode:chardata(), subtitle => unicode:chardata(),
                      count_name => unicode:chardata(), width => number(),
                      min_width => number() | {percent, number()},
                      frame_height => number(), font_size => number(),
                      palette => hot | beam, inverted => boolean(), reverse => boolean(),
                      flamechart => boolean(), interactive => boolean(),
                      max_frames => non_neg_integer()}.
-type sample_opts() :: beamflame_sampler:opts().
-export_type([profile/0, svg_opts/0, sample_opts/0]).

%% Remote results are capped: folded text above this is cut at a line boundary and the
%% result says `truncated => true' (SVG and HTML are bounded by the frame budget).
-define(MAX_REMOTE_FOLDED, 32 * 1024 * 1024).

%% @doc Loads beamflame into `Node' if it lacks it (hidden connection; code and NIF
%% pushed; see {@link beamflame_attach}). Idempotent.
-spec attach(node()) -> ok | {error, term()}.
attach(Node) ->
    beamflame_attach:attach(Node).

%% @doc Removes from `Node' what {@link attach/1} loaded there.
-spec detach(node()) -> ok | {error, term()}.
detach(Node) ->
    beamflame_attach:detach(Node).

%% @doc Samples `Node' (attaching first if needed) and returns what can cross nodes:
%% `#{folded, svg, html, info, truncated}', the SVG and HTML rendered here, on the
%% caller's side. The run on the target is a session of {@link beamflame_remote} owned by
%% the caller: if the caller dies or the connection drops, the target stops it, undoes
%% everything, and stops the application if the session started it.
-spec sample(node(), sample_opts()) -> {ok, map()} | {error, term()}.
sample(Node, Opts) when is_atom(Node) ->
    remote(Node, sample, Opts, beamflame_sampler:validate(Opts)).

%% @doc The entry point for a plain remote call (a notebook with no beamflame of its
%% own, through `erpc'): samples this node for `Owner'; options as {@link sample/1}, and
%% `render => [svg, html]' to have this node render those too.
-spec remote_sample(pid(), map()) -> {ok, map()} | {error, term()}.
remote_sample(Owner, Opts) when is_pid(Owner) ->
    beamflame_remote:run(Owner, sample, Opts).

%% @doc Traces `{M, F, Args}' on `Node' (attaching first if needed): the call runs there
%% and what comes back is `#{value, folded, svg, html, info, truncated}'. Owned like
%% {@link sample/2}. An exception from the call is re-raised here, after the tracing is
%% undone there.
-spec trace(node(), {module(), atom(), list()}, map()) -> {ok, map()} | {error, term()}.
trace(Node, {M, F, A} = MFA, Opts) when is_atom(Node), is_atom(M), is_atom(F), is_list(A),
                                        is_map(Opts) ->
    case remote(Node, call, Opts#{call => MFA}, beamflame_trace:validate(trace, Opts)) of
        {error, {raised, Class, Reason, Stack}} -> erlang:raise(Class, Reason, Stack);
        Result -> Result
    end.

%% @doc Captures the next `Calls' calls of `{M, F, Arity}' on `Node': a list of maps
%% `#{folded, svg, html, info, truncated}', one per call.
-spec capture(node(), mfa(), pos_integer(), map()) -> {ok, [map()]} | {error, term()}.
capture(Node, MFA, Calls, Opts) when is_atom(Node), is_map(Opts) ->
    remote(Node, capture, Opts#{mfa => MFA, calls => Calls},
           beamflame_trace:validate(capture, Opts)).

%% @doc The entry point a remote caller runs on the target for {@link trace/3}; `render'
%% as for {@link remote_sample/2}.
-spec remote_trace(pid(), {module(), atom(), list()}, map()) -> {ok, map()} | {error, term()}.
remote_trace(Owner, MFA, Opts) when is_pid(Owner), is_map(Opts) ->
    beamflame_remote:run(Owner, call, Opts#{call => MFA}).

%% @doc The entry point a remote caller runs on the target for {@link capture/4}.
-spec remote_capture(pid(), mfa(), pos_integer(), map()) -> {ok, [map()]} | {error, term()}.
remote_capture(Owner, MFA, Calls, Opts) when is_pid(Owner), is_map(Opts) ->
    beamflame_remote:run(Owner, capture, Opts#{mfa => MFA, calls => Calls}).

%% A remote run: the options checked here first (the same validators the target runs),
%% the session's result rendered here.
remote(Node, Mode, Opts, {ok, Valid}) ->
    Limit = case Mode of
                sample -> maps:get(duration, Valid);
                native -> maps:get(duration, Valid);
                _ -> maps:get(timeout, Valid)
            end,
    %% loaded, not started: the session starts the application and stops it after
    case beamflame_attach:load(Node) of
        ok ->
            try erpc:call(Node, beamflame_remote, run, [self(), Mode, Opts],
                          Limit + ?AWAIT_MARGIN_MS + 5000) of
                {ok, Results} when is_list(Results) -> {ok, [graphs(Node, R) || R <- Results]};
                {ok, R} -> {ok, graphs(Node, R)};
                {error, _} = E -> E
            catch
                error:{erpc, Reason} -> {error, {badrpc, Node, Reason}};
                Class:Reason -> {error, {badrpc, Node, {Class, Reason}}}
            end;
        {error, _} = E ->
            E
    end;
remote(_Node, _Mode, _Opts, {error, _} = E) ->
    E.

%% SVG and HTML of a remote result, drawn as the target would have: its node in the
%% title, its hint as the subtitle, a traced profile's unit.
graphs(Node, R = #{folded := Folded, info := Info}) ->
    Opts0 = #{title => "beamflame: " ++ atom_to_list(Node)},
    Opts1 = case Info of
                #{hint := Hint} -> Opts0#{subtitle => Hint};
                _ -> Opts0
            end,
    Opts = case Info of
               #{unit := us} -> Opts1#{count_name => <<"us">>};
               #{unit := calls} -> Opts1#{count_name => <<"calls">>};
               _ -> Opts1
           end,
    R#{svg => svg(Folded, Opts), html => html(Folded, Opts)}.

%% @doc Folded text cut at a line boundary to the size a remote result may have, and
%% whether it was cut.
-spec cap_folded(binary()) -> {binary(), boolean()}.
cap_folded(Bin) when byte_size(Bin) =< ?MAX_REMOTE_FOLDED ->
    {Bin, false};
cap_folded(Bin) ->
    Head = binary:part(Bin, 0, ?MAX_REMOTE_FOLDED),
    case binary:matches(Head, <<"\n">>) of
        [] -> {<<>>, true};
        Ms -> {Last, 1} = lists:last(Ms), {binary:part(Head, 0, Last + 1), true}
    end.

%% @doc Samples several nodes at once and merges them into one profile whose root frames
%% are the node names. A node that fails does not lose the others: its error is in the
%% second element.
-spec sample_cluster([node()], sample_opts()) ->
          {ok, profile(), #{node() => ok | {error, term()}}} | {error, term()}.
sample_cluster(Nodes, Opts) when is_list(Nodes) ->
    Self = self(),
    Pending = [{N, spawn_monitor(fun() -> Self ! {beamflame_cluster, self(), sample(N, Opts)} end)}
               || N <- Nodes],
    Results = [{N, receive
                       {beamflame_cluster, Pid, R} -> erlang:demonitor(Ref, [flush]), R;
                       {'DOWN', Ref, process, Pid, Reason} -> {error, Reason}
                   end} || {N, {Pid, Ref}} <- Pending],
    Status = maps:from_list([{N, case R of {ok, _} -> ok; E -> E end} || {N, R} <- Results]),
    Merged = [prefix(N, F) || {N, {ok, #{folded := F}}} <- Results],
    case iolist_size(Merged) of
        0 ->
            {error, {no_samples, Status}};
        _ ->
            case read_folded(Merged) of
                {ok, P, _} ->
                    %% roots are nodes (pprof labels them so)
                    ok = beamflame_nif:set_meta(P, #{mode => sample, roots => node,
                                                     nodes => Nodes}),
                    {ok, P, Status};
                {error, _} = E ->
                    E
            end
    end.

%% Every line of a node's folded text, under a root frame named after the node.
prefix(Node, Folded) ->
    Root = atom_to_binary(Node, utf8),
    [[Root, $;, L, $\n] || L <- binary:split(Folded, <<"\n">>, [global, trim_all])].

%% @doc Samples the stacks of the node's processes.
%%
%% Options: a map, checked against beamflame_options:table(sample) (docs/options.md:
%% `duration', `rate', `processes', `states', `group' and the caps `max_stacks',
%% `max_depth', `max_bytes'; what exceeds a cap is counted in {@link info/1}, never grown
%% into). `states => cpu' (the default) counts processes executing at the tick, their
%% waits left out (see {@link beamflame_sampler}); `wall' or `all' counts every process.
%% When the graph cannot be trusted as it is, {@link info/1} has a `hint' (why, and what
%% to do), which svg/2 and html/2 draw as the subtitle.
-spec sample(sample_opts()) -> {ok, profile()} | {error, term()}.
sample(Opts) ->
    case beamflame_sampler:validate(Opts) of
        {ok, Valid} -> run(beamflame_sampler, Valid);
        {error, _} = E -> E
    end.

run(Mod, Opts) ->
    case application:ensure_all_started(beamflame) of
        {ok, _} ->
            Ref = make_ref(),
            case beamflame_sup:start_run(Mod, start_link, [Opts, self(), Ref]) of
                {ok, Pid} -> await(Pid, Ref, maps:get(duration, Opts));
                {error, Reason} -> {error, {cannot_start, Reason}}
            end;
        {error, Reason} ->
            {error, {cannot_start, Reason}}
    end.


await(Pid, Ref, Duration) ->
    Mon = erlang:monitor(process, Pid),
    receive
        {Ref, Result} ->
            erlang:demonitor(Mon, [flush]),
            Result;
        {'DOWN', Mon, process, Pid, Reason} ->
            {error, {run_failed, Reason}}
    after Duration + ?AWAIT_MARGIN_MS ->
        exit(Pid, kill),
        erlang:demonitor(Mon, [flush]),
        receive {Ref, _} -> ok after 0 -> ok end,
        {error, {timeout, "the run did not finish within its duration + 10 s; it was stopped"}}
    end.

%% @doc Runs `Call' (a fun of arity 0, or `{M, F, Args}') with call tracing and returns
%% its value and a profile of exact stacks weighted in microseconds of wall time. The
%% call runs in the calling process (`spawn => true': in a fresh one); an exception from
%% it is re-raised after the tracing is undone.
%%
%% Options: beamflame_options:table(trace) (docs/options.md): `follow', `modules',
%% `timeout' and `max_events' (past either the tracing stops and the profile holds what
%% was recorded: `stopped' in {@link info/1}), `sleep', `names', `weight', `recursion',
%% `tail_calls', `spawn' and the caps (deeper calls than `max_depth' are followed exactly
%% and drawn under one `[truncated]' frame).
%% Cost: see {@link beamflame_trace}.
-spec trace(fun(() -> term()) | {module(), atom(), list()}, map()) ->
          {ok, term(), profile()} | {error, term()}.
trace(Call, Opts) when is_function(Call, 0); is_tuple(Call), tuple_size(Call) =:= 3 ->
    case beamflame_trace:validate(trace, Opts) of
        {ok, Valid} -> beamflame_trace:trace(Call, Valid);
        {error, _} = E -> E
    end;
trace(Call, _Opts) ->
    {error, {bad_argument, Call, "a fun of arity 0, or {Module, Function, Args}"}}.

%% @doc Waits for the next `Calls' calls of `{M, F, Arity}' by any process (for up to
%% `timeout' ms, default 60000) and traces each of them: one profile per call, in the
%% order they finished. Options as {@link trace/2}.
-spec capture(mfa(), pos_integer(), map()) -> {ok, [profile()]} | {error, term()}.
capture({M, F, A} = MFA, Calls, Opts) when is_atom(M), is_atom(F), is_integer(A),
                                           is_integer(Calls), Calls >= 1, Calls =< 1000 ->
    case beamflame_trace:validate(capture, Opts) of
        {ok, Valid} -> beamflame_trace:capture(MFA, Calls, Valid);
        {error, _} = E -> E
    end;
capture(MFA, Calls, _Opts) ->
    {error, {bad_argument, {MFA, Calls}, "{Module, Function, Arity} and 1..1000 calls"}}.

%% @doc Native mode: samples this node's scheduler threads with a port program (ptrace),
%% C frames and JIT-compiled Erlang frames in one stack, each stack rooted at its thread's
%% name (`1_scheduler'). Options: beamflame_options:table(native). Full Erlang
%% frames need the node started with `+JPperf map'; `info/1' says what the node could
%% give (`capability'). See {@link beamflame_native}.
-spec native(map()) -> {ok, profile()} | {error, term()}.
native(Opts) ->
    case beamflame_native:validate(Opts) of
        {ok, Valid} -> beamflame_native:run(Valid);
        {error, _} = E -> E
    end.

%% @doc Native mode on another node (attaching first if needed); binaries come back.
-spec native(node(), map()) -> {ok, map()} | {error, term()}.
native(Node, Opts) when is_atom(Node), is_map(Opts) ->
    remote(Node, native, Opts, beamflame_native:validate(Opts)).

%% @doc The entry point a remote caller runs on the target for {@link native/2}.
-spec remote_native(pid(), map()) -> {ok, map()} | {error, term()}.
remote_native(Owner, Opts) when is_pid(Owner) ->
    beamflame_remote:run(Owner, native, Opts).

%% @doc Traces what an existing process does for `duration' ms (default 5000), starting
%% from the stack it is in. Options as {@link trace/2}.
-spec trace_process(pid(), map()) -> {ok, profile()} | {error, term()}.
trace_process(Pid, Opts) when is_pid(Pid), node(Pid) =:= node() ->
    case beamflame_trace:validate(process, Opts) of
        {ok, Valid} -> beamflame_trace:trace_process(Pid, Valid);
        {error, _} = E -> E
    end;
trace_process(Pid, _Opts) ->
    {error, {bad_argument, Pid, "a local pid"}}.

%% @doc The profile as folded stacks, one `frame;frame;frame count' line per distinct
%% stack, sorted. Frame names containing `;', `\', line breaks or control characters are
%% escaped (docs/formats.md). The rule for errors across the API: what a caller may get
%% wrong at run time (options, folded text, a node, a function) is `{error, Reason}';
%% a term that is not a profile given to folded/1 or info/1 is a programming error and
%% raises `{not_a_profile, Term}' (memory exhaustion raises `{beamflame, enomem}').
-spec folded(profile()) -> binary().
folded(Profile) ->
    case profile_call(fun beamflame_nif:render_folded/1, Profile) of
        {ok, Bin} -> Bin;
        {error, Reason} -> erlang:error({beamflame, Reason}, [Profile])
    end.

profile_call(F, Profile) ->
    try F(Profile)
    catch error:badarg -> erlang:error({not_a_profile, Profile}, [Profile])
    end.

%% @equiv svg(ProfileOrFolded, #{})
-spec svg(profile() | iodata()) -> binary() | {error, term()}.
svg(ProfileOrFolded) ->
    svg(ProfileOrFolded, #{}).

%% @doc An interactive SVG flame graph of a profile, or of folded text (iodata).
%%
%% Hover shows a frame's name, count and share (also of the zoomed frame); click zooms
%% (ancestors kept), "Reset Zoom" resets; "Search" takes a regular expression ("ic" makes
%% it case-insensitive) and shows the matched share; zoom and search live in the URL
%% fragment, so a link reopens the view. Self-contained: no network, works from file://.
%%
%% Options: `title', `subtitle', `count_name' (text; default "samples"), `width' (pixels,
%% default 1200), `frame_height' (16), `font_size' (12), `min_width' (pixels, default 0.1,
%% or `{percent, P}' of the width: narrower frames are pruned, their weight stays in their
%% parent), `palette' (`hot', or `beam': colour by what a frame is, with a legend),
%% `inverted' (icicle), `reverse' (leaf functions at the root), `flamechart' (keep the
%% order stacks were added in), `interactive' (default true), `max_frames' (default
%% 30000, 0 for no limit: above it the minimum width is raised until the frames fit, and
%% the graph says how many were left out). Returns `{error, empty}'
%% when there is nothing to draw, and `{error, {bad_option, ...}}' for a bad option.
-spec svg(profile() | iodata(), svg_opts()) -> binary() | {error, term()}.
svg(ProfileOrFolded, Opts) ->
    render(svg, ProfileOrFolded, Opts).

%% @equiv html(ProfileOrFolded, #{})
-spec html(profile() | iodata()) -> binary() | {error, term()}.
html(ProfileOrFolded) ->
    html(ProfileOrFolded, #{}).

%% @doc The same flame graph in a self-contained HTML page (for notebooks: Livebook's
%% `Kino.HTML' runs its script, an image of an SVG would not). Options as {@link svg/2}.
-spec html(profile() | iodata(), svg_opts()) -> binary() | {error, term()}.
html(ProfileOrFolded, Opts) ->
    render(html, ProfileOrFolded, Opts).

%% @equiv speedscope(ProfileOrFolded, #{})
-spec speedscope(profile() | iodata()) -> binary() | {error, term()}.
speedscope(ProfileOrFolded) ->
    speedscope(ProfileOrFolded, #{}).

%% @doc The profile in speedscope's JSON format (https://www.speedscope.app), as a sampled
%% profile named by the `title' option.
-spec speedscope(profile() | iodata(), svg_opts()) -> binary() | {error, term()}.
speedscope(ProfileOrFolded, Opts) ->
    render(speedscope, ProfileOrFolded, Opts).

%% @doc Starts always-on profiling of this node: a low-rate sampler (10 Hz by default)
%% owned by the beamflame application (not by the caller: it outlives a disconnected
%% operator), keeping `keep' seconds of `slice'-second slices under `max_bytes'; see
%% {@link beamflame_continuous} and beamflame_options:table(continuous). `push' sends
%% each slice to Pyroscope ({@link beamflame_push}).
-spec continuous(map()) -> ok | {error, term()}.
continuous(Opts) ->
    case application:ensure_all_started(beamflame) of
        {ok, _} -> beamflame_continuous:start(Opts);
        {error, Reason} -> {error, {cannot_start, Reason}}
    end.

%% @doc Ends always-on profiling and frees its slices.
-spec continuous_stop() -> ok.
continuous_stop() ->
    beamflame_continuous:stop().

%% @doc What always-on profiling holds: rate, window, memory used, slices, drops.
-spec continuous_info() -> map().
continuous_info() ->
    beamflame_continuous:info().

%% @doc An ordinary profile of a window of always-on profiling: `#{last => Seconds}' or
%% `#{from => T1, to => T2}' (erlang:system_time(second) or a UTC calendar datetime).
%% Every output takes it, and diff/3 of two windows shows what changed.
-spec history(map()) -> {ok, profile()} | {error, term()}.
history(Window) ->
    beamflame_continuous:history(Window).

%% @doc continuous/1 on `Node' (beamflame loaded there first if it lacks it); the
%% application it starts there stays until continuous_stop/1.
-spec continuous(node(), map()) -> ok | {error, term()}.
continuous(Node, Opts) when is_atom(Node) ->
    case beamflame_options:validate(continuous, Opts) of
        {ok, _} -> remote_plain(Node, continuous, [start, Opts]);
        {error, _} = E -> E
    end.

-spec continuous_stop(node()) -> ok | {error, term()}.
continuous_stop(Node) when is_atom(Node) ->
    remote_plain(Node, continuous, [stop, #{}]).

-spec continuous_info(node()) -> map() | {error, term()}.
continuous_info(Node) when is_atom(Node) ->
    remote_plain(Node, continuous, [info, #{}]).

%% @doc history/1 on `Node': `#{folded, svg, html, info, truncated}' (drawn here).
-spec history(node(), map()) -> {ok, map()} | {error, term()}.
history(Node, Window) when is_atom(Node) ->
    case remote_plain(Node, history, [Window]) of
        {ok, R} -> {ok, graphs(Node, R)};
        Other -> Other
    end.

remote_plain(Node, F, Args) ->
    case beamflame_attach:load(Node) of
        ok ->
            try erpc:call(Node, beamflame_remote, F, Args, 60000)
            catch
                error:{erpc, Reason} -> {error, {badrpc, Node, Reason}};
                Class:Reason -> {error, {badrpc, Node, {Class, Reason}}}
            end;
        {error, _} = E ->
            E
    end.

%% @doc The profile (or folded text) as pprof's format: a gzipped profile.proto, for `go
%% tool pprof', Pyroscope, Parca or any other reader of it. Its first sample type is
%% `samples'/`count' (a traced profile's: how many times each stack's time was credited,
%% then `wall'/`microseconds'; traced calls: `calls'/`count'); the period, time and
%% duration of the run when the profile has them; each sample's root frame also as a
%% label (`process', `thread' or `node') when roots are those. Written in C, no
%% protobuf library (c_src/core/bf_pprof.c).
-spec pprof(profile() | iodata()) -> binary() | {error, term()}.
pprof(ProfileOrFolded) ->
    case as_profile(ProfileOrFolded) of
        {ok, P} ->
            case beamflame_nif:render_pprof(P, pprof_opts(info(P))) of
                {ok, Bin} -> Bin;
                {error, _} = E -> E
            end;
        {error, _} = E ->
            E
    end.

pprof_opts(Info) ->
    Values = case Info of
                 #{mode := trace, unit := us} ->
                     #{type => <<"samples">>, unit => <<"count">>, count_credits => true,
                       weight_type => <<"wall">>, weight_unit => <<"microseconds">>};
                 #{mode := trace, unit := calls} ->
                     #{type => <<"calls">>, unit => <<"count">>};
                 _ ->
                     #{type => <<"samples">>, unit => <<"count">>}
             end,
    Period = case Info of
                 #{mode := sample, rate := Rate, states := cpu} -> period(<<"cpu">>, Rate);
                 #{mode := sample, rate := Rate} -> period(<<"wall">>, Rate);
                 #{mode := native, rate := Rate} -> period(<<"wall">>, Rate);
                 _ -> #{}
             end,
    Extra = [{time_nanos, maps:get(started_at, Info, 0) * 1000000},
             {duration_nanos, maps:get(duration_ms, Info, 0) * 1000000}]
        ++ [{root_label, atom_to_binary(R, utf8)} || #{roots := R} <- [Info], is_atom(R)],
    maps:merge(maps:merge(Values, Period), maps:from_list(Extra)).

period(Type, Rate) ->
    #{period_type => Type, period_unit => <<"nanoseconds">>, period => 1000000000 div Rate}.

%% @doc A differential flame graph of two profiles (or folded texts): widths from `After',
%% each frame coloured by its inclusive change (its whole subtree), red where it grew,
%% blue where it shrank; tooltips add the change in percent. Options as {@link svg/2},
%% plus `normalize' (default false: compare counts; true: scale `Before' to `After''s
%% total and compare shares) and `format' (`svg', default, or `html').
-spec diff(profile() | iodata(), profile() | iodata(),
           svg_opts() | #{normalize => boolean(), format => svg | html}) ->
          binary() | {error, term()}.
diff(Before, After, Opts0) ->
    case beamflame_options:validate(diff, Opts0) of
        {ok, #{normalize := Normalize, format := Format}} ->
            Opts = maps:without([normalize, format], Opts0),
            case {svg_opts(Opts), as_profile(Before), as_profile(After)} of
                {{ok, NifOpts}, {ok, B}, {ok, A}} ->
                    case beamflame_nif:render_diff_dirty(B, A, NifOpts#{normalize => Normalize,
                                                                        format => Format}) of
                        {ok, Bin} -> Bin;
                        {error, _} = E -> E
                    end;
                {{error, _} = E, _, _} -> E;
                {_, {error, _} = E, _} -> E;
                {_, _, {error, _} = E} -> E
            end;
        {error, _} = E ->
            E
    end.

render(Format, ProfileOrFolded, Opts0) ->
    Opts = render_defaults(ProfileOrFolded, Opts0),
    case svg_opts(Opts) of
        {ok, NifOpts} ->
            case as_profile(ProfileOrFolded) of
                {ok, P} ->
                    case beamflame_nif:render_graph(P, NifOpts#{format => Format}) of
                        {ok, Bin} -> Bin;
                        {error, _} = E -> E
                    end;
                {error, _} = E ->
                    E
            end;
        {error, _} = E ->
            E
    end.

%% A traced profile counts microseconds (or calls), not samples: say so unless told. A
%% profile with a hint (it cannot be trusted as it is: see info/1) carries it as its
%% subtitle unless one is given.
render_defaults(P, Opts) when is_reference(P), is_map(Opts) ->
    Info = try info(P) catch _:_ -> #{} end,
    Opts1 = case {maps:is_key(count_name, Opts), Info} of
                {false, #{unit := us}} -> Opts#{count_name => <<"us">>};
                {false, #{unit := calls}} -> Opts#{count_name => <<"calls">>};
                _ -> Opts
            end,
    case {maps:is_key(subtitle, Opts1), Info} of
        {false, #{hint := Hint}} -> Opts1#{subtitle => Hint};
        _ -> Opts1
    end;
render_defaults(_, Opts) ->
    Opts.

as_profile(P) when is_reference(P) ->
    {ok, P};
as_profile(Folded) when is_binary(Folded); is_list(Folded) ->
    case read_folded(Folded) of
        {ok, P, _Report} -> {ok, P};
        {error, _} = E -> E
    end;
as_profile(Other) ->
    {error, {bad_argument, Other, "expected a profile or folded text"}}.

%% The renderers' options (beamflame_options:table(render)) as the NIF takes them: only
%% those given (the C side has the same defaults), a percentage apart.
svg_opts(Opts) ->
    case beamflame_options:validate(render, Opts) of
        {ok, _} ->
            {ok, maps:fold(fun(min_width, {percent, P}, Acc) -> Acc#{min_width_pct => P};
                              (K, V, Acc) when K =:= title; K =:= subtitle; K =:= count_name ->
                                   Acc#{K => unicode:characters_to_binary(V)};
                              (K, V, Acc) -> Acc#{K => V}
                           end, #{}, Opts)};
        {error, _} = E ->
            E
    end.

%% @equiv write(Profile, Path, #{})
-spec write(profile(), file:filename_all()) -> ok | {error, term()}.
write(Profile, Path) ->
    write(Profile, Path, #{}).

%% @doc Writes a profile to `Path' in the format its extension names: `.svg', `.html',
%% `.json' (speedscope), `.folded' or `.pb.gz' (pprof). The file is written next to its final name and
%% renamed, so a failure never leaves half a file.
-spec write(profile(), file:filename_all(), svg_opts()) -> ok | {error, term()}.
write(Profile, Path, Opts) ->
    Data = case unicode:characters_to_list(string:lowercase(filename:extension(Path))) of
               ".svg" -> svg(Profile, Opts);
               ".html" -> html(Profile, Opts);
               ".json" -> speedscope(Profile, Opts);
               ".folded" -> folded(Profile);
               ".gz" -> pprof_path(Path, Profile);
               ".pprof" -> pprof(Profile);
               Ext -> {error, {unknown_extension, Ext, "use .svg, .html, .json, .folded, "
                                                       ".pb.gz or .pprof"}}
           end,
    case Data of
        Bin when is_binary(Bin) -> write_atomic(Path, Bin);
        {error, _} = E -> E
    end.

%% .pb.gz is pprof's own name for its files; another .gz is not ours to guess.
pprof_path(Path, Profile) ->
    case lists:suffix(".pb.gz", string:lowercase(unicode:characters_to_list(Path))) of
        true -> pprof(Profile);
        false -> {error, {unknown_extension, ".gz", "use .pb.gz for pprof"}}
    end.

write_atomic(Path, Bin) ->
    Tmp = unicode:characters_to_list([Path, ".tmp.", os:getpid()]),
    case file:write_file(Tmp, Bin) of
        ok ->
            case file:rename(Tmp, Path) of
                ok -> ok;
                {error, R} -> _ = file:delete(Tmp), {error, {R, Path}}
            end;
        {error, R} ->
            {error, {R, Path}}
    end.

%% @doc What a profile holds: `mode', `duration_ms', `samples' (stacks added), `weight'
%% (sum of counts), `stacks' (distinct), drops by cap, and the run's own counters
%% (`ticks', `missed_ticks', `stack_timeouts', ...).
%% A term that is not a profile raises `{not_a_profile, Term}' (see folded/1).
-spec info(profile()) -> map().
info(Profile) ->
    profile_call(fun beamflame_nif:info/1, Profile).

%% @doc Reads folded text (from perf, eflambe, beamflame...) into a profile. Malformed
%% lines are skipped and reported with their line numbers (the first 20; all counted).
-spec read_folded(iodata()) -> {ok, profile(), #{lines := non_neg_integer(),
                                                  malformed := non_neg_integer(),
                                                  errors := [{pos_integer(), binary()}]}}
                                 | {error, term()}.
read_folded(Data) ->
    try
        beamflame_nif:read_folded(Data, #{max_stacks => 10000000})
    catch
        error:badarg -> {error, {bad_argument, "folded text must be iodata"}}
    end.
