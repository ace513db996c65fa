%% Benchmark: time from asking to record on a node to the recording having started, on a
%% node that never loaded beamflame (connect + checks + code and NIF push + start) and on
%% one that has it (connect + checks only). Both in the same run, on fresh peers.
%% Output: attach_time: fresh_ms=... attached_ms=... first_sample_ms=... runs=...
-module(attach_time).
-export([main/0]).

-define(RUNS, 5).

main() ->
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start([list_to_atom("bf_bench_" ++ os:getpid()), shortnames]),
    erlang:set_cookie(bfbench),
    Rows = [one() || _ <- lists:seq(1, ?RUNS)],
    Med = fun(I) -> lists:nth((?RUNS + 1) div 2, lists:sort([element(I, R) || R <- Rows])) end,
    io:format("attach_time: runs=~b fresh_ms=~.1f attached_ms=~.1f first_sample_ms=~.1f "
              "(medians; first_sample = attach on a fresh node + a 1 ms remote sample)~n",
              [?RUNS, Med(1), Med(2), Med(3)]),
    halt(0).

one() ->
    {ok, P1, N1} = peer:start_link(#{name => peer:random_name(bf_b), args => ["-setcookie", "bfbench", "-hidden"]}),
    {ok, P2, N2} = peer:start_link(#{name => peer:random_name(bf_b), args => ["-setcookie", "bfbench", "-hidden"]}),
    true = net_kernel:hidden_connect_node(N1),
    true = net_kernel:hidden_connect_node(N2),
    {Fresh, ok} = timer:tc(fun() -> beamflame:attach(N1) end),
    {Again, ok} = timer:tc(fun() -> beamflame:attach(N1) end),
    {First, {ok, _}} = timer:tc(fun() -> beamflame:sample(N2, #{duration => 1}) end),
    peer:stop(P1),
    peer:stop(P2),
    {Fresh / 1000, Again / 1000, First / 1000}.
