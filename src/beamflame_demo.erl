%% @doc The demo behind `make demo': a workload with a known shape, and a recorder that
%% profiles it live from another (hidden) node.
%%
%% The workload is a gen_server, `beamflame_demo_server', called by two client processes.
%% Each request is parsed (about half of the work), sorted and summed (about a third) and
%% stored in ETS (the rest), so the flame graph shows three clear towers under
%% `handle_call/3'.
-module(beamflame_demo).
-behaviour(gen_server).
-export([start_workload/0, record/3, profile_here/1]).
-export([init/1, handle_call/3, handle_cast/2]).

-define(SERVER, beamflame_demo_server).

%% @doc Starts the workload on this node (the demo node's -eval).
-spec start_workload() -> ok.
start_workload() ->
    {ok, _} = gen_server:start({local, ?SERVER}, ?MODULE, [], []),
    _ = [spawn(fun client/0) || _ <- [1, 2]],
    ok.

client() ->
    Payload = iolist_to_binary([integer_to_list(rand:uniform(1000000)) ++ ","
                                || _ <- lists:seq(1, 200)]),
    _ = gen_server:call(?SERVER, {request, Payload}, infinity),
    client().

-spec init([]) -> {ok, ets:tid()}.
init([]) ->
    {ok, ets:new(beamflame_demo_store, [set])}.

-spec handle_call(term(), gen_server:from(), ets:tid()) -> {reply, term(), ets:tid()}.
handle_call({request, Payload}, _From, Store) ->
    Numbers = parse(Payload),
    Sum = compute(Numbers),
    _ = store(Store, Sum),
    {reply, Sum, Store}.

-spec handle_cast(term(), ets:tid()) -> {noreply, ets:tid()}.
handle_cast(_Msg, Store) ->
    {noreply, Store}.

parse(Payload) ->
    [binary_to_integer(X) || X <- binary:split(Payload, <<",">>, [global, trim]),
                             X =/= <<>>].

compute(Numbers) ->
    lists:sum(lists:sort(Numbers)).

store(Store, Sum) ->
    ets:insert(Store, {Sum rem 1000, Sum}),
    ets:lookup(Store, Sum rem 997).

%% @doc On the target: samples and returns what can cross nodes (binaries and a map).
-spec profile_here(beamflame:sample_opts()) ->
          {ok, #{folded := binary(), svg := binary(), info := map()}} | {error, term()}.
profile_here(Opts) ->
    case beamflame:sample(Opts) of
        {ok, P} ->
            Svg = beamflame:svg(P, #{title => "beamflame demo: " ++ atom_to_list(node())}),
            {ok, #{folded => beamflame:folded(P), svg => Svg, info => beamflame:info(P)}};
        Error ->
            Error
    end.

%% @doc On the control node (started hidden): waits for the demo node, profiles it for
%% DurationMs and writes `beamflame-demo.svg' and `.folded' into OutDir.
-spec record(atom(), file:filename(), pos_integer()) -> no_return().
record(ShortName, OutDir, DurationMs) ->
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Node = list_to_atom(atom_to_list(ShortName) ++ "@" ++ Host),
    case wait_for(Node, 50) of
        ok ->
            Result = erpc:call(Node, ?MODULE, profile_here, [#{duration => DurationMs}],
                               DurationMs + 30000),
            write_result(Node, OutDir, Result);
        error ->
            io:format(standard_error, "demo: node ~p did not come up (is epmd running?)~n",
                      [Node]),
            halt(1)
    end.

-spec write_result(node(), file:filename(), term()) -> no_return().
write_result(Node, OutDir, {ok, #{folded := Folded, svg := Svg, info := Info}}) ->
    ok = filelib:ensure_dir(filename:join(OutDir, "x")),
    SvgPath = filename:absname(filename:join(OutDir, "beamflame-demo.svg")),
    ok = file:write_file(SvgPath, Svg),
    ok = file:write_file(filename:join(OutDir, "beamflame-demo.folded"), Folded),
    #{samples := Samples, stacks := Stacks, duration_ms := Ms} = Info,
    io:format("sampled ~s for ~b ms: ~b samples, ~b distinct stacks~n"
              "flame graph: ~s~n", [Node, Ms, Samples, Stacks, SvgPath]),
    halt(0);
write_result(Node, _OutDir, Other) ->
    io:format(standard_error, "demo: profiling ~p failed: ~p~n", [Node, Other]),
    halt(1).

wait_for(_Node, 0) ->
    error;
wait_for(Node, N) ->
    case net_kernel:hidden_connect_node(Node) andalso
        erpc:call(Node, erlang, whereis, [?SERVER], 5000) =/= undefined of
        true -> ok;
        false -> timer:sleep(200), wait_for(Node, N - 1)
    end.
