%% @doc Sessions for owners that cannot wait in a receive: the `beamflame' command line
%% (an ei C node) starts a recording, polls it, may stop it early (Ctrl-C), and fetches
%% the result, each step a short remote call. The session is a process on the target that
%% owns the run:
%% <ul>
%% <li>it monitors the owner (the C node's pid): when the owner dies or its connection
%%   drops (`kill -9' of the command line), the session ends, which stops the run and
%%   undoes what the run set;</li>
%% <li>it starts the `beamflame' application if it was not running, and stops it again as
%%   soon as the run is over (when no other run uses it), so a node that had no beamflame
%%   process before has none after;</li>
%% <li>a result nobody fetches is dropped after ?FETCH_WINDOW_MS.</li>
%% </ul>
%% Every reply is a plain term of atoms, integers and binaries, easy to decode in C.
-module(beamflame_remote).
-export([start/3, status/1, stop/1, fetch/1, dump/1, peek/2]).
-export([session_init/4, hold_app/0, release_app/0, release_app_when_idle/0]).

-define(FETCH_WINDOW_MS, 60000).   % a finished result waits this long for its owner
-define(CALL_TIMEOUT_MS, 10000).   % a request to a session (it answers at once)
-define(RUN_MARGIN_MS, 15000).     % past duration + this, a run is stopped as hung
-define(DUMP_HEAP_WORDS, 8 * 1024 * 1024).  % a dump's heap at most (64 MiB on 64 bits;
                                            % 100k processes measured: 23 MB, more in GC)

-type status() :: {running, ElapsedMs :: non_neg_integer(), Samples :: non_neg_integer()}
                | {done, ElapsedMs :: non_neg_integer(), Samples :: non_neg_integer()}
                | {failed, binary()}.

%% @doc Starts a recording on this node for `Owner'. `Mode' is `sample' (options as
%% {@link beamflame:sample/1}), `native' (options as {@link beamflame:native/1}) or `trace': the next `calls' calls of `mfa' (options as
%% {@link beamflame:capture/3}, `duration' being how long to wait for them); the result
%% is every captured call, each under its process's root frame.
-spec start(pid(), sample | native | trace, map()) ->
          {ok, pid()} | {error, binary() | {bad_argument, binary()}}.
start(Owner, sample, Opts0) when is_pid(Owner) ->
    case pids(Opts0) of
        {ok, Opts} ->
            case beamflame_sampler:validate(Opts) of
                {ok, Valid} -> spawn_session(Owner, beamflame_sampler, Valid);
                {error, {bad_option, _, _} = Reason} -> {error, {bad_argument, text(Reason)}}
            end;
        {error, _} = E ->
            E
    end;
start(Owner, trace, Opts0) when is_pid(Owner), is_map(Opts0) ->
    {MFA, Calls, Opts} = {maps:get(mfa, Opts0, undefined), maps:get(calls, Opts0, 1),
                          maps:without([mfa, calls, duration], Opts0)},
    Timeout = maps:get(duration, Opts0, 10000),
    case {MFA, beamflame_trace:validate(capture, Opts#{timeout => Timeout})} of
        {{M, F, A}, {ok, Valid}} when is_atom(M), is_atom(F), is_integer(A), is_integer(Calls),
                                      Calls >= 1, Calls =< 1000 ->
            case traceable(M, F, A) of
                ok -> spawn_session(Owner, {capture, MFA, Calls}, Valid#{duration => Timeout});
                {error, _} = E -> E
            end;
        {_, {error, Reason}} ->
            {error, text(Reason)};
        _ ->
            {error, <<"trace needs mfa => {Module, Function, Arity} and calls => 1..1000">>}
    end;
start(Owner, native, Opts) when is_pid(Owner) ->
    case beamflame_native:validate(Opts) of
        {ok, Valid} -> spawn_session(Owner, beamflame_native, Valid);
        {error, {bad_option, _, _} = Reason} -> {error, {bad_argument, text(Reason)}}
    end;
start(_Owner, Mode, _Opts) ->
    {error, text({unsupported_mode, Mode})}.

%% @doc `beamflame dump': the stacks of this node's processes, now (options as
%% {@link beamflame_dump:validate/1}; pids may be given as text). A one-shot call: no
%% session, nothing started.
-spec dump(map()) -> {ok, non_neg_integer(), [tuple()]} | {error, {bad_argument, binary()}}.
dump(Opts0) when is_map(Opts0) ->
    case pids(Opts0) of
        {ok, Opts} ->
            case beamflame_dump:validate(Opts) of
                {ok, Valid} -> capped(fun() -> beamflame_dump:dump(Valid) end);
                {error, Reason} -> {error, {bad_argument, text(Reason)}}
            end;
        {error, _} = E ->
            E
    end.

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
            receive {Tag, Result} -> Result after 0 -> {error, <<"the dump gave nothing">>} end;
        {'DOWN', Mon, process, Pid, killed} ->
            {error, {bad_argument, <<"the dump needed more than 64 MiB on the node: select "
                                     "processes (--pid, --name) or show fewer (--top)">>}};
        {'DOWN', Mon, process, Pid, Reason} ->
            {error, text({dump_failed, Reason})}
    end.

