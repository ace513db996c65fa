%% The demo's workload, deliberately outside beamflame: the demo node runs only this (it
%% never loads beamflame itself; `make demo' attaches to it from a hidden node).
%%
%% A gen_server, `demo_shop', called by two client processes. Each request is parsed (about
%% half of the work), sorted and summed (about a third) and stored in ETS (the rest), so
%% the flame graph shows three clear towers under handle_call/3.
-module(demo_shop).
-behaviour(gen_server).
-export([start/0]).
-export([init/1, handle_call/3, handle_cast/2]).

-spec start() -> ok.
start() ->
    {ok, _} = gen_server:start({local, ?MODULE}, ?MODULE, [], []),
    _ = [spawn(fun client/0) || _ <- [1, 2]],
    ok.

client() ->
    Payload = iolist_to_binary([integer_to_list(rand:uniform(1000000)) ++ ","
                                || _ <- lists:seq(1, 200)]),
    _ = gen_server:call(?MODULE, {request, Payload}, infinity),
    client().

init([]) ->
    {ok, ets:new(demo_shop_store, [set])}.

handle_call({request, Payload}, _From, Store) ->
    Numbers = parse(Payload),
    Sum = compute(Numbers),
    _ = store(Store, Sum),
    {reply, Sum, Store}.

handle_cast(_Msg, Store) ->
    {noreply, Store}.

parse(Payload) ->
    [binary_to_integer(X) || X <- binary:split(Payload, <<",">>, [global, trim]), X =/= <<>>].

compute(Numbers) ->
    lists:sum(lists:sort(Numbers)).

store(Store, Sum) ->
    ets:insert(Store, {Sum rem 1000, Sum}),
    ets:lookup(Store, Sum rem 997).
