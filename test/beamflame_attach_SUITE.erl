%% Attaching to nodes that never loaded beamflame, remote runs and their guard, and the
%% cluster view, with real distributed peer nodes (real cookies, hidden connections).
-module(beamflame_attach_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-export([all/0, init_per_suite/1, end_per_suite/1, init_per_testcase/2, end_per_testcase/2]).
-export([attach_pushes_code_and_nif_and_is_idempotent/1, connection_is_hidden/1,
         remote_sample_returns_binaries/1, notebook_style_erpc_gets_an_svg/1,
         caller_death_stops_the_remote_run/1, other_version_is_refused/1,
         detach_removes_everything/1, unreachable_node_fails_fast/1,
         cluster_of_three_merges_and_survives_a_bad_node/1, remote_trace_and_capture/1,
         remote_native_on_a_bare_node/1, every_ending_of_an_erpc_session_leaves_nothing/1,
         caller_death_stops_a_remote_trace/1, attach_compiles_on_the_node/1,
         remote_runs_leave_no_application/1]).
%% run on the notebook-style node
-export([notebook_call/2]).

all() ->
    [attach_pushes_code_and_nif_and_is_idempotent, connection_is_hidden,
     remote_sample_returns_binaries, notebook_style_erpc_gets_an_svg,
     caller_death_stops_the_remote_run, other_version_is_refused, detach_removes_everything,
     unreachable_node_fails_fast, cluster_of_three_merges_and_survives_a_bad_node,
     remote_trace_and_capture, caller_death_stops_a_remote_trace,
     remote_native_on_a_bare_node, attach_compiles_on_the_node,
     remote_runs_leave_no_application, every_ending_of_an_erpc_session_leaves_nothing].

init_per_suite(Config) ->
    ok = bf_test_util:distributed(),
    Cookie = list_to_atom("bfcookie" ++ integer_to_list(rand:uniform(1000000))),
    erlang:set_cookie(Cookie),
    [{cookie, Cookie} | Config].

end_per_suite(_Config) ->
    ok.

%% A peer without beamflame on its code path.
start_bare(Config, Extra) ->
    Cookie = atom_to_list(?config(cookie, Config)),
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_bare),
                                         args => Extra ++ ["-setcookie", Cookie, "-hidden"]}),
    {Peer, Node}.

init_per_testcase(Case, Config) ->
    N = case Case of
            cluster_of_three_merges_and_survives_a_bad_node -> 3;
            _ -> 1
        end,
    Extra = case Case of remote_native_on_a_bare_node -> ["+JPperf", "map"]; _ -> [] end,
    Peers = [start_bare(Config, Extra) || _ <- lists:seq(1, N)],
    [{peers, Peers}, {node, element(2, hd(Peers))} | Config].

end_per_testcase(_Case, Config) ->
    [catch peer:stop(P) || {P, _} <- ?config(peers, Config)],
    ok.

push_workload(Node) ->
    ok = bf_probe:push(Node).

attach_pushes_code_and_nif_and_is_idempotent(Config) ->
    Node = ?config(node, Config),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])),
    ?assertEqual(ok, beamflame:attach(Node)),
    ?assertMatch({file, _}, erpc:call(Node, code, is_loaded, [beamflame_nif])),
    _ = application:load(beamflame),
    {ok, Vsn} = application:get_key(beamflame, vsn),   % this build's, from the .app.src
    ?assertEqual({ok, Vsn}, erpc:call(Node, application, get_key, [beamflame, vsn])),
    ?assert(is_pid(erpc:call(Node, erlang, whereis, [beamflame_sup]))),
    %% the library was written to a private directory and deleted after loading
    ?assertEqual([], erpc:call(Node, filelib, wildcard, ["/tmp/beamflame-*"])),
    ?assertEqual(ok, beamflame:attach(Node)).

connection_is_hidden(Config) ->
    Node = ?config(node, Config),
    ok = beamflame:attach(Node),
    ?assert(lists:member(Node, nodes(hidden))),
    ?assertNot(lists:member(Node, nodes())).

