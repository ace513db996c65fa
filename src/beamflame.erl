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
-export([sample/1, folded/1, svg/1, svg/2, write/2, write/3, info/1, read_folded/1]).

-type profile() :: beamflame_nif:profile().
-type svg_opts() :: #{title => unicode:chardata(), subtitle => unicode:chardata(),
                      width => number(), min_width => number(),
                      count_name => unicode:chardata()}.
-type sample_opts() :: beamflame_sampler:opts().
-export_type([profile/0, svg_opts/0, sample_opts/0]).

%% @doc Samples the stacks of the node's processes.
%%
%% Options (a map; unknown keys are an error):
%% <dl>
%% <dt>`duration'</dt><dd>milliseconds, default 5000.</dd>
%% <dt>`rate'</dt><dd>Hz, default 99; ticks are jittered by up to a quarter period so they
%%   do not beat with periodic work.</dd>
%% <dt>`processes'</dt><dd>`all' (default) or a list of pids and registered names.</dd>
%% <dt>`states'</dt><dd>`cpu' (default): processes running or runnable; `wall': all
%%   processes, waiting ones at the place they wait.</dd>
%% <dt>`group'</dt><dd>`none' (default) or `process': a root frame per process, its
%%   registered name or initial call.</dd>
%% <dt>`max_stacks', `max_depth', `max_bytes'</dt><dd>caps (100000, 128, 64 MiB); what
%%   exceeds them is counted in {@link info/1}, never grown into.</dd>
%% </dl>
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

%% The run ends itself at its deadline; the margin covers its last sweep and slow
%% schedulers. Past it, the run is stopped and the call says so (no bare timeout crash).
-define(AWAIT_MARGIN_MS, 10000).

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

%% @doc The profile as folded stacks, one `frame;frame;frame count' line per distinct
%% stack, sorted. Frame names containing `;', `\', line breaks or control characters are
%% escaped (see the README).
-spec folded(profile()) -> binary().
folded(Profile) ->
    case beamflame_nif:render_folded(Profile) of
        {ok, Bin} -> Bin;
        {error, Reason} -> erlang:error({beamflame, Reason}, [Profile])
    end.

%% @equiv svg(ProfileOrFolded, #{})
-spec svg(profile() | iodata()) -> binary() | {error, term()}.
svg(ProfileOrFolded) ->
    svg(ProfileOrFolded, #{}).

%% @doc An SVG flame graph of a profile, or of folded text (iodata).
%%
%% Options: `title', `subtitle', `count_name' (text), `width' (pixels, default 1200),
%% `min_width' (pixels, default 0.1: narrower frames are pruned; their weight stays in
%% their parent). Returns `{error, empty}' when there is nothing to draw, and
%% `{error, {bad_option, ...}}' for a bad option.
-spec svg(profile() | iodata(), svg_opts()) -> binary() | {error, term()}.
svg(ProfileOrFolded, Opts) ->
    case svg_opts(Opts) of
        {ok, NifOpts} ->
            case as_profile(ProfileOrFolded) of
                {ok, P} ->
                    case beamflame_nif:render_svg(P, NifOpts) of
                        {ok, Bin} -> Bin;
                        {error, _} = E -> E
                    end;
                {error, _} = E ->
                    E
            end;
        {error, _} = E ->
            E
    end.

as_profile(P) when is_reference(P) ->
    {ok, P};
as_profile(Folded) when is_binary(Folded); is_list(Folded) ->
    case read_folded(Folded) of
        {ok, P, _Report} -> {ok, P};
        {error, _} = E -> E
    end;
as_profile(Other) ->
    {error, {bad_argument, Other, "expected a profile or folded text"}}.

svg_opts(Opts) when is_map(Opts) ->
    try
        {ok, maps:fold(fun svg_opt/3, #{}, Opts)}
    catch
        throw:{bad_option, _, _} = E -> {error, E}
    end;
svg_opts(Other) ->
    {error, {bad_option, Other, "options must be a map"}}.

svg_opt(K, V, Acc) when K =:= title; K =:= subtitle; K =:= count_name ->
    case unicode:characters_to_binary(V) of
        B when is_binary(B) -> Acc#{K => B};
        _ -> throw({bad_option, {K, V}, "text (a string or binary)"})
    end;
svg_opt(width, V, Acc) when is_number(V), V > 20, V =< 100000 -> Acc#{width => V};
svg_opt(width, V, _) -> throw({bad_option, {width, V}, "pixels, 21..100000"});
svg_opt(min_width, V, Acc) when is_number(V), V >= 0 -> Acc#{min_width => V};
svg_opt(min_width, V, _) -> throw({bad_option, {min_width, V}, "pixels, 0 or more"});
svg_opt(K, V, _) ->
    throw({bad_option, {K, V}, "unknown option; known: title, subtitle, count_name, width, "
                               "min_width"}).

%% @equiv write(Profile, Path, #{})
-spec write(profile(), file:filename_all()) -> ok | {error, term()}.
write(Profile, Path) ->
    write(Profile, Path, #{}).

%% @doc Writes a profile to `Path' in the format its extension names: `.svg' or
%% `.folded'. The file is written next to its final name and renamed, so a failure never
%% leaves half a file.
-spec write(profile(), file:filename_all(), svg_opts()) -> ok | {error, term()}.
write(Profile, Path, Opts) ->
    Data = case string:lowercase(filename:extension(Path)) of
               Ext when Ext =:= ".svg"; Ext =:= <<".svg">> -> svg(Profile, Opts);
               Ext when Ext =:= ".folded"; Ext =:= <<".folded">> -> folded(Profile);
               Ext -> {error, {unknown_extension, Ext, "use .svg or .folded"}}
           end,
    case Data of
        Bin when is_binary(Bin) -> write_atomic(Path, Bin);
        {error, _} = E -> E
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
-spec info(profile()) -> map().
info(Profile) ->
    beamflame_nif:info(Profile).

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
