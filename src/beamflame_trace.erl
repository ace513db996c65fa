%% @doc Trace mode: exact, time-weighted call stacks through a NIF tracer (erl_tracer).
%%
%% What it sets on the node, and who undoes it:
%% <ul>
%% <li><b>trace patterns</b> `{M, '_', '_'}' with `[local]' and the match spec
%%   `[{'_', [], [{message, {caller}}]}]' (the caller lets the tracer pop tail calls) on
%%   every loaded module (or the `modules' given), except beamflame's own and any module
%%   that already has a pattern someone else set (left alone, listed in the result's
%%   info). A process without call tracing pays ~30 ns per call of such code while they
%%   are set, so they go as soon as the run ends.</li>
%% <li><b>trace flags</b> `call', `arity', `return_to' (+ `set_on_spawn' and `procs' with
%%   `follow'), with the tracer `{beamflame_nif, Session}', on the traced process only;
%%   a process that already has a tracer (dbg, recon_trace...) is refused.</li>
%% <li>for {@link capture/3}, a <b>meta pattern</b> on the function: its match spec turns
%%   call tracing on for the process that calls it; removed once enough calls began.</li>
%% </ul>
%% All of it belongs to a guard process (a temporary child of `beamflame_sup') that
%% monitors the caller: on success, exception, timeout, event limit (the NIF stops itself
%% and tells the guard) and caller death, the guard removes exactly the flags and
%% patterns it set. Memory: the stacks live in C, bounded by the caps; events are never
%% queued anywhere.
%%
%% Descheduled time (eflambe's `sleep' frame) needs the `running' trace flag, which can
%% crash OTP before 25.3 when the traced process runs dirty work while the tracer is
%% removed (erlang/otp#6448). So `sleep' defaults to on from OTP 25.3 and is refused
%% before; without it, time a process spends waiting is wall time of the function it
%% waits in.
-module(beamflame_trace).
-export([validate/2, trace/2, capture/3, trace_process/2]).
-export([start_link/3, guard_init/4, janitor_init/3]).

-define(CALLER_MS, [{'_', [], [{message, {caller}}]}]).
-define(BASE_FLAGS, [call, arity, return_to]).

-type opts() :: #{spawn => boolean(), follow => boolean(), modules => all | [module()],
                  max_events => pos_integer(), timeout => pos_integer(),
                  duration => pos_integer(), sleep => auto | boolean(),
                  names => beamflame | eflambe, weight => time | calls,
                  max_stacks => pos_integer(),
                  max_depth => pos_integer(), max_bytes => pos_integer(),
                  max_procs => pos_integer(),
                  recursion => fold | keep,         % default fold
                  tail_calls => drop | keep,        % default drop
                  %% set by this module, not by callers
                  kind => trace | capture | process, owner => pid()}.
-export_type([opts/0]).

%% @doc Validates options for `Kind' (trace, capture, process: each has its table in
%% beamflame_options); errors name what is expected.
-spec validate(trace | capture | process, term()) -> {ok, opts()} | {error, term()}.
validate(Kind, Opts) ->
    case beamflame_options:validate(Kind, Opts) of
        {ok, Valid} ->
            try
                {ok, maps:merge(#{spawn => false},   % only trace/2 takes it
                                Valid#{sleep := sleep(maps:get(sleep, Valid)), kind => Kind})}
            catch
                throw:{bad_option, _, _, _} = E -> {error, E}
            end;
        {error, _} = E ->
            E
    end.

%% auto: on where it is safe. true where it is not: refused with the reason.
sleep(auto) -> running_is_safe();
sleep(false) -> false;
sleep(true) ->
    case running_is_safe() of
        true -> true;
        false -> throw({bad_option, sleep, true,
                        unicode:characters_to_binary(
                          "false or auto: OTP " ++ otp_version() ++ " can crash when a NIF "
                          "tracer with the running flag is removed from a process doing dirty "
                          "work (erlang/otp#6448, fixed in 25.3)")})
    end.

running_is_safe() ->
    case [list_to_integer(X) || X <- string:lexemes(otp_version(), "."), X =/= ""] of
        [Major | _] when Major >= 26 -> true;
        [25, Minor | _] -> Minor >= 3;
        _ -> false
    end.

otp_version() ->
    File = filename:join([code:root_dir(), "releases", erlang:system_info(otp_release),
                          "OTP_VERSION"]),
    case file:read_file(File) of
        {ok, V} -> string:trim(binary_to_list(V));
        _ -> erlang:system_info(otp_release)
    end.

%%% The three entry points (validated options) ------------------------------------------

%% @doc Runs `Call' (a fun of arity 0 or `{M, F, Args}') traced; see beamflame:trace/2.
-spec trace(fun(() -> term()) | {module(), atom(), list()}, opts()) ->
          {ok, term(), reference()} | {error, term()}.
trace(Call, Opts = #{spawn := false}) ->
    preload(Call),
    Self = self(),
    case start_guard({call, Self}, Opts) of
        {ok, Guard, S} ->
            run_traced(Call, Guard, S);
        {error, _} = E ->
            E
    end;
trace(Call, Opts = #{spawn := true}) ->
    preload(Call),
    Self = self(),
    Tag = make_ref(),
    {Worker, Mon} = spawn_monitor(fun() -> worker(Self, Tag, Call) end),
    case start_guard({call, Worker}, Opts#{owner => Self}) of
        {ok, Guard, S} ->
            Worker ! {Tag, go, Guard, S},
            receive
                {Tag, Result} ->
                    erlang:demonitor(Mon, [flush]),
                    case Result of
                        {raise, C, R, St} -> erlang:raise(C, R, St);
                        _ -> Result
                    end;
                {'DOWN', Mon, process, Worker, Reason} ->
                    {error, {traced_process_died, Reason}}
            end;
        {error, _} = E ->
            exit(Worker, kill),
            erlang:demonitor(Mon, [flush]),
            E
    end.

worker(Parent, Tag, Call) ->
    receive
        {Tag, go, Guard, S} ->
            Result = try run_traced(Call, Guard, S)
                     catch C:R:Stack -> {raise, C, R, Stack}
                     end,
            Parent ! {Tag, Result}
    end.

%% In the traced process: events count from activation to deactivation only.
run_traced(Call, Guard, S) ->
    ok = beamflame_nif:trace_control(S, activate),
    Outcome = try {value, apply_call(Call)}
              catch Class:Reason:Stack -> {raise, Class, Reason, Stack}
              end,
    ok = beamflame_nif:trace_control(S, deactivate),
    Result = finish_guard(Guard),
    case Outcome of
        {value, V} ->
            case Result of
                {ok, [P]} -> {ok, V, P};
                {error, _} = E -> E
            end;
        {raise, C, R, St} ->
            erlang:raise(C, R, St)
    end.

%% A call's module is loaded before tracing starts, so the profile is not about loading it.
preload({M, _, _}) when is_atom(M) -> _ = code:ensure_loaded(M), ok;
preload(_) -> ok.

apply_call(F) when is_function(F, 0) -> F();
apply_call({M, F, A}) -> erlang:apply(M, F, A).

%% @doc Traces the next `Calls' calls of `MFA' by any process; see beamflame:capture/3.
-spec capture(mfa(), pos_integer(), opts()) -> {ok, [reference()]} | {error, term()}.
capture(MFA, Calls, Opts) ->
    preload(MFA),
    case start_guard({capture, MFA, Calls}, Opts) of
        {ok, Guard, _S} -> finish_guard(Guard, maps:get(timeout, Opts) + 10000);
        {error, _} = E -> E
    end.

%% @doc Traces what `Pid' does for `duration' ms; see beamflame:trace_process/2.
-spec trace_process(pid(), opts()) -> {ok, reference()} | {error, term()}.
trace_process(Pid, Opts = #{duration := D}) ->
    case start_guard({process, Pid}, Opts) of
        {ok, Guard, _S} ->
            Mon = erlang:monitor(process, Pid),
            receive {'DOWN', Mon, process, Pid, _} -> ok after D -> ok end,
            erlang:demonitor(Mon, [flush]),
            case finish_guard(Guard, 10000) of
                {ok, [P]} -> {ok, P};
                {error, _} = E -> E
            end;
        {error, _} = E ->
            E
    end.

start_guard(Job, Opts) ->
    case application:ensure_all_started(beamflame) of
        {ok, _} ->
            Owner = maps:get(owner, Opts, self()),
            case beamflame_sup:start_run(?MODULE, start_link, [Job, Owner, Opts]) of
                {ok, Guard, S} -> {ok, Guard, S};
                {error, _} = E -> E
            end;
        {error, Reason} ->
            {error, {cannot_start, Reason}}
    end.

%% Asks the guard to end (the call returned) and waits for the profiles.
finish_guard(Guard) ->
    finish_guard(Guard, infinity).

finish_guard(Guard, Timeout) ->
    Mon = erlang:monitor(process, Guard),
    Guard ! {finish, self(), Mon},
    receive
        {Mon, Result} -> erlang:demonitor(Mon, [flush]), Result;
        {'DOWN', Mon, process, Guard, Reason} ->
            {error, {guard_died, Reason, "the trace's guard process died before the end of "
                                         "the run (killed, or beamflame stopped): what it "
                                         "set was undone, no profile"}}
    after Timeout ->
        exit(Guard, kill),
        {error, {timeout, "the trace did not end in time; it was stopped"}}
    end.

%%% The guard ----------------------------------------------------------------------------

-record(g, {session :: undefined | reference(),
            tr :: undefined | beamflame_tracing:t(),  % where our flags and patterns live
            janitor = none :: none | pid(),   % undoes what we set if we die (OTP 25-26)
            opts :: opts(),
            owner_mon :: reference(),
            job :: term(),
            traced = [] :: [pid()],          % processes we set flags on
            modules = [] :: [module()],       % modules we set patterns on
            on_load = false :: boolean(),     % we set the on_load pattern too
            loaded = [] :: [module()],        % modules loaded when we started
            skipped = [] :: [module()],       % modules with someone else's patterns
            meta = none :: none | mfa(),      % the capture trigger, while set
            captured = 0 :: non_neg_integer(),
            done = [] :: [non_neg_integer()],
            stopped = none :: atom(),
            start_ms :: integer(),
            pending = none :: none | {pid(), reference()},  % a finish waiting (capture)
            clean = false :: boolean()}).

%% @doc Starts a guard for `Job' owned by `Owner'.
-spec start_link(term(), pid(), opts()) -> {ok, pid(), reference()} | {error, term()}.
start_link(Job, Owner, Opts) ->
    proc_lib:start_link(?MODULE, guard_init, [self(), Job, Owner, Opts]).

-spec guard_init(pid(), term(), pid(), opts()) -> ok.
guard_init(Parent, Job, Owner, Opts) ->
    process_flag(trap_exit, true),
    G0 = #g{opts = Opts, owner_mon = erlang:monitor(process, Owner), job = Job,
            start_ms = erlang:monotonic_time(millisecond)},
    case setup(Job, Opts, G0) of
        {ok, G} ->
            proc_lib:init_ack(Parent, {ok, self(), G#g.session}),
            guard_loop(Parent, G);
        {error, Reason, G} ->
            _ = cleanup(G),
            proc_lib:init_ack(Parent, {error, Reason})
    end.

setup(Job, Opts, G0) ->
    Captures = case Job of {capture, _, N} -> N; _ -> 0 end,
    Deadline = case Job of {process, _} -> maps:get(duration, Opts); _ -> maps:get(timeout, Opts) end,
    SOpts = #{max_events => maps:get(max_events, Opts), deadline_ms => Deadline,
              max_procs => maps:get(max_procs, Opts), captures => Captures,
              names => maps:get(names, Opts), weight => maps:get(weight, Opts),
              recursion => maps:get(recursion, Opts), tail_calls => maps:get(tail_calls, Opts),
              caps => maps:with([max_stacks, max_depth, max_bytes], Opts)},
    {ok, S} = beamflame_nif:trace_session(SOpts),
    T = beamflame_tracing:new({beamflame_nif, S}),
    G = G0#g{session = S, tr = T, janitor = janitor(T, S)},
    case free_of_tracers(Job, T) of
        ok ->
            Loaded = [M || {M, _} <- code:all_loaded()],
            tell(G, {modules, Loaded}),
            {Mods, Skipped, OnLoad} = set_patterns(T, maps:get(modules, Opts)),
            tell(G, {patterns, Mods, OnLoad}),
            G1 = G#g{modules = Mods, skipped = Skipped, on_load = OnLoad, loaded = Loaded},
            start_job(Job, Opts, G1);
        {error, Reason} ->
            {error, Reason, G}
    end.

%% One tracer per process before OTP 27: refuse clearly if another one is there. From 27
%% beamflame has a session of its own, which other tracers do not disturb.
free_of_tracers(Job, T) ->
    case beamflame_tracing:is_session(T) of
        true -> ok;
        false -> free_of_legacy_tracers(Job)
    end.

free_of_legacy_tracers({capture, _, _}) ->
    case [{P, T} || P <- erlang:processes(), {tracer, T} <- [erlang:trace_info(P, tracer)],
                    T =/= []] of
        [] -> ok;
        [{P, T} | _] = L ->
            {error, {already_traced, P, T,
                     lists:flatten(io_lib:format(
                       "~b process(es) already have a tracer (dbg, recon_trace, observer?); "
                       "stop it first: capture may trace any process", [length(L)]))}}
    end;
free_of_legacy_tracers({_, Pid}) ->
    case erlang:trace_info(Pid, tracer) of
        {tracer, []} -> ok;
        {tracer, T} -> {error, {already_traced, Pid, T,
                                "another tracer (dbg, recon_trace, observer?) traces this "
                                "process; stop it first"}};
        undefined -> {error, {noproc, Pid}}
    end.

flags(#{follow := Follow, sleep := Sleep}) ->
    ?BASE_FLAGS ++ [F || Follow, F <- [set_on_spawn, procs]] ++ [running || Sleep].

start_job({call, Pid}, Opts, G) ->
    trace_on(Pid, flags(Opts), G);
start_job({process, Pid}, Opts, G = #g{session = S}) ->
    case erlang:process_info(Pid, current_stacktrace) of
        {current_stacktrace, St} ->
            Seed = lists:reverse([{M, F, arity(A)} || {M, F, A, _} <- St]),
            _ = beamflame_nif:trace_seed(S, Pid, lists:sublist(Seed, maps:get(max_depth, Opts) - 2)),
            case trace_on(Pid, flags(Opts), G) of
                {ok, G1} -> ok = beamflame_nif:trace_control(S, activate), {ok, G1};
                Error -> Error
            end;
        undefined ->
            {error, {noproc, Pid}, G}
    end;
start_job({capture, {M, F, A} = MFA, _N}, Opts, G = #g{session = S, tr = T}) ->
    Enable = ?BASE_FLAGS ++ [F2 || maps:get(follow, Opts), F2 <- [set_on_spawn, procs]]
        ++ beamflame_tracing:tracer(T),
    Trigger = [{'_', [], [{trace, [], Enable}, {exception_trace}]}],
    tell(G, {meta, MFA}),
    try beamflame_tracing:function(T, MFA, Trigger, [meta]) of
        0 ->
            {error, {no_such_function, MFA, "the function is not loaded (or not exported "
                                            "with that arity): load its module first"}, G};
        _ ->
            ok = beamflame_nif:trace_control(S, activate),
            {ok, G#g{meta = {M, F, A}}}
    catch
        error:badarg -> {error, {bad_function, MFA}, G}
    end.

arity(A) when is_integer(A) -> A;
arity(L) when is_list(L) -> length(L).

trace_on(Pid, Flags, G = #g{tr = T}) ->
    try beamflame_tracing:process(T, Pid, true, Flags) of
        1 -> {ok, G#g{traced = [Pid | G#g.traced]}};
        0 -> {error, {noproc, Pid}, G}
    catch
        error:badarg -> {error, {noproc, Pid}, G}
    end.

%% Patterns on each module that has none of someone else's, and (for `all') on modules
%% loaded during the run, unless someone else holds on_load. Returns {Set, Skipped, OnLoad}.
%% In a session of our own (27+) nobody else's patterns are visible, so none are skipped.
set_patterns(T, Which) ->
    Ours = ours(),
    Mods = case Which of
               all ->
                   [M || {M, _} <- code:all_loaded(), not is_map_key(M, Ours)];
               List ->
                   [M || M <- List, not is_map_key(M, Ours),
                         code:ensure_loaded(M) =:= {module, M}]
           end,
    {Free, Busy} = lists:partition(fun(M) -> has_no_patterns(T, M) end, Mods),
    Set = [M || M <- Free,
                beamflame_tracing:function(T, {M, '_', '_'}, ?CALLER_MS, [local]) >= 0],
    OnLoad = Which =:= all
        andalso beamflame_tracing:info(T, on_load, traced) =:= {traced, false}
        andalso beamflame_tracing:function(T, on_load, ?CALLER_MS, [local]) >= 0,
    {Set, Busy, OnLoad}.

%% beamflame's own modules (the application's, not every module named beamflame_*: a user
%% module may be).
ours() ->
    Mods = case application:get_key(beamflame, modules) of
               {ok, L} -> L;
               undefined -> [beamflame, beamflame_nif, beamflame_trace, beamflame_tracing]
           end,
    maps:from_keys(Mods, true).

has_no_patterns(T, M) ->
    lists:all(fun({F, A}) ->
                      beamflame_tracing:info(T, {M, F, A}, traced) =:= {traced, false}
              end,
              M:module_info(functions)).

guard_loop(Parent, G = #g{session = S, owner_mon = OMon}) ->
    Timeout = case G#g.job of
                  {capture, _, _} ->
                      max(0, G#g.start_ms + maps:get(timeout, G#g.opts)
                             - erlang:monotonic_time(millisecond));
                  _ ->
                      infinity
              end,
    receive
        {finish, From, Tag} when element(1, G#g.job) =:= capture ->
            maybe_reply(Parent, G#g{pending = {From, Tag}});
        finish when element(1, G#g.job) =:= capture ->
            %% stop now (Ctrl-C of the command line): the calls done so far are the result
            maybe_reply(Parent, (cleanup(G))#g{stopped = asked});
        {progress, From, Tag} when is_pid(From) ->
            From ! {Tag, #{elapsed_ms => erlang:monotonic_time(millisecond) - G#g.start_ms,
                           samples => length(G#g.done)}},
            guard_loop(Parent, G);
        {finish, From, Tag} ->
            G1 = cleanup(G),
            From ! {Tag, results(G1)},
            ok;
        {beamflame_trace, S, {stopped, Why}} ->
            %% the NIF hit a limit and stopped itself: undo at once (the call goes on
            %% untraced); the caller still gets what was recorded
            guard_loop(Parent, cleanup(G#g{stopped = Why}));
        {beamflame_trace, S, {captured, _Pid, _I}} ->
            G1 = G#g{captured = G#g.captured + 1},
            {capture, _, N} = G#g.job,
            guard_loop(Parent, case G1#g.captured >= N of
                                   true -> remove_trigger(G1);
                                   false -> G1
                               end);
        {beamflame_trace, S, {done, Pid, I}} ->
            _ = untrace(G#g.tr, Pid),
            maybe_reply(Parent, G#g{done = [I | G#g.done]});
        {'DOWN', OMon, process, _, _} ->
            _ = cleanup(G),
            ok;
        {'EXIT', Parent, Reason} ->
            _ = cleanup(G),
            exit(Reason);
        _ ->
            guard_loop(Parent, G)
    after Timeout ->
        maybe_reply(Parent, (cleanup(G))#g{stopped = timeout})
    end.

%% A capture ends when its calls are done (or at its timeout, or at a limit): then the
%% waiting caller gets the complete ones.
maybe_reply(Parent, G = #g{job = {capture, _, N}, done = Done, pending = Pending}) ->
    Over = length(Done) >= N orelse G#g.clean,
    case {Over, Pending} of
        {true, {From, Tag}} ->
            G1 = cleanup(G),
            From ! {Tag, results(G1)},
            ok;
        {true, none} ->
            guard_loop(Parent, cleanup(G));
        {false, _} ->
            guard_loop(Parent, G)
    end.

remove_trigger(G = #g{meta = none}) ->
    G;
remove_trigger(G = #g{meta = MFA, tr = T}) ->
    _ = beamflame_tracing:function(T, MFA, false, [meta]),
    G#g{meta = none}.

%% Undoes everything this guard set; idempotent.
cleanup(G = #g{clean = true}) ->
    G;
cleanup(G = #g{session = S, tr = T}) ->
    case beamflame_tracing:is_session(T) of
        true ->
            %% a session of our own (27+): destroying it removes every flag and pattern
            %% at once, where removing them one by one costs a code barrier per module
            _ = beamflame_nif:trace_control(S, stop),
            ok = beamflame_tracing:destroy(T),
            G#g{clean = true, meta = none};
        false ->
            cleanup_legacy(G)
    end.

cleanup_legacy(G = #g{session = S, tr = T}) ->
    _ = S =/= undefined andalso beamflame_nif:trace_control(S, stop),
    G1 = remove_trigger(G),
    Follow = maps:get(follow, G#g.opts, false),
    Ours = case Follow orelse element(1, G#g.job) =:= capture of
               true -> [P || P <- erlang:processes(), beamflame_tracing:owns(T, P)];
               false -> G#g.traced
           end,
    ok = undo_legacy(T, Ours, G#g.modules, G#g.on_load, G#g.loaded),
    tell(G, done),
    G1#g{clean = true}.

%% Removes the flags of Ours and exactly the patterns a run set: on Mods, on on_load, and
%% (through on_load) on every module loaded since Loaded was read, ours too.
undo_legacy(T, Ours, Mods, OnLoad, Loaded) ->
    _ = [untrace(T, P) || P <- Ours],
    _ = [beamflame_tracing:function(T, {M, '_', '_'}, false, [local]) || M <- Mods],
    _ = OnLoad andalso beamflame_tracing:function(T, on_load, false, [local]),
    _ = OnLoad andalso
        [beamflame_tracing:function(T, {M, '_', '_'}, false, [local])
         || {M, _} <- code:all_loaded(), not lists:member(M, Loaded)],
    ok.

%%% The janitor (OTP 25-26) -----------------------------------------------------------------
%%
%% Trace flags go when their tracer's session does, but patterns stay: if the guard is
%% killed (exit(G, kill), a supervisor's shutdown timeout, finish_guard/2's own timeout)
%% nothing it set would be undone. So each guard has a janitor: a plain process outside the
%% supervision tree (killing beamflame_sup's children leaves it), told what the guard sets
%% as it sets it, monitoring the guard. When the guard ends its run it says done and the
%% janitor leaves; when the guard dies first, the janitor stops the NIF session (its
%% callbacks answer remove), removes the flags of every process traced by this session's
%% tracer and exactly the patterns the guard set, at once. On OTP 27+ the guard's trace
%% session does all of that by itself when the guard dies (it is garbage collected with
%% it), so there is no janitor.

janitor(T, S) ->
    case beamflame_tracing:is_session(T) of
        true -> none;
        false -> proc_lib:spawn(?MODULE, janitor_init, [self(), T, S])
    end.

tell(#g{janitor = none}, _) -> ok;
tell(#g{janitor = J}, What) -> J ! {self(), What}, ok.

-spec janitor_init(pid(), beamflame_tracing:t(), reference()) -> ok.
janitor_init(Guard, T, S) ->
    janitor_loop(Guard, erlang:monitor(process, Guard), T, S,
                 #{modules => [], on_load => false, loaded => [], meta => none}).

janitor_loop(Guard, Mon, T, S, Set) ->
    receive
        {Guard, done} ->
            erlang:demonitor(Mon, [flush]),
            ok;
        {Guard, {modules, Loaded}} ->
            janitor_loop(Guard, Mon, T, S, Set#{loaded := Loaded});
        {Guard, {patterns, Mods, OnLoad}} ->
            janitor_loop(Guard, Mon, T, S, Set#{modules := Mods, on_load := OnLoad});
        {Guard, {meta, MFA}} ->
            janitor_loop(Guard, Mon, T, S, Set#{meta := MFA});
        {'DOWN', Mon, process, Guard, _} ->
            janitor_undo(T, S, Set)
    end.

janitor_undo(T, S, #{modules := Mods, on_load := OnLoad, loaded := Loaded, meta := Meta}) ->
    _ = beamflame_nif:trace_control(S, stop),
    _ = Meta =/= none andalso beamflame_tracing:function(T, Meta, false, [meta]),
    Ours = [P || P <- erlang:processes(), beamflame_tracing:owns(T, P)],
    undo_legacy(T, Ours, Mods, OnLoad, Loaded).

%% A process that is gone has no flags left to remove.
untrace(T, Pid) ->
    try beamflame_tracing:process(T, Pid, false, [all])
    catch error:badarg -> 0
    end.

results(G = #g{session = S, job = Job}) ->
    Indices = case Job of
                  {capture, _, _} -> lists:sort(G#g.done);
                  _ -> [0]
              end,
    Status = beamflame_nif:trace_status(S),
    Elapsed = erlang:monotonic_time(millisecond) - G#g.start_ms,
    Meta = #{mode => trace, node => node(), roots => process,
             unit => case maps:get(weight, G#g.opts) of time -> us; calls -> calls end,
             duration_ms => Elapsed,
             started_at => erlang:system_time(millisecond) - Elapsed,
             events => maps:get(events, Status),
             stopped => case maps:get(stopped, Status) of
                            asked -> G#g.stopped;
                            Why -> Why
                        end,
             modules_traced => length(G#g.modules),
             modules_skipped => G#g.skipped,
             depth_capped => maps:get(depth_capped, Status),
             levels_dropped => maps:get(levels_dropped, Status),
             procs_lost => maps:get(procs_lost, Status),
             recursion => maps:get(recursion, G#g.opts),
             tail_calls => maps:get(tail_calls, G#g.opts),
             procs_dropped => maps:get(procs_dropped, Status),
             sleep => maps:get(sleep, G#g.opts)},
    Profiles = [begin
                    {ok, P} = beamflame_nif:trace_result_dirty(S, I),
                    ok = beamflame_nif:set_meta(P, Meta),
                    P
                end || I <- Indices],
    {ok, Profiles}.
