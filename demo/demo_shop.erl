%% The demo's workload, deliberately outside beamflame: the demo node runs only this (it
%% never loads beamflame itself; `make demo' attaches to it from a hidden node).
%%
%% A gen_server, `demo_shop', called by two client processes, each sending the same
%% payload of 4,000 numbers over and over. Each request keeps the server busy for a few
%% milliseconds: the numbers are parsed (about a quarter of its time), sorted and summed
%% (about half) and stored in ETS one row at a time (the rest). So the flame graph shows
%% three towers under handle_call/3, parse/1, compute/1 and store/2, in those proportions
%% (measured against native mode: README, "What each mode measures"); the clients, which
%% only wait for replies, are hardly in it. `scripts/demo.sh' checks that it does.
-module(demo_shop).
-behaviour(gen_server).
-export([start/0]).
-export([init/1, handle_call/3, handle_cast/2]).

-spec start() -> ok.
start() ->
    {ok, _} = gen_server:start({local, ?MODULE}, ?MODULE, [], []),
    _ = [spawn(fun() -> client(payload()) end) || _ <- [1, 2]],
    ok.

payload() ->
    iolist_to_binary([integer_to_list(rand:uniform(1000000)) ++ "," || _ <- lists:seq(1, 4000)]).

client(Payload) ->
    _ = gen_server:call(?MODULE, {request, Payload}, infinity),
    client(Payload).

init([]) ->
    {ok, ets:new(demo_shop_store, [set])}.

handle_call({request, Payload}, _From, Store) ->
    Numbers = parse(Payload),
    Sum = compute(Numbers),
    ok = store(Store, Numbers),
    {reply, Sum, Store}.

handle_cast(_Msg, Store) ->
    {noreply, Store}.

parse(Payload) ->
    [binary_to_integer(X) || X <- binary:split(Payload, <<",">>, [global, trim]), X =/= <<>>].

compute(Numbers) ->
    lists:sum(lists:sort(Numbers)).

store(Store, Numbers) ->
    lists:foreach(fun(N) -> ets:insert(Store, {N rem 1000, N}) end, Numbers),
    ok.