remote_sample_returns_binaries(Config) ->
    Node = ?config(node, Config),
    ok = beamflame:attach(Node),
    push_workload(Node),
    W = erpc:call(Node, bf_workload, start_split, [3, 1]),
    {ok, R} = beamflame:sample(Node, #{duration => 1500}),
    erpc:call(Node, erlang, exit, [W, kill]),
    #{folded := Folded, svg := Svg, html := Html, info := Info, truncated := false} = R,
    ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1">>)),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Svg, <<"bf_workload:hot_a/1">>)),
    ?assertMatch(<<"<!DOCTYPE html>", _/binary>>, Html),
    ?assertMatch(#{mode := sample, node := Node}, Info),
    ?assertMatch({error, {bad_option, bogus, 1, _}}, beamflame:sample(Node, #{bogus => 1})).

%% On the notebook-style node: exactly what a Livebook cell would do with :erpc.
notebook_call(Node, Opts) ->
    erpc:call(Node, beamflame, remote_sample, [self(), Opts], 30000).

notebook_style_erpc_gets_an_svg(Config) ->
    Node = ?config(node, Config),
    ok = beamflame:attach(Node),
    push_workload(Node),
    _ = erpc:call(Node, bf_workload, start_busy, [1]),
    %% a separate hidden node that has this suite's code but not beamflame's
    Cookie = atom_to_list(?config(cookie, Config)),
    {ok, NbPeer, Nb} = peer:start_link(#{name => peer:random_name(bf_notebook),
                                         args => ["-setcookie", Cookie, "-hidden"]}),
    {M, Bin, File} = code:get_object_code(?MODULE),
    {module, M} = erpc:call(Nb, code, load_binary, [M, File, Bin]),
    %% a caller without beamflame asks the target to render (nothing is rendered there
    %% unless asked)
    {ok, #{svg := Svg}} = erpc:call(Nb, ?MODULE, notebook_call,
                                    [Node, #{duration => 800, render => [svg]}]),
    {ok, Plain} = erpc:call(Nb, ?MODULE, notebook_call, [Node, #{duration => 300}]),
    ?assertEqual([folded, info, truncated], lists:sort(maps:keys(Plain))),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Svg, <<"bf_workload:hot_a/1">>)),
    peer:stop(NbPeer).

app_running(Node) ->
    lists:keymember(beamflame, 1, erpc:call(Node, application, which_applications, [])).

%% A remote run by an Erlang node (the notebook's path, beamflame:sample/2) leaves nothing
%% on the target, the application it started included: when it ends normally, and when
%% the calling node halts in the middle of it.
remote_runs_leave_no_application(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    ?assertNot(app_running(Node)),
    {ok, _} = beamflame:sample(Node, #{duration => 300}),
    wait_until(fun() -> not app_running(Node) end),
    ?assertEqual([], erpc:call(Node, bf_probe, leftovers, [Depth])),
    %% a caller node that halts mid-run
    Cookie = atom_to_list(?config(cookie, Config)),
    {ok, CPeer, C} = peer:start(#{name => peer:random_name(bf_caller),
                                  args => ["-setcookie", Cookie, "-hidden", "-pa",
                                           filename:dirname(code:which(beamflame))]}),
    _ = erpc:call(C, erlang, spawn, [beamflame, sample, [Node, #{duration => 60000}]]),
    wait_until(fun() -> app_running(Node) andalso
                            erpc:call(Node, beamflame_flags, holders, []) =/= [] end),
    erpc:cast(C, erlang, halt, []),
    catch peer:stop(CPeer),
    wait_until(fun() -> not app_running(Node) end),
    ?assertEqual([], erpc:call(Node, bf_probe, leftovers, [Depth])),
    %% an application someone else started is left running
    ok = erpc:call(Node, application, start, [beamflame]),
    {ok, _} = beamflame:sample(Node, #{duration => 300}),
    timer:sleep(500),
    ?assert(app_running(Node)).

caller_death_stops_the_remote_run(Config) ->
    Node = ?config(node, Config),
    ok = beamflame:attach(Node),
    Caller = spawn(fun() -> beamflame:sample(Node, #{duration => 60000}) end),
    wait_until(fun() -> erpc:call(Node, beamflame_flags, holders, []) =/= [] end),
    exit(Caller, kill),
    %% the guard on the target stops the run; the flags owner restores backtrace_depth
    wait_until(fun() -> erpc:call(Node, beamflame_flags, holders, []) =:= [] end),
    ?assertEqual([], [Id || {Id, _, _, _} <- erpc:call(Node, supervisor, which_children, [beamflame_sup]),
                            Id =/= beamflame_flags]).

other_version_is_refused(Config) ->
    Node = ?config(node, Config),
    ok = erpc:call(Node, application, load, [{application, beamflame, [{vsn, "0.0.1"}, {modules, []}]}]),
    _ = application:load(beamflame),
    {ok, Vsn} = application:get_key(beamflame, vsn),
    ?assertMatch({error, {version_mismatch, Vsn, "0.0.1", _}}, beamflame:attach(Node)),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])).

detach_removes_everything(Config) ->
    Node = ?config(node, Config),
    Before = lists:sort(erpc:call(Node, erlang, registered, [])),
    ok = beamflame:attach(Node),
    ok = beamflame:detach(Node),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame_nif])),
    ?assertEqual(false, lists:keymember(beamflame, 1, erpc:call(Node, application, loaded_applications, []))),
    ?assertEqual(Before, lists:sort(erpc:call(Node, erlang, registered, []))),
    ?assertMatch({error, {not_attached, Node, _}}, beamflame:detach(Node)).

unreachable_node_fails_fast(_Config) ->
    T0 = erlang:monotonic_time(millisecond),
    ?assertMatch({error, {unreachable, 'nosuch@localhost', _}}, beamflame:attach('nosuch@localhost')),
    ?assertMatch({error, {unreachable, _, _}}, beamflame:sample('nosuch@localhost', #{duration => 100})),
    ?assert(erlang:monotonic_time(millisecond) - T0 < 5000).

cluster_of_three_merges_and_survives_a_bad_node(Config) ->
    Nodes = [N || {_, N} <- ?config(peers, Config)],
    [begin ok = beamflame:attach(N), push_workload(N), erpc:call(N, bf_workload, start_busy, [1]) end
     || N <- Nodes],
    {ok, P, Status} = beamflame:sample_cluster(Nodes ++ ['nosuch@localhost'], #{duration => 800}),
    [?assertEqual(ok, maps:get(N, Status)) || N <- Nodes],
    ?assertMatch({error, {unreachable, _, _}}, maps:get('nosuch@localhost', Status)),
    Roots = lists:usort([hd(binary:split(L, <<";">>)) || L <- binary:split(beamflame:folded(P), <<"\n">>, [global, trim_all])]),
    ?assertEqual(lists:sort([atom_to_binary(N, utf8) || N <- Nodes]), Roots).

wait_until(F) ->
    bf_test_util:wait_until(F).

%% Trace mode on a node that never loaded beamflame: the call runs there, binaries return.
remote_trace_and_capture(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    {ok, #{value := ok, svg := Svg, folded := Folded, info := Info}} =
        beamflame:trace(Node, {bf_workload, hot_a, [3]}, #{}),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1;lists:foldl/3">>)),
    ?assertMatch(#{mode := trace, unit := us}, Info),
    _ = erpc:call(Node, bf_workload, start_split, [1, 1]),
    {ok, [#{folded := F1}, #{folded := F2}]} =
        beamflame:capture(Node, {bf_workload, hot_b, 1}, 2, #{timeout => 10000}),
    [?assertMatch({_, _}, binary:match(F, <<"bf_workload:hot_b/1">>)) || F <- [F1, F2]],
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    %% nothing left, the application it started included
    wait_until(fun() -> erpc:call(Node, bf_probe, leftovers, [Depth]) =:= [] end),
    wait_until(fun() -> not app_running(Node) end).

caller_death_stops_a_remote_trace(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    %% waits for a call that never comes, patterns set on the target meanwhile
    Caller = spawn(fun() -> beamflame:capture(Node, {bf_workload, stop_idle, 1}, 1,
                                              #{timeout => 60000}) end),
    wait_until(fun() -> lists:keymember(patterns, 1,
                                        erpc:call(Node, bf_probe, leftovers_but_app, [Depth]))
               end),
    exit(Caller, kill),
    wait_until(fun() -> erpc:call(Node, bf_probe, leftovers, [Depth]) =:= [] end),
    wait_until(fun() -> not app_running(Node) end).

%% Native mode through attach: the port program travels with the code and runs from a
%% private directory that is gone afterwards.
remote_native_on_a_bare_node(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    _ = erpc:call(Node, bf_workload, start_split, [1, 0]),
    {ok, #{svg := Svg, folded := Folded, info := Info}} =
        beamflame:native(Node, #{duration => 1000}),
    ct:log("~p", [Info]),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Folded, <<";bf_workload:hot_a/1;">>)),
    ?assertMatch(#{mode := native, capability := <<"full", _/binary>>}, Info),
    ?assertEqual([], erpc:call(Node, filelib, wildcard, ["/tmp/beamflame-native-*"])).

%% An older node with our NIF API gets beamflame compiled there from its abstract code
%% (BEAMFLAME_COMPILE_ON_NODE=1 takes that path on this release: 25, 27 and 29 all differ
%% in NIF API); without the compiler application it is refused naming both fixes.
attach_compiles_on_the_node(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    true = os:putenv("BEAMFLAME_COMPILE_ON_NODE", "1"),
    try
        [Compiler] = [D || D <- erpc:call(Node, code, get_path, []),
                           string:find(D, "/compiler-") =/= nomatch],
        true = erpc:call(Node, code, del_path, [Compiler]),
        {error, {mismatch, otp_release, _, _, Why}} = beamflame:attach(Node),
        ?assertNotEqual(nomatch, string:find(Why, "compiler application")),
        ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])),
        true = erpc:call(Node, code, add_patha, [Compiler]),
        ok = beamflame:attach(Node),
        _ = erpc:call(Node, bf_workload, start_split, [1, 0]),
        {ok, #{folded := Folded}} = beamflame:sample(Node, #{duration => 500}),
        ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1">>)),
        ok = beamflame:detach(Node)
    after
        os:unsetenv("BEAMFLAME_COMPILE_ON_NODE")
    end.

%% The erpc callers' sessions (beamflame_remote, as the command line's): for a sampling run,
%% a capture and a traced call, each way of ending (normal end, the caller killed, the
%% connection dropped) leaves no beamflame process, pattern, flag or application on the
%% target.
every_ending_of_an_erpc_session_leaves_nothing(Config) ->
    Node = ?config(node, Config),
    push_workload(Node),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    Clean = fun(Why) ->
                    %% (right after a disconnect, the first calls may find no connection)
                    bf_test_util:wait_until(fun() ->
                                       try not app_running(Node) andalso
                                               erpc:call(Node, bf_probe, leftovers, [Depth]) =:= []
                                       catch error:{erpc, noconnection} -> false
                                       end
                               end, 300,
                               fun() -> {Why, catch app_running(Node),
                                         catch erpc:call(Node, bf_probe, leftovers, [Depth])}
                               end),
                    ct:pal("clean after ~p", [Why])
            end,
    %% normal ends
    {ok, #{folded := _}} = beamflame:sample(Node, #{duration => 200}),
    Clean({sample, normal}),
    {ok, #{value := ok}} = beamflame:trace(Node, {bf_workload, hot_a, [2]}, #{}),
    Clean({call, normal}),
    W = erpc:call(Node, bf_workload, start_split, [1, 1]),
    {ok, [_]} = beamflame:capture(Node, {bf_workload, hot_b, 1}, 1, #{timeout => 10000}),
    erpc:call(Node, erlang, exit, [W, kill]),
    Clean({capture, normal}),
    %% long runs, ended by the caller's death, and by a dropped connection between a
    %% caller node and the target (this node keeps its own, the peer's control connection)
    Cookie = atom_to_list(?config(cookie, Config)),
    {ok, CPeer, C} = peer:start(#{name => peer:random_name(bf_caller),
                                  args => ["-setcookie", Cookie, "-hidden", "-pa",
                                           filename:dirname(code:which(beamflame))]}),
    Runs = [{sample, [Node, #{duration => 60000}],
             fun() -> erpc:call(Node, beamflame_flags, holders, []) =/= [] end},
            {capture, [Node, {bf_workload, stop_idle, 1}, 1, #{timeout => 60000}],
             fun() -> lists:keymember(patterns, 1, erpc:call(Node, bf_probe,
                                                             leftovers_but_app, [Depth])) end},
            {trace, [Node, {timer, sleep, [60000]}, #{timeout => 90000}],
             fun() -> erpc:call(Node, bf_probe, leftovers_but_app, [Depth]) =/= [] end}],
    [begin
         Caller = case How of
                      killed -> spawn(beamflame, F, Args);
                      disconnected -> erpc:call(C, erlang, spawn, [beamflame, F, Args])
                  end,
         wait_until(fun() -> try Started() catch _:_ -> false end end),
         case How of
             killed -> exit(Caller, kill);
             disconnected -> true = erpc:call(C, erlang, disconnect_node, [Node])
         end,
         Clean({F, How}),
         exit(Caller, kill)
     end || {F, Args, Started} <- Runs, How <- [killed, disconnected]],
    peer:stop(CPeer),
    ok.
