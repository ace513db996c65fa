%% @doc The one session module: every recording a remote caller makes on this node goes
%% through it, whether the caller is the `beamflame' command line (an ei C node, which
%% polls with short calls: start/3, status/1, stop/1, fetch/1) or an Erlang or Elixir node
%% (`beamflame:sample(Node, ...)', a notebook's plain `erpc' call: run/3, which waits).
%% A session is a process on this node that owns the run:
%% <ul>
%% <li>it monitors the owner (the caller's pid) and, for run/3, the waiting process: when
%%   either dies or its connection drops (`kill -9' of the command line, a halted caller
%%   node), the session ends, which stops the run and undoes what the run set;</li>
%% <li>it starts the `beamflame' application if it was not running, and stops it again as
%%   soon as the run is over (when no other run uses it), so a node that had no beamflame
%%   process before has none after, and says nothing in its log about it;</li>
%% <li>it never renders: the result is folded text and the profile's info map, rendered
%%   on the caller's side (the caller asks run/3 for SVG or HTML with `render' when it
%%   has no beamflame of its own);</li>
%% <li>a result nobody fetches is dropped after ?FETCH_WINDOW_MS.</li>
%% </ul>
%% Options and their defaults are the API's (beamflame:sample/1, native/1, capture/3,
%% trace/2): one set for every caller. Errors stay terms for run/3's callers; for the C
%% node every error is `{error, Class, Text}' (wire/1), Class being `bad_argument' (a
%% bad option or function: the command line's exit 2), `not_permitted' (ptrace refused)
%% or `failed', and Text one sentence that names the fix.
-module(beamflame_remote).
-export([start/3, status/1, stop/1, fetch/1, dump/1, peek/2, run/3]).
-export([continuous/2, history/1, continuous_cli/2, history_cli/1]).
-export([session_init/4, hold_app/0, release_app/0, describe/1]).

-define(FETCH_WINDOW_MS, 60000).   % a finished result waits this long for its owner
-define(CALL_TIMEOUT_MS, 10000).   % a request to a session (it answers at once)
-define(RUN_MARGIN_MS, 15000).     % past duration + this, a run is stopped as hung
-define(DUMP_HEAP_WORDS, 8 * 1024 * 1024).  % a dump's heap at most (64 MiB on 64 bits;
                                            % 100k processes measured: 23 MB, more in GC)

-type status() :: {running, ElapsedMs :: non_neg_integer(), Samples :: non_neg_integer()}
                | {done, ElapsedMs :: non_neg_integer(), Samples :: non_neg_integer()}.
-type wire_error() :: {error, bad_argument | not_permitted | failed, binary()}.
-type mode() :: sample | native | capture | call.

%% @doc For the command line: starts a recording on this node for `Owner' (its pid).
%% `Mode' is `sample' (options as beamflame:sample/1), `native' (as beamflame:native/1),
%% `capture': the next `calls' calls of `mfa' (options as beamflame:capture/3; the result
%% is every captured call, each under its process's root frame), or `call': `call =>
%% {M, F, Args}' run here, traced (options as beamflame:trace/2).
-spec start(pid(), mode(), map()) -> {ok, pid()} | wire_error().
start(Owner, Mode, Opts) ->
    wire(open(Owner, Mode, Opts, none)).

%% @doc For Erlang and Elixir callers (beamflame:sample/2 and its siblings, a notebook's
%% plain erpc call): the same recording, waited for. The result is a map `#{folded,
%% truncated, info}' (for `capture' a list of them, one per call; `call' adds `value'),
%% with `svg' and `html' too when the option `render' (a list of `svg' and `html',
%% default []) asks this node to render them, for a caller that has no beamflame.
-spec run(pid(), mode(), map()) -> {ok, map() | [map()]} | {error, term()}.
run(Owner, Mode, Opts) when is_map(Opts) ->
    case formats(maps:get(render, Opts, [])) of
        {ok, Formats} ->
            case open(Owner, Mode, maps:remove(render, Opts), self()) of
                {ok, Session} -> await(Session, Formats);
                {error, _} = E -> E
            end;
        {error, _} = E ->
            E
    end;
