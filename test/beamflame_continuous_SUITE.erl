%% Always-on profiling on real peers: history of a window finds a designed split; windows
%% before and after a change of workload differ; memory stays under max_bytes with many
%% distinct stacks; the sampler outlives the caller that started it and stops on
%% continuous_stop and on application stop with nothing left; pushing to a Pyroscope-like
%% receiver (an HTTP listener here, no Pyroscope server can be installed) retries and
%% recovers, drops what a silent receiver never takes, and its bodies read in go tool
%% pprof; and the command line's continuous and history verbs.
-module(beamflame_continuous_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1, init_per_testcase/2, end_per_testcase/2]).
-export([history_finds_the_split/1, windows_differ_when_the_work_changed/1,
         memory_stays_under_the_cap/1, outlives_its_caller_and_stops_clean/1,
         application_stop_ends_it/1, push_retries_then_recovers/1,
         push_drops_what_a_silent_receiver_never_takes/1, command_line_verbs/1]).
-export([receiver_init/3, distinct_stacks/1]).

all() ->
    [history_finds_the_split, windows_differ_when_the_work_changed, memory_stays_under_the_cap,
     outlives_its_caller_and_stops_clean, application_stop_ends_it, push_retries_then_recovers,
     push_drops_what_a_silent_receiver_never_takes, command_line_verbs].

init_per_suite(Config) ->
    ok = bf_test_util:distributed(),
    Config.

end_per_suite(_Config) ->
    ok.

init_per_testcase(_Case, Config) ->
    %% this node's cookie, whatever an earlier suite set it to
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_cont),
                                         args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                  "-pa" | code:get_path()]}),
    ok = bf_probe:push(Node),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    [{peer, Peer}, {node, Node}, {depth, Depth} | Config].

