%% Trace mode (beamflame:trace/2, capture/3, trace_process/2) on real peer nodes: exact
%% stacks of known call trees, tail calls, exceptions, children followed or not, calls
%% captured from other processes, and after every way of ending (success, exception,
%% timeout, event limit, caller death) no trace flag or pattern left. Dirty-scheduler work
%% is traced and untraced repeatedly: the node must survive (erlang/otp#6448).
-module(beamflame_trace_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-export([all/0, init_per_suite/1, end_per_suite/1, init_per_testcase/2, end_per_testcase/2]).
-export([call_tree_is_exact/1, recursion_folds_by_default/1, exact_at_any_depth/1,
         tail_calls_keep/1, tail_recursion_stays_flat/1, time_is_wall_time/1,
         killed_mid_trace_leaves_nothing/1,
         exception_is_reraised_after_cleanup/1, children_followed_or_not/1,
         spawn_option_runs_in_a_fresh_process/1, capture_calls_of_other_processes/1,
         capture_times_out_cleanly/1, trace_process_starts_from_its_stack/1,
         event_limit_stops_and_cleans/1, timeout_stops_and_cleans/1,
         caller_death_cleans/1, another_tracer_is_refused/1, coexists_with_dbg/1,
         dirty_work_is_safe/1,
         eflambe_names/1, bad_options/1, flamechart_keeps_call_order/1]).
%% run on the peer
-export([on_peer/2]).

all() ->
    [call_tree_is_exact, recursion_folds_by_default, exact_at_any_depth, tail_calls_keep,
     tail_recursion_stays_flat, time_is_wall_time, killed_mid_trace_leaves_nothing,
     exception_is_reraised_after_cleanup, children_followed_or_not,
     spawn_option_runs_in_a_fresh_process, capture_calls_of_other_processes,
     capture_times_out_cleanly, trace_process_starts_from_its_stack,
     event_limit_stops_and_cleans, timeout_stops_and_cleans, caller_death_cleans,
     another_tracer_is_refused, coexists_with_dbg, dirty_work_is_safe, eflambe_names,
     bad_options,
     flamechart_keeps_call_order].

init_per_suite(Config) ->
    ok = bf_test_util:distributed(),
    %% Other suites may have set this node's cookie: peers get it explicitly.
    [{cookie, atom_to_list(erlang:get_cookie())} | Config].

end_per_suite(_Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    Ebin = filename:dirname(code:which(beamflame)),
    Test = filename:dirname(code:which(bf_tracework)),
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_tr),
                                         args => ["-pa", Ebin, "-pa", Test,
                                                  "-setcookie", ?config(cookie, Config)]}),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    {module, _} = erpc:call(Node, code, ensure_loaded, [bf_tracework]),
    {module, _} = erpc:call(Node, code, ensure_loaded, [bf_probe]),
    [{peer, Peer}, {node, Node}, {depth, Depth} | Config].