run(_Owner, _Mode, Opts) ->
    {error, {bad_option, options, Opts, <<"a map of options">>}}.

formats(L) when is_list(L) ->
    case [F || F <- L, F =/= svg, F =/= html] of
        [] -> {ok, lists:usort(L)};
        _ -> {error, {bad_option, render, L, <<"a list of svg and html">>}}
    end;
formats(L) ->
    {error, {bad_option, render, L, <<"a list of svg and html">>}}.

open(Owner, Mode, Opts, Waiter) when is_pid(Owner), is_map(Opts) ->
    case job(Mode, Opts) of
        {ok, Job, Valid} -> spawn_session(Owner, Waiter, Job, Valid);
        {error, _} = E -> E
    end;
open(_Owner, _Mode, Opts, _Waiter) ->
    {error, {bad_option, options, Opts, <<"a map of options">>}}.

%% The run a mode makes, with its validated options (the API's validators and defaults).
job(sample, Opts0) ->
    case pids(Opts0) of
        {ok, Opts} -> valid(beamflame_sampler, beamflame_sampler:validate(Opts));
        {error, _} = E -> E
    end;
job(native, Opts) ->
    valid(beamflame_native, beamflame_native:validate(Opts));
job(capture, Opts) ->
    MFA = maps:get(mfa, Opts, undefined),
    Calls = maps:get(calls, Opts, 1),
    case capturable(MFA, Calls) of
        ok -> valid({capture, MFA, Calls},
                    beamflame_trace:validate(capture, maps:without([mfa, calls], Opts)));
        {error, _} = E -> E
    end;
job(call, Opts) ->
    case maps:get(call, Opts, undefined) of
        {M, F, A} = Call when is_atom(M), is_atom(F), is_list(A) ->
            valid({call, Call}, beamflame_trace:validate(trace, maps:remove(call, Opts)));
        Other ->
            {error, {bad_argument, Other, <<"call => {Module, Function, Args}">>}}
    end;
job(Mode, _Opts) ->
    {error, {bad_argument, Mode, <<"a mode: sample, native, capture or call">>}}.

valid(Job, {ok, Valid}) -> {ok, Job, Valid};
valid(_Job, {error, _} = E) -> E.

capturable({M, F, A}, Calls) when is_atom(M), is_atom(F), is_integer(A), A >= 0, A =< 255,
                                  is_integer(Calls), Calls >= 1, Calls =< 1000 ->
    traceable(M, F, A);
capturable(MFA, Calls) ->
    {error, {bad_argument, {MFA, Calls},
             <<"mfa => {Module, Function, Arity} and calls => 1..1000">>}}.

%% @doc Always-on profiling for a remote caller: `start' (options as beamflame:continuous/1:
%% the application is started if it was not, and held until `stop'), `stop', `info'.
-spec continuous(start | stop | info, map()) -> ok | map() | {error, term()}.
continuous(start, Opts) ->
    case hold_app() of
        ok ->
            case beamflame_continuous:start(Opts) of
                ok ->
                    application:set_env(beamflame, continuous_held, true),
                    ok;
                {error, _} = E ->
                    release_app(),
                    E
            end;
        {error, Reason} ->
            {error, {cannot_start, Reason}}
    end;
continuous(stop, _Opts) ->
    ok = beamflame_continuous:stop(),
    case application:get_env(beamflame, continuous_held) of
        {ok, true} ->
            application:unset_env(beamflame, continuous_held),
            release_app();
        _ ->
            ok
    end;
continuous(info, _Opts) ->
    beamflame_continuous:info().

%% @doc A window of always-on profiling (as beamflame:history/1), as plain terms:
%% `{ok, #{folded, truncated, info}}'.
-spec history(map()) -> {ok, map()} | {error, term()}.
history(Window) ->
    case beamflame_continuous:history(Window) of
        {ok, P} -> {ok, plain_one(P, [])};
        {error, _} = E -> E
    end.

%% @doc continuous/2 for the command line: errors as `{error, Class, Text}'; info as a
%% list of {Key, Value} with integer or binary values.
-spec continuous_cli(start | stop | info, map()) -> ok | [{atom(), term()}] | wire_error().
continuous_cli(info, Opts) ->
    Info = continuous(info, Opts),
    [{K, cli_value(V)} || {K, V} <- lists:sort(maps:to_list(maps:remove(push, Info)))] ++
        [{list_to_atom("push_" ++ atom_to_list(K)), cli_value(V)}
         || {K, V} <- lists:sort(maps:to_list(maps:get(push, Info, #{})))];
continuous_cli(Verb, Opts) ->
    wire(continuous(Verb, Opts)).

cli_value(V) when is_integer(V); is_binary(V) -> V;
cli_value(V) when is_atom(V) -> atom_to_binary(V, utf8);
cli_value(V) -> text(V).

%% @doc history/1 for the command line: `{ok, Folded, Samples, Stacks, Truncated, Hint}'
%% as fetch/1 answers, or `{error, Class, Text}'.
-spec history_cli(map()) -> tuple().
history_cli(Window) ->
    case beamflame_continuous:history(Window) of
        {ok, P} -> fetched({ok, P});
        {error, _} = E -> wire(E)
    end.

%% @doc `beamflame dump': the stacks of this node's processes, now (options as
%% {@link beamflame_dump:validate/1}; pids may be given as text). A one-shot call: no
%% session, nothing started.
-spec dump(map()) -> {ok, non_neg_integer(), [tuple()]} | wire_error().
dump(Opts0) when is_map(Opts0) ->
    wire(case pids(Opts0) of
             {ok, Opts} ->
                 case beamflame_dump:validate(Opts) of
                     {ok, Valid} -> capped(fun() -> beamflame_dump:dump(Valid) end);
                     {error, _} = E -> E
                 end;
             {error, _} = E ->
                 E
         end).

%% Runs F in a process whose heap may not pass ?DUMP_HEAP_WORDS (64 MiB on 64 bits): a
%% look at a huge node must not be what hurts it. Past the cap the process is killed and
%% the caller told what to narrow.
capped(F) ->
    Self = self(),
    Tag = make_ref(),
    {Pid, Mon} = spawn_opt(fun() -> Self ! {Tag, F()} end,
                           [monitor, {max_heap_size, #{size => ?DUMP_HEAP_WORDS, kill => true,
                                                       error_logger => false}}]),
    receive
        {Tag, Result} ->
            erlang:demonitor(Mon, [flush]),
            Result;
        {'DOWN', Mon, process, Pid, normal} ->
            receive {Tag, Result} -> Result after 0 -> {error, {dump_failed, nothing}} end;
        {'DOWN', Mon, process, Pid, killed} ->
            {error, {too_big, <<"the dump needed more than 64 MiB on the node: select "
                                "processes (--pid, --name) or show fewer (--top)">>}};
        {'DOWN', Mon, process, Pid, Reason} ->
            {error, {dump_failed, Reason}}
    end.

%% The command line gives pids as their text (<0.123.0>): pids of this node.
pids(Opts = #{processes := L}) when is_list(L) ->
    try
        {ok, Opts#{processes := [pid_of(X) || X <- L]}}
    catch
        throw:{bad_pid, Text} ->
            bad_argument(Text, "~ts is not a pid of ~ts (a pid looks like <0.123.0>)",
                         [Text, node()])
    end;
pids(Opts) ->
    {ok, Opts}.

pid_of(Text) when is_binary(Text) ->
    T = binary_to_list(Text),
    try list_to_pid(case T of "<" ++ _ -> T; _ -> "<" ++ T ++ ">" end) of
        P when node(P) =:= node() -> P;
        _ -> throw({bad_pid, Text})
    catch
        error:badarg -> throw({bad_pid, Text})
    end;
pid_of(X) ->
    X.

%% A bad function is a bad argument (the command line's exit 2), said in one sentence
%% naming the fix, before anything is set on the node.
traceable(M, F, A) ->
    Name = io_lib:format("~ts:~ts/~b", [M, F, A]),
    case code:ensure_loaded(M) of
        {module, M} ->
            Arities = [Ar || {Fn, Ar} <- M:module_info(functions), Fn =:= F],
            case {lists:member(A, Arities), Arities} of
                {true, _} -> ok;
                {false, []} ->
                    bad_argument({M, F, A}, "~ts: module ~ts has no function ~ts on ~ts: check the name",
                                 [Name, M, F, node()]);
                {false, _} ->
                    bad_argument({M, F, A}, "~ts: ~ts:~ts has arity ~ts on ~ts, not ~b: check the arity",
                                 [Name, M, F, lists:join(" or ", [integer_to_list(X) || X <- Arities]),
                                  node(), A])
            end;
        {error, Why} ->
            bad_argument({M, F, A}, "~ts: module ~ts cannot be loaded on ~ts (~p): check the name, or that "
                         "the module is on the node's code path", [Name, M, node(), Why])
    end.

bad_argument(What, Format, Args) ->
    {error, {bad_argument, What, unicode:characters_to_binary(io_lib:format(Format, Args))}}.

%% @doc A live look at a sampling run (`beamflame top'): `{ok, Folded, Stats}', the
%% profile so far (cumulative) and the node's state: samples, ticks, missed ticks, run
%% queue, schedulers online, process count, scheduler utilisation since the last peek
%% (0..1000, per mille), and with `Procs' > 0 the busiest processes by reductions since the
%% last peek (as beamflame_dump's rows, plus reductions per second).
-spec peek(pid(), non_neg_integer()) -> {ok, binary(), map(), [tuple()]} | wire_error().
peek(Session, Procs) when is_integer(Procs), Procs >= 0 ->
    wire(request(Session, {peek, Procs})).

%% @doc Where the recording is.
-spec status(pid()) -> status() | wire_error().
status(Session) ->
    wire(request(Session, status)).

%% @doc Ends the recording now; what was recorded so far is kept for {@link fetch/1}.
-spec stop(pid()) -> ok | wire_error().
stop(Session) ->
    wire(request(Session, stop)).

%% @doc The recorded profile as folded text (capped like {@link beamflame:sample/2}'s),
%% once the run is done: `{ok, Folded, Samples, Stacks, Truncated, Hint}', Hint being
%% the profile's hint (see beamflame:info/1) or `<<>>'. Ends the session.
-spec fetch(pid()) -> {ok, binary(), non_neg_integer(), non_neg_integer(), boolean(), binary()}
                          | wire_error().
fetch(Session) ->
    wire(request(Session, fetch)).

request(Session, What) ->
    request(Session, What, ?CALL_TIMEOUT_MS).

request(Session, What0, Timeout) ->
    Mon = erlang:monitor(process, Session),
    {What, Arg} = case What0 of {W, A} -> {W, A}; W -> {W, none} end,
    Session ! {What, self(), Mon, Arg},
    receive
        {Mon, Reply} ->
            erlang:demonitor(Mon, [flush]),
            Reply;
        {'DOWN', Mon, process, _, Reason} ->
            {error, {session_gone, Reason}}
    after Timeout ->
        erlang:demonitor(Mon, [flush]),
        {error, {timeout, <<"the session did not answer within 10 s">>}}
    end.

%% run/3's wait: the session answers once the run is over (it monitors this process:
%% if it goes, so does the run).
await(Session, Formats) ->
    request(Session, {await, Formats}, infinity).

spawn_session(Owner, Waiter, Job, Opts) ->
    Self = self(),
    Tag = make_ref(),
    {Pid, Mon} = spawn_monitor(?MODULE, session_init, [Self, Tag, {Owner, Waiter}, {Job, Opts}]),
    receive
        {Tag, ok} -> erlang:demonitor(Mon, [flush]), {ok, Pid};
        {Tag, {error, _} = E} -> erlang:demonitor(Mon, [flush]), E;
        {'DOWN', Mon, process, Pid, Reason} -> {error, {session_failed, Reason}}
    end.

%%% The session process --------------------------------------------------------------------

-record(ss, {owner :: reference(),
             waiter :: reference() | none,    % run/3's waiting process
             await = none :: none | {pid(), reference(), [svg | html]},
             job :: term(),
             run :: pid() | undefined,
             run_mon :: reference() | undefined,
             ref :: reference(),
             held :: boolean(),                % the application, until the run is over
             result = none :: none | {ok, term()} | {error, term()},
             deadline :: integer()}).   % monotonic ms: past it the session gives up

-spec session_init(pid(), reference(), {pid(), pid() | none}, {term(), map()}) -> ok.
session_init(Parent, Tag, {Owner, Waiter}, {Job, Opts}) ->
    OwnerMon = erlang:monitor(process, Owner),
    WaiterMon = case Waiter of none -> none; _ -> erlang:monitor(process, Waiter) end,
    case hold_app() of
        ok ->
            Ref = make_ref(),
            case start_run(Job, Opts, Ref) of
                {ok, Run} ->
                    Parent ! {Tag, ok},
                    session(#ss{owner = OwnerMon, waiter = WaiterMon, job = Job, run = Run,
                                ref = Ref, run_mon = erlang:monitor(process, Run),
                                held = true,
                                deadline = now_ms() + limit(Job, Opts) + ?RUN_MARGIN_MS});
                {error, Reason} ->
                    release_app(),
                    Parent ! {Tag, {error, Reason}}
            end;
        {error, Reason} ->
            Parent ! {Tag, {error, {cannot_start, Reason}}}
    end.

limit({capture, _, _}, #{timeout := T}) -> T;
limit({call, _}, #{timeout := T}) -> T;
limit(_, #{duration := D}) -> D.

%% A run answers {Ref, Result} when it ends (the sampler on its own; a capture guard
%% once asked with {finish, Self, Ref}; a call's worker when the call returns); `finish'
%% ends a sampler or a capture early; {progress, ...} tells elapsed ms and samples (or
%% calls captured).
start_run({capture, _, _} = Job, Opts, Ref) ->
    case beamflame_sup:start_run(beamflame_trace, start_link, [Job, self(), Opts]) of
        {ok, Guard, _Session} -> Guard ! {finish, self(), Ref}, {ok, Guard};
        {error, _} = E -> E
    end;
start_run({call, Call}, Opts, Ref) ->
    Self = self(),
    {ok, spawn(fun() -> Self ! {Ref, traced_call(Call, Opts)} end)};
start_run(Mod, Opts, Ref) ->
    case beamflame_sup:start_run(Mod, start_link, [Opts, self(), Ref]) of
        {ok, Run} -> {ok, Run};
        {error, _} = E -> E
    end.

%% The call runs in the worker, traced (its own guard undoes the tracing when the worker
%% goes, by any path); its exception comes back as an error.
traced_call(Call, Opts) ->
    try beamflame_trace:trace(Call, Opts#{spawn => false})
    catch Class:Reason:Stack -> {error, {raised, Class, Reason, Stack}}
    end.

session(S = #ss{owner = OwnerMon, waiter = WaiterMon, run = Run, run_mon = RunMon,
                ref = Ref}) ->
    Timeout = max(0, S#ss.deadline - now_ms()),
    receive
        {'DOWN', OwnerMon, process, _, _} ->
            %% the owner died or its connection dropped: nobody wants the result
            end_run(S);
        {'DOWN', WaiterMon, process, _, _} ->
            end_run(S);
        {Ref, Result} ->
            %% the run exits right after answering: wait for it, so that the release
            %% below sees no run left (else the application would stay)
            receive {'DOWN', RunMon, process, Run, _} -> ok after 5000 -> ok end,
            erlang:demonitor(RunMon, [flush]),
            done(S#ss{run = undefined, run_mon = undefined, result = outcome(Result)});
        {'DOWN', RunMon, process, Run, Reason} ->
            done(S#ss{run = undefined, run_mon = undefined,
                      result = {error, {run_failed, Reason}}});
        {status, From, Tag, _} ->
            From ! {Tag, status_of(S)},
            session(S);
        {peek, From, Tag, Procs} ->
            {Reply, S1} = peek_run(S, Procs),
            From ! {Tag, Reply},
            session(S1);
        {stop, From, Tag, _} ->
            _ = is_pid(Run) andalso (Run ! finish),
            From ! {Tag, ok},
            session(S);
        {fetch, From, Tag, _} when S#ss.result =/= none ->
            From ! {Tag, fetched(S#ss.result)};
        {fetch, From, Tag, _} ->
            From ! {Tag, {error, {running, <<"the recording is still running: stop it or "
                                             "wait">>}}},
            session(S);
        {await, From, Tag, Formats} ->
            answer_await(S#ss{await = {From, Tag, Formats}})
    after Timeout ->
        end_run(S)
    end.

%% The run is over: the application is released (stopped if this was the last run a
%% remote caller started it for); the result waits for its fetch or its waiter.
done(S = #ss{held = Held}) ->
    _ = Held andalso release_app(),
    answer_await(S#ss{held = false, deadline = now_ms() + ?FETCH_WINDOW_MS}).

answer_await(S = #ss{await = {From, Tag, Formats}, result = Result}) when Result =/= none ->
    From ! {Tag, plain(Result, S#ss.job, Formats)};
answer_await(S) ->
    session(S).

outcome({ok, V, P}) -> {ok, {V, P}};   % a call: its value and its profile
outcome({ok, P}) -> {ok, P};           % a profile, or a capture's list of them
outcome({error, _} = E) -> E.

%% A peek asks the run for its profile so far, and reads the node's state; scheduler
%% utilisation needs scheduler_wall_time, which this session turns on (it goes off with
%% the session: the flag is counted per process).
peek_run(S = #ss{run = Run, result = none}, Procs) when is_pid(Run) ->
    Tag = make_ref(),
    Run ! {peek, self(), Tag},
    receive
        {Tag, {Folded, Stats}} ->
            {Util, S1} = utilisation(S),
            {Busiest, S2} = busiest(S1, Procs),
            Node = #{run_queue => erlang:statistics(run_queue),
                     schedulers => erlang:system_info(schedulers_online),
                     process_count => erlang:system_info(process_count),
                     utilisation => Util, otp_release => list_to_binary(
                                                          erlang:system_info(otp_release))},
            {{ok, Folded, maps:merge(Stats, Node), Busiest}, S2}
    after 5000 ->
        {{failed, <<"the run did not answer a peek within 5 s">>}, S}
    end;
peek_run(S, _Procs) ->
    {{failed, <<"the run is over">>}, S}.

utilisation(S = #ss{}) ->
    _ = erlang:system_flag(scheduler_wall_time, true),
    Now = lists:sort(erlang:statistics(scheduler_wall_time)),
    Prev = case get(beamflame_swt) of undefined -> Now; P -> P end,
    put(beamflame_swt, Now),
    {Active, Total} = lists:foldl(
                        fun({{I, A1, T1}, {I, A0, T0}}, {A, T}) -> {A + A1 - A0, T + T1 - T0};
                           (_, Acc) -> Acc
                        end, {0, 0}, lists:zip(lists:sublist(Now, length(Prev)), Prev)),
    {case Total of 0 -> 0; _ -> 1000 * Active div Total end, S}.

busiest(S, 0) ->
    {[], S};
busiest(S, N) ->
    Prev = case get(beamflame_reds) of undefined -> #{}; P -> P end,
    {Rows, Now} = beamflame_dump:busiest(Prev, N),
    put(beamflame_reds, Now),
    {Rows, S}.

status_of(#ss{run = Run, result = none}) when is_pid(Run) ->
    Tag = make_ref(),
    Run ! {progress, self(), Tag},
    receive
        {Tag, #{elapsed_ms := E, samples := N}} -> {running, E, N}
    after 1000 ->
        {running, 0, 0}
    end;
status_of(#ss{result = {ok, Result}}) ->
    Info = beamflame:info(one(Result)),
    {done, maps:get(duration_ms, Info, 0), samples(Info)};
status_of(#ss{result = {error, _} = E}) ->
    E.

%% What the command line fetches: one profile (captured calls merged, each rooted at its
%% process).
one({_Value, P}) -> P;
one(Ps) when is_list(Ps) -> {ok, P} = merge(Ps), P;
one(P) -> P.

merge([]) ->
    {error, {no_calls, <<"no call of the function began within the time given">>}};
merge(Ps) ->
    case beamflame:read_folded([beamflame:folded(P) || P <- Ps]) of
        {ok, P, _} -> {ok, P};
        {error, _} = E -> E
    end.

%% Native profiles are read back from the port program's folded text: their samples are
%% its thread samples.
samples(#{merged_samples := N}) ->
    N;   % a window of always-on profiling
samples(Info) ->
    maps:get(thread_samples, Info, maps:get(samples, Info, 0)).

fetched({ok, Ps}) when is_list(Ps) ->
    case merge(Ps) of
        {ok, P} -> fetched({ok, P});
        {error, _} = E -> E
    end;
fetched({ok, {_Value, P}}) ->
    fetched({ok, P});
fetched({ok, P}) ->
    Info = #{stacks := Stacks} = beamflame:info(P),
    N = samples(Info),
    {Folded, Truncated} = beamflame:cap_folded(beamflame:folded(P)),
    %% an empty profile's hint is why it is empty
    Hint = case Stacks of
               0 -> maps:get(empty_reason, Info, <<>>);
               _ -> maps:get(hint, Info, <<>>)
           end,
    {ok, Folded, N, Stacks, Truncated, Hint};
fetched({error, _} = E) ->
    E.

%% What run/3 answers: plain terms that cross nodes (a profile handle does not).
plain({ok, Ps}, {capture, _, _}, Formats) ->
    {ok, [plain_one(P, Formats) || P <- Ps]};
plain({ok, {Value, P}}, {call, _}, Formats) ->
    {ok, (plain_one(P, Formats))#{value => Value}};
plain({ok, P}, _Job, Formats) ->
    {ok, plain_one(P, Formats)};
plain({error, _} = E, _Job, _Formats) ->
    E.

plain_one(P, Formats) ->
    {Folded, Truncated} = beamflame:cap_folded(beamflame:folded(P)),
    Title = "beamflame: " ++ atom_to_list(node()),
    maps:merge(#{folded => Folded, truncated => Truncated, info => beamflame:info(P)},
               maps:from_list([{F, beamflame:F(P, #{title => Title})} || F <- Formats])).

%% The run monitors this process as its caller: exiting is enough to stop it, but the
%% application must only be released once the run has undone its changes.
end_run(S = #ss{run = Run, run_mon = RunMon, held = Held}) ->
    case is_pid(Run) of
        true -> exit(Run, kill_if_stuck(S#ss.job, Run, RunMon));
        false -> ok
    end,
    _ = Held andalso release_app(),
    ok.

%% Asks the run to stop (it cleans up on its supervisor's shutdown path, like on any
%% exit of its parent); waits for it to go, killing it if it hangs. A traced call cannot
%% be asked: its worker is killed (its guard then undoes the tracing).
kill_if_stuck({call, _}, Run, RunMon) ->
    exit(Run, kill),
    receive {'DOWN', RunMon, process, Run, _} -> kill after 5000 -> kill end;
kill_if_stuck(_Job, Run, RunMon) ->
    Run ! finish,
    receive
        {'DOWN', RunMon, process, Run, _} -> normal
    after 5000 ->
        kill
    end.

%% @doc For a remote caller's run (the command line's sessions, the erpc entry points of
%% beamflame): starts the application if it is not running (noting that a remote run
%% started it: application env `started_remotely') and counts the run as a holder. Holds
%% and releases are serialized (a lock on this node), so a release never stops the
%% application under a run that has just held it.
-spec hold_app() -> ok | {error, term()}.
hold_app() ->
    locked(fun() ->
                   Running = lists:keymember(beamflame, 1, application:which_applications()),
                   case application:ensure_all_started(beamflame) of
                       {ok, _} ->
                           Running orelse application:set_env(beamflame, started_remotely, true),
                           application:set_env(beamflame, remote_holders, holders() + 1);
                       {error, _} = E ->
                           E
                   end
           end).

%% @doc The end of a remote caller's run: the last holder stops the application if a
%% remote run started it, once no run is left under its supervisor (a run stopped by its
%% caller's death takes a moment to undo what it set: up to 10 s are waited for), so that
%% a node that had no beamflame process before has none after. A run someone started on
%% the node itself keeps the application running.
-spec release_app() -> ok.
release_app() ->
    locked(fun() ->
                   Left = max(0, holders() - 1),
                   application:set_env(beamflame, remote_holders, Left),
                   case {Left, application:get_env(beamflame, started_remotely)} of
                       {0, {ok, true}} ->
                           case idle(200) of
                               true ->
                                   quiet_stop(),
                                   application:unset_env(beamflame, started_remotely);
                               false ->
                                   ok
                           end;
                       _ ->
                           ok
                   end
           end).

idle(0) ->
    runs_left() =:= 0;
idle(N) ->
    runs_left() =:= 0 orelse (timer:sleep(50) =:= ok andalso idle(N - 1)).

%% Stops the application without the notice application_controller logs for it ("exited:
%% stopped"): one line in the target's log per remote run is noise on a production node.
%% The filter drops that report for beamflame only, and only while the stop is done.
quiet_stop() ->
    Quiet = fun(#{msg := {report, #{label := {application_controller, exit},
                                    report := Report}}}, _) when is_list(Report) ->
                    case lists:keyfind(application, 1, Report) of
                        {application, beamflame} -> stop;
                        _ -> ignore
                    end;
               (_, _) ->
                    ignore
            end,
    Added = logger:add_primary_filter(beamflame_quiet_stop, {Quiet, []}),
    try application:stop(beamflame) of
        _ -> ok
    after
        _ = Added =:= ok andalso logger:remove_primary_filter(beamflame_quiet_stop)
    end.

holders() ->
    application:get_env(beamflame, remote_holders, 0).

locked(F) ->
    global:trans({beamflame_application, self()}, F, [node()], infinity).

%% Runs under the supervisor (beamflame_flags aside); 0 when it is not running.
runs_left() ->
    case try supervisor:count_children(beamflame_sup) catch exit:_ -> none end of
        L when is_list(L) -> max(0, proplists:get_value(workers, L, 0) - 1);
        _ -> 0
    end.

now_ms() ->
    erlang:monotonic_time(millisecond).

text(Bin) when is_binary(Bin) -> Bin;
text(Term) -> unicode:characters_to_binary(io_lib:format("~0tp", [Term])).

%% The C node's shape of an error: {error, Class, Text}; anything else passes.
wire({error, Reason}) ->
    {Class, Text} = describe(Reason),
    {error, Class, Text};
wire(Other) ->
    Other.

%% @doc An error as the command line shows it: its class (`bad_argument': the caller's
%% input, exit 2; `not_permitted': ptrace refused; `failed': anything else) and one
%% sentence.
-spec describe(term()) -> {bad_argument | not_permitted | failed, binary()}.
describe({bad_option, Key, Value, Expected}) ->
    {bad_argument, unicode:characters_to_binary(
                     io_lib:format("option ~ts: ~ts expected, got ~0tp", [Key, Expected, Value]))};
describe({bad_argument, _What, Text}) when is_binary(Text) ->
    {bad_argument, Text};
describe({bad_argument, What, Text}) ->
    {bad_argument, unicode:characters_to_binary(io_lib:format("~ts (got ~0tp)", [Text, What]))};
describe({too_big, Text}) ->
    {bad_argument, Text};
describe({ptrace_not_permitted, Why}) ->
    {not_permitted, text(Why)};
describe({cannot_start, {ptrace_not_permitted, Why}}) ->
    {not_permitted, text(Why)};
describe({_Kind, Text}) when is_binary(Text) ->
    {failed, Text};
describe(Reason) ->
    {failed, text(Reason)}.