%% The command line gives pids as their text (<0.123.0>): pids of this node.
pids(Opts = #{processes := L}) when is_list(L) ->
    try
        {ok, Opts#{processes := [pid_of(X) || X <- L]}}
    catch
        throw:{bad_pid, Text} ->
            bad_argument("~ts is not a pid of ~ts (a pid looks like <0.123.0>)", [Text, node()])
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
                    bad_argument("~ts: module ~ts has no function ~ts on ~ts: check the name",
                                 [Name, M, F, node()]);
                {false, _} ->
                    bad_argument("~ts: ~ts:~ts has arity ~ts on ~ts, not ~b: check the arity",
                                 [Name, M, F, lists:join(" or ", [integer_to_list(X) || X <- Arities]),
                                  node(), A])
            end;
        {error, Why} ->
            bad_argument("~ts: module ~ts cannot be loaded on ~ts (~p): check the name, or that "
                         "the module is on the node's code path", [Name, M, node(), Why])
    end.

bad_argument(Format, Args) ->
    {error, {bad_argument, unicode:characters_to_binary(io_lib:format(Format, Args))}}.

%% @doc A live look at a sampling run (`beamflame top'): `{ok, Folded, Stats}', the
%% profile so far (cumulative) and the node's state: samples, ticks, missed ticks, run
%% queue, schedulers online, process count, scheduler utilisation since the last peek
%% (0..1000, per mille), and with `Procs' > 0 the busiest processes by reductions since the
%% last peek (as beamflame_dump's rows, plus reductions per second).
-spec peek(pid(), non_neg_integer()) -> {ok, binary(), map(), [tuple()]} | {failed, binary()}.
peek(Session, Procs) when is_integer(Procs), Procs >= 0 ->
    request(Session, {peek, Procs}).

%% @doc Where the recording is.
-spec status(pid()) -> status().
status(Session) ->
    request(Session, status).

%% @doc Ends the recording now; what was recorded so far is kept for {@link fetch/1}.
-spec stop(pid()) -> ok | {failed, binary()}.
stop(Session) ->
    request(Session, stop).

%% @doc The recorded profile as folded text (capped like {@link beamflame:sample/2}'s),
%% once the run is done: `{ok, Folded, Samples, Stacks, Truncated, Hint}', Hint being
%% the profile's hint (see beamflame:info/1) or `<<>>'. Ends the session.
-spec fetch(pid()) -> {ok, binary(), non_neg_integer(), non_neg_integer(), boolean(), binary()}
                          | {failed, binary()}.
fetch(Session) ->
    request(Session, fetch).

request(Session, What0) ->
    Mon = erlang:monitor(process, Session),
    {What, Arg} = case What0 of {W, A} -> {W, A}; W -> {W, none} end,
    Session ! {What, self(), Mon, Arg},
    receive
        {Mon, Reply} ->
            erlang:demonitor(Mon, [flush]),
            Reply;
        {'DOWN', Mon, process, _, Reason} ->
            {failed, text({session_gone, Reason})}
    after ?CALL_TIMEOUT_MS ->
        erlang:demonitor(Mon, [flush]),
        {failed, <<"the session did not answer within 10 s">>}
    end.

spawn_session(Owner, Mod, Opts) ->
    Self = self(),
    Tag = make_ref(),
    {Pid, Mon} = spawn_monitor(?MODULE, session_init, [Self, Tag, Owner, {Mod, Opts}]),
    receive
        {Tag, ok} -> erlang:demonitor(Mon, [flush]), {ok, Pid};
        {Tag, {error, Reason}} -> erlang:demonitor(Mon, [flush]), {error, text(Reason)};
        {'DOWN', Mon, process, Pid, Reason} -> {error, text({session_failed, Reason})}
    end.

%%% The session process --------------------------------------------------------------------

-record(ss, {owner :: reference(),
             run :: pid() | undefined,
             run_mon :: reference() | undefined,
             ref :: reference(),
             stop_app :: boolean(),
             result = none :: none | {ok, reference()} | {failed, binary()},
             deadline :: integer()}).   % monotonic ms: past it the session gives up

-spec session_init(pid(), reference(), pid(), {module() | tuple(), map()}) -> ok.
session_init(Parent, Tag, Owner, {What, Opts = #{duration := Duration}}) ->
    OwnerMon = erlang:monitor(process, Owner),
    case hold_app() of
        ok ->
            Ref = make_ref(),
            case start_run(What, Opts, Ref) of
                {ok, Run} ->
                    Parent ! {Tag, ok},
                    session(#ss{owner = OwnerMon, run = Run, ref = Ref,
                                run_mon = erlang:monitor(process, Run),
                                stop_app = true,
                                deadline = now_ms() + Duration + ?RUN_MARGIN_MS});
                {error, Reason} ->
                    release_app(),
                    Parent ! {Tag, {error, {cannot_start, Reason}}}
            end;
        {error, Reason} ->
            Parent ! {Tag, {error, {cannot_start, Reason}}}
    end.

%% A run answers {Ref, {ok, Profile}} when it ends (the sampler on its own; a capture
%% guard once asked with {finish, Self, Ref}); `finish' ends it early; {progress, ...}
%% tells elapsed ms and samples (or calls captured).
start_run({capture, _, _} = Job, Opts, Ref) ->
    case beamflame_sup:start_run(beamflame_trace, start_link, [Job, self(), Opts]) of
        {ok, Guard, _Session} -> Guard ! {finish, self(), Ref}, {ok, Guard};
        {error, _} = E -> E
    end;
start_run(Mod, Opts, Ref) ->
    case beamflame_sup:start_run(Mod, start_link, [Opts, self(), Ref]) of
        {ok, Run} -> {ok, Run};
        {error, _} = E -> E
    end.

session(S = #ss{owner = OwnerMon, run = Run, run_mon = RunMon, ref = Ref}) ->
    Timeout = max(0, S#ss.deadline - now_ms()),
    receive
        {'DOWN', OwnerMon, process, _, _} ->
            %% the owner died or its connection dropped: nobody wants the result
            end_run(S),
            ok;
        {Ref, Result} ->
            %% the run exits right after answering: wait for it, so that stopping the
            %% application below sees no run left (else the application would stay)
            receive {'DOWN', RunMon, process, Run, _} -> ok after 5000 -> ok end,
            erlang:demonitor(RunMon, [flush]),
            S1 = S#ss{run = undefined, run_mon = undefined,
                      result = case Result of
                                   {ok, Ps} when is_list(Ps) -> merge(Ps);
                                   {ok, P} -> {ok, P};
                                   {error, R} -> {failed, text(R)}
                               end,
                      deadline = now_ms() + ?FETCH_WINDOW_MS},
            stop_app(S#ss.stop_app),
            session(S1#ss{stop_app = false});
        {'DOWN', RunMon, process, Run, Reason} ->
            stop_app(S#ss.stop_app),
            session(S#ss{run = undefined, run_mon = undefined, stop_app = false,
                         result = {failed, text({run_failed, Reason})},
                         deadline = now_ms() + ?FETCH_WINDOW_MS});
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
            From ! {Tag, fetched(S#ss.result)},
            ok;
        {fetch, From, Tag, _} ->
            From ! {Tag, {failed, <<"the recording is still running: stop it or wait">>}},
            session(S)
    after Timeout ->
        end_run(S),
        ok
    end.

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
status_of(#ss{result = {ok, P}}) ->
    Info = beamflame:info(P),
    {done, maps:get(duration_ms, Info, 0), samples(Info)};
status_of(#ss{result = {failed, _} = F}) ->
    F.

%% Captured calls, one profile each, as one (each call is rooted at its process).
merge([]) ->
    {failed, <<"no call of the function began within the duration">>};
merge(Ps) ->
    case beamflame:read_folded([beamflame:folded(P) || P <- Ps]) of
        {ok, P, _} -> {ok, P};
        {error, R} -> {failed, text(R)}
    end.

%% Native profiles are read back from the port program's folded text: their samples are
%% its thread samples.
samples(Info) ->
    maps:get(thread_samples, Info, maps:get(samples, Info, 0)).

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
fetched({failed, _} = F) ->
    F.

%% The run monitors this process as its caller: exiting is enough to stop it, but the
%% application must only be stopped once the run has undone its changes.
end_run(#ss{run = Run, run_mon = RunMon, stop_app = StopApp}) ->
    case is_pid(Run) of
        true ->
            exit(Run, kill_if_stuck(Run, RunMon));
        false ->
            ok
    end,
    stop_app(StopApp).

%% Asks the run to stop (it cleans up on its supervisor's shutdown path, like on any
%% exit of its parent); waits for it to go, killing it if it hangs.
kill_if_stuck(Run, RunMon) ->
    Run ! finish,
    receive
        {'DOWN', RunMon, process, Run, _} -> normal
    after 5000 ->
        kill
    end.

stop_app(false) ->
    ok;
stop_app(true) ->
    release_app().

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
%% remote run started it and no run is left under its supervisor (only beamflame_flags),
%% so that a node that had no beamflame process before has none after.
-spec release_app() -> ok.
release_app() ->
    locked(fun() ->
                   Left = max(0, holders() - 1),
                   application:set_env(beamflame, remote_holders, Left),
                   case {Left, application:get_env(beamflame, started_remotely), runs_left()} of
                       {0, {ok, true}, 0} ->
                           quiet_stop(),
                           application:unset_env(beamflame, started_remotely);
                       _ ->
                           ok
                   end
           end).

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

%% @doc release_app/0 once the runs have ended (a run stops on its caller's death, and
%% takes a moment to undo what it set): waits up to 10 s for them, then releases.
-spec release_app_when_idle() -> ok.
release_app_when_idle() ->
    release_app_when_idle(200).

release_app_when_idle(0) ->
    release_app();
release_app_when_idle(N) ->
    case runs_left() of
        0 -> release_app();
        _ -> timer:sleep(50), release_app_when_idle(N - 1)
    end.

now_ms() ->
    erlang:monotonic_time(millisecond).

text(Bin) when is_binary(Bin) -> Bin;
text(Term) -> unicode:characters_to_binary(io_lib:format("~0tp", [Term])).