end_per_testcase(_Case, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok.

%% Runs F(Args) on the peer (this module is on its code path).
peer(Config, F, Args) ->
    erpc:call(?config(node, Config), ?MODULE, on_peer, [F, Args], 60000).

%% On the peer: the folded text of a trace, without the root (pid) frame.
on_peer(trace, [Call, Opts]) ->
    case beamflame:trace(Call, Opts) of
        {ok, V, P} -> {ok, V, strip(beamflame:folded(P)), beamflame:info(P)};
        Other -> Other
    end;
on_peer(trace_raw, [Call, Opts]) ->
    {ok, V, P} = beamflame:trace(Call, Opts),
    {ok, V, beamflame:folded(P), beamflame:info(P)};
on_peer(capture, [MFA, N, Opts]) ->
    case beamflame:capture(MFA, N, Opts) of
        {ok, Ps} -> {ok, [{strip(beamflame:folded(P)), beamflame:info(P)} || P <- Ps]};
        Other -> Other
    end;
on_peer(trace_process, [Pid, Opts]) ->
    case beamflame:trace_process(Pid, Opts) of
        {ok, P} -> {ok, strip(beamflame:folded(P)), beamflame:info(P)};
        Other -> Other
    end;
on_peer(killed_mid_trace, [How, Depth]) ->
    %% a 1.5 s call traced here; its guard (or every child of beamflame_sup, or the
    %% application) goes while it runs
    Self = self(),
    _ = spawn(fun() -> Self ! {result, beamflame:trace({bf_tracework, sleeper, [1500]}, #{})} end),
    Guard = fun() -> [P || {_, P, _, [beamflame_trace]} <- supervisor:which_children(beamflame_sup),
                           is_pid(P)] end,
    ok = wait_for(fun() -> Guard() =/= [] andalso bf_probe:leftovers_but_app(Depth) =/= [] end, 100),
    T0 = erlang:monotonic_time(millisecond),
    case How of
        guard -> [exit(G, kill) || G <- Guard()];
        children -> [exit(P, kill) || {_, P, _, _} <- supervisor:which_children(beamflame_sup),
                                      is_pid(P)];
        application -> ok = application:stop(beamflame)
    end,
    Clean = wait_for(fun() -> bf_probe:leftovers_but_app(Depth) =:= [] end, 200),
    Ms = erlang:monotonic_time(millisecond) - T0,
    Result = receive {result, R} -> R after 5000 -> still_waiting end,
    {Clean, Ms, Result, bf_probe:leftovers_but_app(Depth)};
on_peer(trace_process_raw, [Pid, Opts]) ->
    {ok, P} = beamflame:trace_process(Pid, Opts),
    {ok, beamflame:folded(P), beamflame:info(P)};
on_peer(dbg_on, [Pid]) ->
    %% dbg (its own session on 27+) with its pattern on tick/1, and a legacy tracer
    %% (erlang:trace/3, as recon_trace sets it) with its pattern on tick_loop/1
    C = counters:new(2, []),
    persistent_term:put(bf_dbg_events, C),
    {ok, _} = dbg:tracer(process, {fun(_Event, St) -> counters:add(C, 1, 1), St end, ok}),
    {ok, _} = dbg:p(Pid, [c]),
    {ok, _} = dbg:tpl(bf_tracework, tick, 1, []),
    T = spawn(fun Count() -> receive _ -> counters:add(C, 2, 1), Count() end end),
    persistent_term:put(bf_legacy_tracer, T),
    1 = erlang:trace(Pid, true, [call, {tracer, T}]),
    1 = erlang:trace_pattern({bf_tracework, tick_loop, 1}, true, [local]),
    timer:sleep(100),
    on_peer(dbg_events, [Pid]);
on_peer(dbg_events, [Pid]) ->
    C = persistent_term:get(bf_dbg_events),
    Sessions = fun(What) -> lists:sort([N || {N, _} <- trace:session_info(What)]) end,
    {ok, #{legacy => #{flags => erlang:trace_info(Pid, flags),
                       tracer => erlang:trace_info(Pid, tracer),
                       pattern => erlang:trace_info({bf_tracework, tick_loop, 1}, traced),
                       match_spec => erlang:trace_info({bf_tracework, tick_loop, 1}, match_spec)},
           dbg => #{process_sessions => Sessions(Pid),
                    function_sessions => Sessions({bf_tracework, tick, 1})},
           dbg_events => counters:get(C, 1), legacy_events => counters:get(C, 2)}};
on_peer(dbg_off, [Pid]) ->
    _ = erlang:trace(Pid, false, [all]),
    _ = erlang:trace_pattern({bf_tracework, tick_loop, 1}, false, [local]),
    exit(persistent_term:get(bf_legacy_tracer), kill),
    dbg:stop();
on_peer(svg_x, [Call, Opts, SvgOpts, Frames]) ->
    {ok, _, P} = beamflame:trace(Call, Opts),
    Svg = beamflame:svg(P, SvgOpts),
    [frame_x(Svg, F) || F <- Frames];
on_peer(leftovers, [Depth]) ->
    bf_probe:leftovers_but_app(Depth).

wait_for(F, 0) ->
    F() orelse timeout;
wait_for(F, N) ->
    case F() of
        true -> ok;
        false -> timer:sleep(10), wait_for(F, N - 1)
    end.

strip(Folded) ->
    Lines = binary:split(Folded, <<"\n">>, [global, trim_all]),
    lists:sort([begin [_Root, Rest] = binary:split(L, <<";">>), Rest end
                || L <- Lines, binary:match(L, <<";">>) =/= nomatch]).

%% Within 10 s (a loaded CI machine), or the test fails naming what was left.
nothing_left(Config) ->
    Left = fun() -> peer(Config, leftovers, [?config(depth, Config)]) end,
    bf_test_util:wait_until(fun() -> Left() =:= [] end, 200, fun() -> {leftovers, Left()} end).

lines(Folded) ->
    [list_to_tuple(binary:split(L, <<" ">>)) || L <- Folded].

%%% Cases ---------------------------------------------------------------------------------

call_tree_is_exact(Config) ->
    {ok, 16, Folded, Info} = peer(Config, trace, [{bf_tracework, tree, [3]},
                                                  #{weight => calls, recursion => keep}]),
    T = <<"bf_tracework:tree/1">>,
    L = <<"bf_tracework:leaf/0">>,
    J = fun(Fs) -> iolist_to_binary(lists:join(<<";">>, Fs)) end,
    ?assertEqual(lists:sort([{J([T]), <<"1">>}, {J([T, T]), <<"2">>}, {J([T, T, T]), <<"4">>},
                             {J([T, T, T, T]), <<"8">>}, {J([T, T, T, T, L]), <<"8">>}]),
                 lists:sort(lines(Folded))),
    ?assertMatch(#{mode := trace, unit := calls, stopped := none}, Info),
    nothing_left(Config).

%% The default folds recursion: the same call tree is one tree/1 frame (15 calls) and its
%% leaves; info says so.
recursion_folds_by_default(Config) ->
    {ok, 16, Folded, Info} = peer(Config, trace, [{bf_tracework, tree, [3]}, #{weight => calls}]),
    T = <<"bf_tracework:tree/1">>,
    ?assertEqual(lists:sort([{T, <<"15">>}, {<<T/binary, ";bf_tracework:leaf/0">>, <<"8">>}]),
                 lists:sort(lines(Folded))),
    ?assertMatch(#{recursion := fold, tail_calls := drop}, Info),
    nothing_left(Config).

%% Exact at any depth: a body recursion N deep between outer/0's other calls. After it
%% returns, later/0 is under outer/0 (not under the pid); folded it is one frame, kept it
%% is capped with a [truncated] frame and counted.
exact_at_any_depth(Config) ->
    lists:foreach(
      fun(N) ->
              {ok, N, Raw, Info} = peer(Config, trace_raw, [{bf_tracework, outer, [N]}, #{}]),
              Lines = binary:split(Raw, <<"\n">>, [global, trim_all]),
              ct:log("~b: ~b lines, ~p", [N, length(Lines), Info]),
              %% a handful of lines whatever N (sleep frames where the release has them)
              ?assert(length(Lines) =< 12, {N, Lines}),
              ?assertMatch({match, _}, re:run(Raw, "^<[^;]*>;bf_tracework:outer/1;"
                                                   "bf_tracework:later/0 ", [multiline])),
              ?assertMatch({match, _}, re:run(Raw, "^<[^;]*>;bf_tracework:outer/1;"
                                                   "bf_tracework:deep/1 ", [multiline])),
              ?assertEqual(nomatch, re:run(Raw, "^<[^;]*>;bf_tracework:(later|deep)", [multiline])),
              ?assertMatch(#{depth_capped := 0, levels_dropped := 0}, Info),
              {ok, N, Kept, KInfo} = peer(Config, trace_raw, [{bf_tracework, outer, [N]},
                                                               #{recursion => keep}]),
              ?assertMatch({match, _}, re:run(Kept, "^<[^;]*>;bf_tracework:outer/1;"
                                                    "bf_tracework:later/0 ", [multiline])),
              ?assertNotEqual(nomatch, binary:match(Kept, <<";[truncated] ">>)),
              #{depth_capped := Capped} = KInfo,
              ?assert(Capped >= N - 1024, {N, Capped})
      end, [5000, 50000, 500000]),
    nothing_left(Config).

%% tail_calls => keep: a gen_server-like loop (loop tail-calls handle, handle tail-calls
%% work, work body-calls leaf and tail-calls loop) keeps each tail-calling frame under its
%% callee, and the cycle closes at loop: bounded. drop (the default) is the VM's view.
tail_calls_keep(Config) ->
    {ok, done, Kept, Info} = peer(Config, trace_raw, [{bf_tracework, serve, [3]},
                                                       #{tail_calls => keep, weight => calls}]),
    ?assertMatch(#{tail_calls := keep}, Info),
    ?assertMatch({match, _}, re:run(Kept, "^<[^;]*>;bf_tracework:serve/1;bf_tracework:loop_s/1;"
                                          "bf_tracework:handle_s/1;bf_tracework:work_s/1;"
                                          "bf_tracework:leaf/0 3$", [multiline])),
    {ok, done, Dropped, _} = peer(Config, trace_raw, [{bf_tracework, serve, [3]},
                                                       #{weight => calls}]),
    %% the VM's view: serve/1, loop_s/1 and handle_s/1 all tail-called their way out
    ?assertMatch({match, _}, re:run(Dropped, "^<[^;]*>;bf_tracework:work_s/1;"
                                             "bf_tracework:leaf/0 3$", [multiline])),
    ?assertEqual(nomatch, binary:match(Dropped, <<"handle_s/1;bf_tracework:work_s">>)),
    nothing_left(Config).

tail_recursion_stays_flat(Config) ->
    {ok, done, Folded, _} = peer(Config, trace, [{bf_tracework, loop, [100000]}, #{weight => calls}]),
    ?assertEqual([{<<"bf_tracework:loop/1">>, <<"100001">>}], lines(Folded)),
    nothing_left(Config).

%% The 200 ms wait is time in timer:sleep/1 either way: wall time of the function on OTP
%% before 25.3 (no running flag, erlang/otp#6448), a `sleep' frame under it from 25.3 on.
time_is_wall_time(Config) ->
    {ok, 1, Folded, Info} = peer(Config, trace, [{bf_tracework, sleeper, [200]}, #{}]),
    Safe = erpc:call(?config(node, Config), erlang, system_info, [otp_release]) =/= "25"
        orelse running_safe_25(Config),
    ?assertMatch(#{unit := us, sleep := Safe}, Info),
    Sleep = [binary_to_integer(W) || {S, W} <- lines(Folded),
                                     binary:match(S, <<"timer:sleep/1">>) =/= nomatch],
    ?assert(lists:sum(Sleep) >= 190000),
    ?assert(lists:sum(Sleep) =< 2000000),
    Descheduled = [binary_to_integer(W) || {S, W} <- lines(Folded),
                                           binary:match(S, <<"timer:sleep/1;sleep">>) =/= nomatch],
    case Safe of
        true -> ?assert(lists:sum(Descheduled) >= 190000);
        false -> ?assertEqual([], Descheduled)
    end,
    nothing_left(Config).

running_safe_25(Config) ->
    {ok, V} = erpc:call(?config(node, Config), file, read_file,
                        [filename:join([code:root_dir(), "releases", "25", "OTP_VERSION"])]),
    [_, Minor | _] = [list_to_integer(X) || X <- string:lexemes(string:trim(binary_to_list(V)), ".")],
    Minor >= 3.

exception_is_reraised_after_cleanup(Config) ->
    ?assertMatch({error, boom_inside},
                 erpc:call(?config(node, Config), fun() -> ok end)
                 =:= ok andalso
                 try peer(Config, trace, [{bf_tracework, boom, []}, #{}])
                 catch error:{exception, R, _} -> {error, R}
                 end),
    nothing_left(Config).

children_followed_or_not(Config) ->
    {ok, 1, Raw, _} = peer(Config, trace_raw, [{bf_tracework, parent, []}, #{follow => true}]),
    Roots = lists:usort([hd(binary:split(L, <<";">>))
                         || L <- binary:split(Raw, <<"\n">>, [global, trim_all])]),
    ?assert(length(Roots) >= 2), % the caller and its child (with its own pid as root)
    %% the child's fun tail-calls child_work/0, which tail-calls tree/1
    ?assertNotEqual(nomatch, binary:match(Raw, <<"bf_tracework:parent/0-fun-0;bf_tracework:tree/1">>)),
    {ok, 1, Raw2, _} = peer(Config, trace_raw, [{bf_tracework, parent, []}, #{}]),
    ?assertEqual(nomatch, binary:match(Raw2, <<"child_work">>)),
    nothing_left(Config).

spawn_option_runs_in_a_fresh_process(Config) ->
    Node = ?config(node, Config),
    {Pid, V} = erpc:call(Node, fun() -> {self(), ok} end),
    ?assert(is_pid(Pid) andalso V =:= ok),
    {ok, 16, Folded, _} = peer(Config, trace, [{bf_tracework, tree, [3]},
                                               #{spawn => true, recursion => keep}]),
    ?assert(length(Folded) >= 5),
    ?assertError({exception, boom_inside, _},
                 peer(Config, trace, [{bf_tracework, boom, []}, #{spawn => true}])),
    nothing_left(Config).

capture_calls_of_other_processes(Config) ->
    Node = ?config(node, Config),
    _ = [erpc:call(Node, erlang, spawn, [bf_tracework, caller, [5, 50]]) || _ <- [1, 2]],
    {ok, Ps} = peer(Config, capture, [{bf_tracework, target, 1}, 3, #{timeout => 10000,
                                                                      weight => calls}]),
    ?assertEqual(3, length(Ps)),
    [begin
         ?assertEqual([{<<"bf_tracework:target/1">>, <<"1">>},
                       {<<"bf_tracework:target/1;bf_tracework:helper/1">>, <<"1">>}],
                      lists:sublist(lists:sort(lines(F)), 2)),
         ?assertMatch(#{mode := trace}, I)
     end || {F, I} <- Ps],
    nothing_left(Config).

capture_times_out_cleanly(Config) ->
    ?assertEqual({ok, []}, peer(Config, capture, [{bf_tracework, target, 1}, 1, #{timeout => 300}])),
    ?assertMatch({error, {no_such_function, _, _}},
                 peer(Config, capture, [{bf_tracework, nope, 0}, 1, #{timeout => 300}])),
    nothing_left(Config).

trace_process_starts_from_its_stack(Config) ->
    Node = ?config(node, Config),
    Pid = erpc:call(Node, erlang, spawn, [bf_tracework, idle_loop, []]),
    {ok, Folded, Info} = peer(Config, trace_process, [Pid, #{duration => 300}]),
    ?assertMatch(#{mode := trace, stopped := _}, Info),
    ?assert(lists:any(fun(L) -> binary:match(L, <<"bf_tracework:idle_loop/0;bf_tracework:leaf/0">>)
                                    =/= nomatch end, Folded)),
    Pid ! stop,
    nothing_left(Config).

event_limit_stops_and_cleans(Config) ->
    {ok, 32768, _Folded, Info} = peer(Config, trace, [{bf_tracework, tree, [14]},
                                                      #{max_events => 1000}]),
    ?assertMatch(#{stopped := max_events}, Info),
    nothing_left(Config).

timeout_stops_and_cleans(Config) ->
    {ok, _, _Folded, Info} = peer(Config, trace, [{bf_tracework, fib, [27]}, #{timeout => 100}]),
    ?assertMatch(#{stopped := timeout}, Info),
    nothing_left(Config).

caller_death_cleans(Config) ->
    Node = ?config(node, Config),
    Depth = ?config(depth, Config),
    Caller = erpc:call(Node, erlang, spawn,
                       [beamflame, trace, [{bf_tracework, fib, [40]}, #{timeout => 600000}]]),
    bf_test_util:wait_until(fun() -> peer(Config, leftovers, [Depth]) =/= [] end, 200,
                            fun() -> {tracing_never_started, Caller} end),
    erpc:call(Node, erlang, exit, [Caller, kill]),
    nothing_left(Config).

%% Cleanup survives any death: the guard killed, every child of beamflame_sup killed, the
%% application stopped, mid-trace. Within a second nothing is left (no pattern, flag or
%% process: bf_probe, which also looks into trace sessions), and the traced call still
%% returns, with an error instead of a profile.
killed_mid_trace_leaves_nothing(Config) ->
    Node = ?config(node, Config),
    lists:foreach(
      fun(How) ->
              {ok, _} = erpc:call(Node, application, ensure_all_started, [beamflame]),
              {Clean, Ms, Result, Left} =
                  erpc:call(Node, ?MODULE, on_peer, [killed_mid_trace, [How, ?config(depth, Config)]],
                            30000),
              ct:log("~p: clean ~p after ~b ms, ~p, left ~p", [How, Clean, Ms, Result, Left]),
              ?assertEqual({How, ok, []}, {How, Clean, Left}),
              ?assert(Ms =< 1000, {How, Ms}),
              ?assertMatch({error, _}, Result)
      end, [guard, children, application]).

%% Before OTP 27 a process has one tracer: another one's process is refused, its flags left
%% alone. From 27 beamflame has a session of its own: see coexists_with_dbg/1.
another_tracer_is_refused(Config) ->
    case erpc:call(?config(node, Config), erlang, system_info, [otp_release]) of
        R when R >= "27" -> {skip, "OTP 27+: sessions coexist (coexists_with_dbg)"};
        _ -> another_tracer_is_refused_legacy(Config)
    end.

another_tracer_is_refused_legacy(Config) ->
    Node = ?config(node, Config),
    Pid = erpc:call(Node, erlang, spawn, [bf_tracework, idle_loop, []]),
    Tracer = erpc:call(Node, erlang, spawn, [timer, sleep, [infinity]]),
    1 = erpc:call(Node, erlang, trace, [Pid, true, [call, {tracer, Tracer}]]),
    ?assertMatch({error, {already_traced, Pid, _, _}},
                 peer(Config, trace_process, [Pid, #{duration => 100}])),
    %% ...and the other tracer's flags are untouched
    ?assertEqual({flags, [call]}, erpc:call(Node, erlang, trace_info, [Pid, flags])),
    erpc:call(Node, erlang, trace, [Pid, false, [all]]),
    nothing_left(Config).

%% OTP 27+: dbg traces a process (its own pattern on a function, its own tracer) while
%% beamflame traces the same process; both get their events, and afterwards dbg's flags
%% and patterns are exactly as dbg left them.
coexists_with_dbg(Config) ->
    Node = ?config(node, Config),
    case erpc:call(Node, erlang, system_info, [otp_release]) of
        R when R < "27" -> {skip, "OTP 25-26 have no trace sessions (another_tracer_is_refused)"};
        _ -> coexists_with_dbg(Node, Config)
    end.

coexists_with_dbg(Node, Config) ->
    Pid = erpc:call(Node, erlang, spawn, [bf_tracework, tick_loop, [5]]),
    {ok, Before} = erpc:call(Node, ?MODULE, on_peer, [dbg_on, [Pid]]),
    ?assertMatch(#{legacy := #{flags := {flags, [call]}, pattern := {traced, local}}}, Before),
    #{dbg := #{process_sessions := PS, function_sessions := FS}} = Before,
    ?assert(lists:member(dbg, PS) andalso lists:member(dbg, FS), Before),
    ?assert(maps:get(dbg_events, Before) > 0 andalso maps:get(legacy_events, Before) > 0),
    {ok, Raw, _} = peer(Config, trace_process_raw, [Pid, #{duration => 300}]),
    %% beamflame saw the calls the other two trace
    ?assertNotEqual(nomatch, binary:match(Raw, <<"bf_tracework:tick/1">>)),
    timer:sleep(100),
    {ok, After} = erpc:call(Node, ?MODULE, on_peer, [dbg_events, [Pid]]),
    %% both kept getting their events during beamflame's run and after it, and what they
    %% set is exactly as they set it
    ?assert(maps:get(dbg_events, After) > maps:get(dbg_events, Before)),
    ?assert(maps:get(legacy_events, After) > maps:get(legacy_events, Before)),
    ?assertEqual(maps:with([legacy, dbg], Before), maps:with([legacy, dbg], After)),
    erpc:call(Node, ?MODULE, on_peer, [dbg_off, [Pid]]),
    erpc:call(Node, erlang, exit, [Pid, kill]),
    nothing_left(Config).

%% erlang/otp#6448: removing a NIF tracer from a process on a dirty scheduler could crash
%% OTP 25.2 with the running flag. Trace such a process on and off many times.
dirty_work_is_safe(Config) ->
    Node = ?config(node, Config),
    Pid = erpc:call(Node, erlang, spawn, [bf_tracework, dirty_loop, [5]]),
    [{ok, _, _} = peer(Config, trace_process, [Pid, #{duration => 20}]) || _ <- lists:seq(1, 30)],
    {ok, _, _} = peer(Config, trace_process, [Pid, #{duration => 200}]),
    ?assert(erpc:call(Node, erlang, is_process_alive, [Pid])),
    %% asking for the running flag where it is unsafe is refused with the reason
    case erpc:call(Node, erlang, system_info, [otp_release]) of
        "25" ->
            {error, {bad_option, sleep, true, Why}} =
                peer(Config, trace_process, [Pid, #{duration => 20, sleep => true}]),
            ?assertNotEqual(nomatch, string:find(Why, "6448"));
        _ ->
            ok
    end,
    erpc:call(Node, erlang, exit, [Pid, kill]),
    nothing_left(Config).

eflambe_names(Config) ->
    {ok, _, Raw, _} = peer(Config, trace_raw, [{bf_tracework, parent, []}, #{names => eflambe}]),
    %% eflambe's naming: the pid as root frame, then Module:function/Arity
    ?assertMatch({match, _}, re:run(Raw, "^<[0-9]+\\.[0-9]+\\.[0-9]+>;bf_tracework:parent/0;"
                                         "erlang:spawn/1 [0-9]+$", [multiline])),
    nothing_left(Config).

bad_options(Config) ->
    ?assertMatch({error, {bad_option, bogus, 1, _}},
                 peer(Config, trace, [{bf_tracework, leaf, []}, #{bogus => 1}])),
    ?assertMatch({error, {bad_argument, _, _}},
                 erpc:call(?config(node, Config), beamflame, trace, [not_a_call, #{}])).

%% The x of the first drawn frame named Name in an SVG.
frame_x(Svg, Name) ->
    Re = "<title>" ++ Name ++ " \\([^<]*</title><rect x=\"([0-9.]+)\"",
    {match, [X | _]} = re:run(Svg, Re, [{capture, all_but_first, list}]),
    list_to_float(case lists:member($., X) of true -> X; false -> X ++ ".0" end).

%% A trace profile keeps its stacks in the order they first occurred: flamechart draws
%% zeta/0 (called first) left of alpha/0; the default graph sorts them by name.
flamechart_keeps_call_order(Config) ->
    Frames = ["bf_tracework:zeta/0", "bf_tracework:alpha/0"],
    [Z, A] = peer(Config, svg_x, [{bf_tracework, ordered, []}, #{weight => calls},
                                  #{flamechart => true}, Frames]),
    ?assert(Z < A),
    [Z2, A2] = peer(Config, svg_x, [{bf_tracework, ordered, []}, #{weight => calls}, #{}, Frames]),
    ?assert(A2 < Z2),
    nothing_left(Config).
