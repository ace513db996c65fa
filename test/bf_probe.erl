%% What a profiling run may leave behind on a node, read on that node (tests push this
%% module to their targets, since a fun of a module the target lacks is undef there).
-module(bf_probe).
-export([leftovers/1, leftovers_but_app/1, push/1]).
-export([collect_logs/0, logged/0, log/2]).

%% Pushes the probe and the workloads to Node.
push(Node) ->
    [{module, M} = erpc:call(Node, code, load_binary, [M, F, B])
     || Mod <- [bf_probe, bf_workload, bf_reqwork], {M, B, F} <- [code:get_object_code(Mod)]],
    ok.

%% Everything beamflame could have left here: its processes, trace flags on any process
%% (or for new ones), trace patterns on any loaded function, a backtrace_depth other than
%% Depth (read without changing it). [] when nothing is left.
leftovers(Depth) ->
    leftovers(Depth, []).

%% The same, for a node that runs the beamflame application on purpose: its supervisor
%% and flags owner are expected; anything else of beamflame's is not.
leftovers_but_app(Depth) ->
    leftovers(Depth, [whereis(beamflame_sup), whereis(beamflame_flags)]).

%% On OTP 27+ beamflame traces in a session of its own, invisible to erlang:trace_info/2:
%% what any beamflame session still holds counts too, and a beamflame session that still
%% exists is itself a leftover.
leftovers(Depth, Expected) ->
    Sessions = sessions(),
    InOurs = fun(What) -> Sessions andalso in_our_session(What) end,
    Procs = [{P, erlang:process_info(P, [initial_call, current_function, dictionary])}
             || P <- erlang:processes(), P =/= self(), not lists:member(P, Expected),
                is_beamflame_process(P)],
    Flags = [{P, F} || P <- erlang:processes(),
                       {flags, F} <- [erlang:trace_info(P, flags)], F =/= []]
        ++ [{P, session} || P <- erlang:processes(), InOurs(P)],
    New = [F || {flags, F} <- [erlang:trace_info(new, flags)], F =/= []]
        ++ [session || InOurs(new)],
    Patterns = [MFA || {M, _} <- code:all_loaded(),
                       {F, A} <- M:module_info(functions),
                       MFA <- [{M, F, A}],
                       erlang:trace_info(MFA, traced) =/= {traced, false}
                           orelse InOurs(MFA)],
    Ours = [S || Sessions, S = {beamflame, _} <- trace:session_info(all)],
    DepthNow = bf_workload:backtrace_depth(),
    [{processes, Procs} || Procs =/= []] ++ [{trace_flags, Flags} || Flags =/= []]
        ++ [{new_process_flags, New} || New =/= []] ++ [{patterns, Patterns} || Patterns =/= []]
        ++ [{sessions, Ours} || Ours =/= []]
        ++ [{backtrace_depth, DepthNow} || DepthNow =/= Depth].

%% Asked once per call: on OTP 25-26 each ensure_loaded of the missing module searches the
%% whole code path.
sessions() ->
    code:ensure_loaded(trace) =:= {module, trace}
        andalso erlang:function_exported(trace, session_info, 1).

in_our_session(What) ->
        case try trace:session_info(What) catch error:badarg -> [] end of
            L when is_list(L) -> lists:any(fun({beamflame, _}) -> true; (_) -> false end, L);
            _ -> false
        end.

is_beamflame_process(P) ->
    case erlang:process_info(P, [current_function, initial_call, dictionary]) of
        undefined ->
            false;
        [{current_function, CF}, {initial_call, {M2, _, _}}, {dictionary, D}] ->
            %% current_function is undefined for a process being killed
            M1 = case CF of {M0, _, _} -> M0; _ -> none end,
            M3 = case lists:keyfind('$initial_call', 1, D) of
                     {_, {M, _, _}} -> M;
                     _ -> none
                 end,
            lists:any(fun(M) -> lists:prefix("beamflame", atom_to_list(M)) end, [M1, M2, M3])
    end.

%% What the node logs, collected (a logger handler that forwards to a registered process).
collect_logs() ->
    Pid = spawn(fun() -> collector([]) end),
    true = register(bf_log_collector, Pid),
    ok = logger:add_handler(bf_probe_spy, ?MODULE, #{level => all}),
    ok.

%% The reports logged since collect_logs/0, oldest first.
logged() ->
    bf_log_collector ! {get, self()},
    receive {bf_log_collector, Events} -> Events after 5000 -> timeout end.

%% @private logger handler callback.
log(#{level := Level, msg := Msg}, _Config) ->
    case whereis(bf_log_collector) of
        undefined -> ok;
        P -> P ! {event, {Level, Msg}}, ok
    end.

collector(Acc) ->
    receive
        {event, E} -> collector([E | Acc]);
        {get, From} -> From ! {bf_log_collector, lists:reverse(Acc)}, collector(Acc)
    end.