end_per_testcase(_Case, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok.

on(Config, M, F, A) ->
    erpc:call(?config(node, Config), M, F, A, 60000).

%% Sum of the counts of the folded lines whose stack holds Pattern.
weight(Folded, Pattern) ->
    lists:sum([binary_to_integer(lists:last(binary:split(L, <<" ">>, [global])))
               || L <- binary:split(Folded, <<"\n">>, [global, trim_all]),
                  binary:match(L, Pattern) =/= nomatch]).

nothing_left(Config) ->
    Node = ?config(node, Config),
    bf_test_util:wait_until(
      fun() -> on(Config, bf_probe, leftovers, [?config(depth, Config)]) =:= [] andalso
                   not lists:keymember(beamflame, 1, on(Config, application,
                                                        which_applications, []))
      end, 200, fun() -> {Node, on(Config, bf_probe, leftovers, [?config(depth, Config)])} end).

%%% Cases ---------------------------------------------------------------------------------

history_finds_the_split(Config) ->
    Node = ?config(node, Config),
    W = on(Config, bf_workload, start_split, [3, 1]),
    ok = beamflame:continuous(Node, #{rate => 99, slice => 1}),
    timer:sleep(5500),
    {ok, #{folded := F, info := Info, svg := Svg}} = beamflame:history(Node, #{last => 5}),
    A = weight(F, <<"bf_workload:hot_a/1">>),
    B = weight(F, <<"bf_workload:hot_b/1">>),
    ct:pal("a ~p b ~p ~p", [A, B, Info]),
    %% within 8 points: three standard deviations of a share of 75% over 300 samples
    %% (the one-shot sampler's suite holds 5 points over a 5 s run of its own)
    ?assert(A + B >= 300),
    ?assert(abs(100 * A / (A + B) - 75) =< 8),
    ?assertMatch(#{window := {_, _}, slices := N} when N >= 5, Info),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    #{running := true, slices := Kept, memory := Mem} = beamflame:continuous_info(Node),
    ?assert(Kept >= 5 andalso Mem > 0),
    on(Config, erlang, exit, [W, kill]),
    ok = beamflame:continuous_stop(Node),
    nothing_left(Config).

windows_differ_when_the_work_changed(Config) ->
    ok = on(Config, beamflame, continuous, [#{rate => 99, slice => 1}]),
    T0 = erlang:system_time(second),
    A = on(Config, bf_workload, start_busy, [1]),
    timer:sleep(4200),
    on(Config, erlang, exit, [hd(A), kill]),
    T1 = erlang:system_time(second),
    B = on(Config, bf_workload, start_split, [0, 1]),   % hot_b/1 only
    timer:sleep(5200),
    T2 = erlang:system_time(second),
    on(Config, erlang, exit, [B, kill]),
    %% whole seconds, and a window takes every slice it overlaps, whole: two seconds off
    %% the change (a 1 s slice and the rounding) on either side
    {ok, Before} = on(Config, beamflame_remote, history, [#{from => T0 + 1, to => T1 - 2}]),
    {ok, After} = on(Config, beamflame_remote, history,
                     [#{from => calendar:system_time_to_universal_time(T1 + 2, second),
                        to => calendar:system_time_to_universal_time(T2 - 1, second)}]),
    FB = maps:get(folded, Before),
    FA = maps:get(folded, After),
    ?assert(weight(FB, <<"bf_workload:hot_a/1">>) > 0),
    ?assertEqual(0, weight(FB, <<"bf_workload:hot_b/1">>)),
    ?assert(weight(FA, <<"bf_workload:hot_b/1">>) > 0),
    ?assertEqual(0, weight(FA, <<"bf_workload:hot_a/1">>)),
    %% the two windows diff like any two profiles
    Diff = beamflame:diff(FB, FA, #{}),
    ?assertMatch(<<"<?xml", _/binary>>, Diff),
    ?assertMatch({error, {bad_option, window, _, _}},
                 on(Config, beamflame, history, [#{from => T2, to => T0}])),
    ok = on(Config, beamflame, continuous_stop, []).

%% Processes in recursions of many depths and names: thousands of distinct stacks a slice.
distinct_stacks(N) ->
    [spawn(fun Loop() -> deep(rand:uniform(60) + 1, I), Loop() end) || I <- lists:seq(1, N)].

deep(0, I) -> lists:foldl(fun(X, A) -> X + A + I end, 0, lists:seq(1, 200));
deep(D, I) when D rem 3 =:= 0 -> 1 + deep(D - 1, I);
deep(D, I) when D rem 3 =:= 1 -> 2 + deep(D - 1, I);
deep(D, I) -> 3 + deep(D - 1, I).

memory_stays_under_the_cap(Config) ->
    Max = 1048576,
    _ = on(Config, ?MODULE, distinct_stacks, [500]),
    ok = on(Config, beamflame, continuous, [#{rate => 200, slice => 1, max_bytes => Max,
                                              states => wall, group => process}]),
    %% polled until the first slices have gone for the cap (how soon depends on how many
    %% distinct stacks a slice gathers: on how fast this machine is), 20 s at most
    Poll = fun Poll(0, Acc) -> lists:reverse(Acc);
               Poll(N, Acc) ->
                   timer:sleep(1000),
                   I = on(Config, beamflame, continuous_info, []),
                   case I of
                       #{dropped := D} when D > 0 -> lists:reverse([I | Acc]);
                       _ -> Poll(N - 1, [I | Acc])
                   end
           end,
    Samples = Poll(20, []),
    ct:pal("after ~b s: ~p", [length(Samples), lists:last(Samples)]),
    [?assert(M =< Max) || #{memory := M} <- Samples],
    #{dropped := Dropped, slice_cap := Cap} = lists:last(Samples),
    ?assert(Dropped > 0),
    ?assertEqual(Max div 4, Cap),
    ok = on(Config, beamflame, continuous_stop, []).

outlives_its_caller_and_stops_clean(Config) ->
    Node = ?config(node, Config),
    Cookie = atom_to_list(erlang:get_cookie()),
    {ok, CPeer, C} = peer:start(#{name => peer:random_name(bf_caller),
                                  args => ["-setcookie", Cookie, "-hidden", "-pa"
                                           | code:get_path()]}),
    ok = erpc:call(C, beamflame, continuous, [Node, #{slice => 1}]),
    erpc:cast(C, erlang, halt, []),
    catch peer:stop(CPeer),
    timer:sleep(2500),
    #{running := true, slices := N} = beamflame:continuous_info(Node),
    ?assert(N >= 1),
    ?assert(on(Config, beamflame_flags, holders, []) =/= []),
    ok = beamflame:continuous_stop(Node),
    %% the application its start started is stopped again, nothing left
    nothing_left(Config),
    ?assertEqual(#{running => false}, on(Config, beamflame, continuous_info, [])).

application_stop_ends_it(Config) ->
    ok = on(Config, beamflame, continuous, [#{slice => 1}]),
    timer:sleep(1500),
    ok = on(Config, application, stop, [beamflame]),
    nothing_left(Config),
    ?assertEqual(#{running => false}, on(Config, beamflame, continuous_info, [])).

%%% A Pyroscope-like receiver: answers `Fail' requests with 500, then 200 (or never, with
%%% Fail = silent); sends each request's line and body to the test process.

receiver(Fail) ->
    Self = self(),
    {ok, L} = gen_tcp:listen(0, [binary, {active, false}, {packet, raw}, {reuseaddr, true},
                                 {ip, {127, 0, 0, 1}}]),
    {ok, Port} = inet:port(L),
    Pid = spawn_link(?MODULE, receiver_init, [L, Fail, Self]),
    ok = gen_tcp:controlling_process(L, Pid),
    {Pid, Port}.

receiver_init(L, Fail, Test) ->
    {ok, S} = gen_tcp:accept(L),
    {Line, Headers, Body} = read_request(S),
    Test ! {request, Line, Headers, Body},
    case Fail of
        silent -> timer:sleep(60000);
        N when N > 0 -> gen_tcp:send(S, <<"HTTP/1.1 500 Internal Server Error\r\n"
                                          "Content-Length: 0\r\n\r\n">>);
        _ -> gen_tcp:send(S, <<"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n">>)
    end,
    gen_tcp:close(S),
    receiver_init(L, case Fail of silent -> silent; N2 -> N2 - 1 end, Test).

read_request(S) ->
    read_request(S, <<>>).

read_request(S, Acc) ->
    case binary:split(Acc, <<"\r\n\r\n">>) of
        [Head, Rest] ->
            [Line | Hs] = binary:split(Head, <<"\r\n">>, [global]),
            Headers = [list_to_tuple(binary:split(H, <<": ">>)) || H <- Hs],
            Len = binary_to_integer(proplists:get_value(<<"Content-Length">>, Headers)),
            {Line, Headers, read_body(S, Rest, Len)};
        [_] ->
            {ok, More} = gen_tcp:recv(S, 0, 10000),
            read_request(S, <<Acc/binary, More/binary>>)
    end.

read_body(_S, Acc, Len) when byte_size(Acc) >= Len -> binary:part(Acc, 0, Len);
read_body(S, Acc, Len) ->
    {ok, More} = gen_tcp:recv(S, 0, 10000),
    read_body(S, <<Acc/binary, More/binary>>, Len).

requests(0, _Timeout) -> [];
requests(N, Timeout) ->
    receive {request, Line, Headers, Body} -> [{Line, Headers, Body} | requests(N - 1, Timeout)]
    after Timeout -> error({requests_missing, N})
    end.

push_retries_then_recovers(Config) ->
    {_Recv, Port} = receiver(2),
    Url = "http://127.0.0.1:" ++ integer_to_list(Port),
    _ = on(Config, bf_workload, start_busy, [1]),
    ok = on(Config, beamflame, continuous,
            [#{slice => 1, rate => 99,
               push => #{url => Url, app => "shop.cpu", labels => #{env => "test"}}}]),
    %% two refused (500), the first slice's third attempt taken; then each slice
    [{L1, _, _}, {L2, _, _}, {L3, H3, Body} | _] = requests(4, 20000),
    ?assertEqual(L1, L2),                 % the same slice, retried
    ?assertEqual(L2, L3),
    {match, [Query]} = re:run(L3, "^POST /ingest\\?([^ ]*) HTTP/1.1$",
                              [{capture, all_but_first, binary}]),
    Q = uri_string:dissect_query(Query),
    Name = proplists:get_value(<<"name">>, Q),
    ?assertNotEqual(nomatch, binary:match(Name, <<"shop.cpu{">>)),
    ?assertNotEqual(nomatch, binary:match(Name, <<"env=test">>)),
    ?assertNotEqual(nomatch, binary:match(Name, <<"node=">>)),
    ?assertEqual(<<"pprof">>, proplists:get_value(<<"format">>, Q)),
    ?assertEqual(<<"99">>, proplists:get_value(<<"sampleRate">>, Q)),
    From = binary_to_integer(proplists:get_value(<<"from">>, Q)),
    Until = binary_to_integer(proplists:get_value(<<"until">>, Q)),
    ?assert(Until > From andalso Until - From =< 2),
    ?assertEqual(<<"application/octet-stream">>, proplists:get_value(<<"Content-Type">>, H3)),
    %% Go's own reader takes the body
    File = filename:join(?config(priv_dir, Config), "pushed.pb.gz"),
    ok = file:write_file(File, Body),
    Top = os:cmd("GOCACHE=" ++ ?config(priv_dir, Config) ++ "/gocache GOTOOLCHAIN=local "
                 "go tool pprof -top " ++ File ++ " 2>/dev/null"),
    ?assertNotEqual(nomatch, string:find(Top, "bf_workload:hot_a/1")),
    #{push := Push} = on(Config, beamflame, continuous_info, []),
    ct:pal("~p", [Push]),
    ?assertMatch(#{failed := F, sent := S} when F >= 2 andalso S >= 1, Push),
    ok = on(Config, beamflame, continuous_stop, []).

push_drops_what_a_silent_receiver_never_takes(Config) ->
    {_Recv, Port} = receiver(silent),
    Url = "http://127.0.0.1:" ++ integer_to_list(Port) ++ "/",
    ok = on(Config, beamflame, continuous,
            [#{slice => 1, rate => 50,
               push => #{url => Url, app => "shop", timeout => 200, queue => 2}}]),
    timer:sleep(9000),
    #{push := Push, slices := Slices} = Info = on(Config, beamflame, continuous_info, []),
    ct:pal("~p", [Info]),
    %% the sampler went on regardless; the push dropped what it could not send
    ?assert(Slices >= 7),
    ?assertMatch(#{dropped := D, sent := 0} when D >= 1, Push),
    %% the receiver took the first connection and never answered; the others it never
    %% accepted
    ?assertMatch(#{last_error := {_, timeout}}, Push),
    ok = on(Config, beamflame, continuous_stop, []),
    nothing_left_but_code(Config).

nothing_left_but_code(Config) ->
    bf_test_util:wait_until(fun() -> not is_pid(on(Config, erlang, whereis,
                                                   [beamflame_continuous])) end).

command_line_verbs(Config) ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    Node = atom_to_list(?config(node, Config)),
    Env = "BEAMFLAME_COOKIE=" ++ atom_to_list(erlang:get_cookie()) ++ " ",
    Run = fun(Args) ->
                  Out = os:cmd(Env ++ Exe ++ " " ++ Args ++ " 2>&1; echo rc=$?"),
                  ct:pal("beamflame ~s:~n~s", [Args, Out]),
                  Out
          end,
    _ = on(Config, bf_workload, start_busy, [1]),
    ?assertNotEqual(nomatch, string:find(Run("continuous start " ++ Node ++
                                             " --rate 50 --slice 1"), "rc=0")),
    %% a second start is refused, naming the fix
    Again = Run("continuous start " ++ Node),
    ?assertNotEqual(nomatch, string:find(Again, "stop it first")),
    ?assertNotEqual(nomatch, string:find(Again, "rc=12")),
    timer:sleep(3000),
    Info = Run("continuous info " ++ Node),
    ?assertNotEqual(nomatch, string:find(Info, "running: true")),
    ?assertNotEqual(nomatch, string:find(Info, "rate: 50")),
    Out = filename:join(?config(priv_dir, Config), "last.folded"),
    ?assertNotEqual(nomatch, string:find(Run("history " ++ Node ++ " --last 3s -o " ++ Out),
                                         "rc=0")),
    {ok, F} = file:read_file(Out),
    ?assert(weight(F, <<"bf_workload:hot_a/1">>) > 0),
    Now = erlang:system_time(second),
    Svg = filename:join(?config(priv_dir, Config), "window.svg"),
    ?assertNotEqual(nomatch, string:find(Run("history " ++ Node ++ " --from " ++
                                             integer_to_list(Now - 3) ++ " --to " ++
                                             integer_to_list(Now) ++ " -o " ++ Svg), "rc=0")),
    ?assertNotEqual(nomatch, string:find(Run("history " ++ Node ++ " --last 3x -o " ++ Svg),
                                         "rc=2")),
    ?assertNotEqual(nomatch, string:find(Run("continuous stop " ++ Node), "rc=0")),
    ?assertNotEqual(nomatch, string:find(Run("continuous info " ++ Node), "running: false")),
    nothing_left(Config).
