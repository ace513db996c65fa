%% Benchmark: the throughput a CPU-bound node keeps under native sampling, in the same
%% run: one process computing fib(20) in a loop on a peer started with +JPperf map (one
%% busy scheduler; on this 2-core machine a second one would compete with the sampler
%% itself for a core, and the figure would measure the machine, not the stops);
%% windows of ?WINDOW_MS unsampled, sampled at 99 Hz and at 999 Hz, under `perf record -g`
%% at both rates (if perf is installed), and under bench/stop_floor at 999 Hz (each
%% running thread interrupted and continued, nothing read: the floor of any sampler that
%% stops threads), alternating, ?ROUNDS rounds; work per window.
%% Also the share of samples whose stack holds the workload's Erlang frames, the share of
%% stacks with Erlang functions whose chain is complete (reaches the process's first
%% frame), and how long threads were held stopped per sample.
%% Output: native_bench: rate=... throughput_vs_unsampled=... (median of rounds) ...
-module(native_overhead).
-export([main/0, table/0, worker/1, fib/1, run_native/1]).

-define(WINDOW_MS, 3000).
-define(ROUNDS, 5).

main() ->
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start([list_to_atom("bf_nbench_" ++ os:getpid()), shortnames]),
    Ebin = filename:dirname(code:which(beamflame)),
    Here = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_nb),
                                         args => ["+JPperf", "map", "-pa", Ebin, "-pa", Here]}),
    %% the table lives in a process that stays, made before the worker uses it
    ok = erpc:call(Node, ?MODULE, table, []),
    _ = erpc:call(Node, erlang, spawn, [?MODULE, worker, [1]]),
    OsPid = erpc:call(Node, os, getpid, []),
    Perf = os:find_executable("perf") =/= false,
    Floor = filename:join(Here, "stop_floor"),
    Modes = [none, {native, 99}, {native, 999}] ++ [{perf, R} || Perf, R <- [99, 999]]
        ++ [{floor, Floor, 999} || filelib:is_regular(Floor)],
    Rounds = [[{M, window(Node, OsPid, M)} || M <- Modes] || _ <- lists:seq(1, ?ROUNDS)],
    Base = median([W || R <- Rounds, {none, {W, _}} <- R]),
    [begin
         Ws = [W || R <- Rounds, {M1, {W, _}} <- R, M1 =:= M],
         Share = [S || R <- Rounds, {M1, {_, S}} <- R, M1 =:= M, S =/= undefined],
         io:format("native_bench: mode=~s throughput_vs_unsampled=~.3f loss_pct=~.2f "
                   "(rounds ~s)~s~n",
                   [label(M), median(Ws) / Base, 100 * (1 - median(Ws) / Base),
                    lists:join(",", [io_lib:format("~.3f", [W / Base]) || W <- Ws]),
                    case Share of
                        [] -> "";
                        _ -> details(Share)
                    end])
     end || M <- Modes, M =/= none],
    peer:stop(Peer),
    halt(0).

details(Shares) ->
    Med = fun(K) -> median([maps:get(K, S) || S <- Shares]) end,
    io_lib:format(" fib_share=~.3f complete_chain_share=~.3f held_us_median=~b "
                  "held_us_mean=~.1f",
                  [Med(fib), Med(complete), Med(held_median), Med(held)]).

label({native, R}) -> "native_" ++ integer_to_list(R) ++ "hz";
label({perf, R}) -> "perf_record_g_" ++ integer_to_list(R) ++ "hz";
label({floor, _, R}) -> "stop_floor_" ++ integer_to_list(R) ++ "hz".

median(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)).

%% Work per second done by the workers during one window (the window's own length, as
%% starting and stopping a sampler takes time), and the sampled share (native only).
window(Node, OsPid, Mode) ->
    Before = total(Node),
    T0 = erlang:monotonic_time(microsecond),
    Share = case Mode of
                none ->
                    timer:sleep(?WINDOW_MS), undefined;
                {native, Rate} ->
                    {ok, Folded, Info} = erpc:call(Node, ?MODULE, run_native,
                                                   [#{duration => ?WINDOW_MS, rate => Rate}]),
                    #{erlang_samples := E, complete_chains := C, stopped_us := H,
                      stopped_us_median := HM, thread_samples := N} = Info,
                    #{fib => share(Folded), complete => C / max(E, 1), held => H / max(N, 1),
                      held_median => HM};
                {perf, Rate} ->
                    _ = os:cmd("perf record -q -g -F " ++ integer_to_list(Rate)
                               ++ " -o /tmp/bf_nbench.perf -p " ++ OsPid
                               ++ " -- sleep " ++ integer_to_list(?WINDOW_MS div 1000)
                               ++ " >/dev/null 2>&1"),
                    undefined;
                {floor, Floor, Rate} ->
                    _ = os:cmd(Floor ++ " " ++ OsPid ++ " " ++ integer_to_list(Rate) ++ " "
                               ++ integer_to_list(?WINDOW_MS)),
                    undefined
            end,
    Work = total(Node) - Before,
    {Work * 1.0e6 / (erlang:monotonic_time(microsecond) - T0), Share}.

%% On the peer.
run_native(Opts) ->
    {ok, P} = beamflame:native(Opts#{idle => false}),
    {ok, beamflame:folded(P), beamflame:info(P)}.

total(Node) ->
    lists:sum([N || {_, N} <- erpc:call(Node, ets, tab2list, [bench])]).

share(Folded) ->
    Lines = binary:split(Folded, <<"\n">>, [global, trim_all]),
    Count = fun(L) -> [_, N] = string:split(L, " ", trailing), binary_to_integer(N) end,
    All = lists:sum([Count(L) || L <- Lines]),
    Erl = lists:sum([Count(L) || L <- Lines, binary:match(L, <<"native_overhead:fib/1">>) =/= nomatch]),
    Erl / max(All, 1).

%% On the peer: the counters' table, owned by a process that stays.
table() ->
    Self = self(),
    _ = spawn(fun() -> ets:new(bench, [public, named_table]), Self ! made,
                       receive stop -> ok end end),
    receive made -> ok end.

worker(I) ->
    ets:insert(bench, {I, 0}),
    loop(I).

loop(I) ->
    _ = fib(20),
    ets:update_counter(bench, I, 1),
    loop(I).

fib(0) -> 0;
fib(1) -> 1;
fib(N) -> fib(N - 1) + fib(N - 2).
