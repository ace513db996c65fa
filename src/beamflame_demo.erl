%% @doc The recorder behind `make demo': from a hidden node, waits for the demo node
%% (which runs demo/demo_shop.erl and has never loaded beamflame), attaches to it,
%% samples it and writes the flame graph. This is the same path a user takes with a
%% production node: {@link beamflame:sample/2}.
-module(beamflame_demo).
-export([record/3]).

%% @doc Records `ShortName' (on this host) for `DurationMs' and writes
%% `beamflame-demo.svg', `.html' and `.folded' into `OutDir'; halts with 0 or 1.
-spec record(atom(), file:filename(), pos_integer()) -> no_return().
record(ShortName, OutDir, DurationMs) ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Node = list_to_atom(atom_to_list(ShortName) ++ "@" ++ Host),
    case wait_for(Node, 50) of
        ok ->
            Before = rpc(Node, code, is_loaded, [beamflame]),
            write_result(Node, OutDir, Before, beamflame:sample(Node, #{duration => DurationMs}));
        error ->
            io:format(standard_error, "demo: node ~p did not come up (is epmd running?)~n", [Node]),
            halt(1)
    end.

-spec write_result(node(), file:filename(), term(), term()) -> no_return().
write_result(Node, OutDir, Before, {ok, #{folded := Folded, svg := Svg, html := Html, info := Info}}) ->
    ok = filelib:ensure_dir(filename:join(OutDir, "x")),
    SvgPath = filename:absname(filename:join(OutDir, "beamflame-demo.svg")),
    ok = file:write_file(SvgPath, Svg),
    ok = file:write_file(filename:join(OutDir, "beamflame-demo.html"), Html),
    ok = file:write_file(filename:join(OutDir, "beamflame-demo.folded"), Folded),
    #{samples := Samples, stacks := Stacks, duration_ms := Ms} = Info,
    io:format("attached to ~s as a hidden node (beamflame loaded there before: ~p; it is now)~n"
              "sampled it for ~b ms: ~b samples, ~b distinct stacks~n"
              "flame graph: ~s~n", [Node, Before =/= false, Ms, Samples, Stacks, SvgPath]),
    halt(0);
write_result(Node, _OutDir, _Before, Other) ->
    io:format(standard_error, "demo: profiling ~p failed: ~p~n", [Node, Other]),
    halt(1).

wait_for(_Node, 0) ->
    error;
wait_for(Node, N) ->
    case net_kernel:hidden_connect_node(Node) andalso
        rpc(Node, erlang, whereis, [demo_shop]) =/= undefined of
        true -> ok;
        false -> timer:sleep(200), wait_for(Node, N - 1)
    end.

rpc(Node, M, F, A) ->
    try erpc:call(Node, M, F, A, 5000) catch _:_ -> undefined end.
