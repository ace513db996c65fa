%% Workloads with known shapes, run on peer nodes by the test suites and benchmarks.
-module(bf_workload).
-export([start_split/2, hot_a/1, hot_b/1, burn/0, start_idle/1, stop_idle/1, start_paced/1, paced_work/1,
         start_blocked/1, start_busy/1, start_sleeper/0, backtrace_depth/0]).

%% A process spending UnitsA parts of its CPU time in hot_a/1 and UnitsB in hot_b/1.
start_split(UnitsA, UnitsB) ->
    spawn(fun() -> split_loop(UnitsA, UnitsB) end).

split_loop(A, B) ->
    hot_a(A),
    hot_b(B),
    split_loop(A, B).

hot_a(0) -> ok;
hot_a(N) -> burn(), hot_a(N - 1).

hot_b(0) -> ok;
hot_b(N) -> burn(), hot_b(N - 1).

burn() ->
    lists:foldl(fun(X, Acc) -> X + Acc end, 0, lists:seq(1, 50)).

%% N processes waiting in receive.
start_idle(N) ->
    [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)].

%% A process waiting in receive until told `go', then splitting its time 75/25 between
%% hot_a/1 and hot_b/1 like start_split/2's.
start_sleeper() ->
    spawn(fun() -> receive go -> split_loop(3000, 1000) end end).

stop_idle(Pids) ->
    [P ! stop || P <- Pids],
    ok.

%% A process that spends its life inside a NIF blocking a normal scheduler for Ms ms at a
%% time, with a little work and a yield between calls: it answers process_info only
%% between calls, and its reductions change all the time, so the sampler keeps asking it.
%% (A process inside a dirty NIF or BIF answers at once on OTP 25.2: dirty signal handling
%% covers it. Without the yield the process would hold its scheduler for thousands of
%% calls, and timers on that scheduler would never fire.)
start_blocked(Ms) ->
    spawn(fun Loop() -> bf_test_nif:block_ms(Ms), hot_b(10), erlang:yield(), Loop() end).

%% The VM's backtrace_depth, read without changing it: the length of the stacktrace of a
%% process 2,000 calls deep (alternating functions, so no frames merge).
backtrace_depth() ->
    Self = self(),
    P = spawn(fun() -> deep_a(2000, Self) end),
    receive {deep, P} -> ok end,
    {current_stacktrace, St} = erlang:process_info(P, current_stacktrace),
    exit(P, kill),
    length(St).

%% (Adding to the result keeps the calls out of tail position: `f(), ok' would be turned
%% into a tail call once the compiler knows f/2 returns ok.)
deep_a(0, Parent) -> Parent ! {deep, self()}, receive {stop, X} -> X end;
deep_a(N, Parent) -> 1 + deep_b(N - 1, Parent).

deep_b(0, Parent) -> Parent ! {deep, self()}, receive {stop, X} -> X end;
deep_b(N, Parent) -> 1 + deep_a(N - 1, Parent).

%% N processes burning CPU in hot_a/1 forever.
start_busy(N) ->
    [spawn(fun Loop() -> hot_a(1000), Loop() end) || _ <- lists:seq(1, N)].

%% Calls paced_work/1 (only this loop calls it) every Ms milliseconds: a function whose
%% next 1000 calls take a while.
start_paced(Ms) ->
    spawn(fun Loop() -> _ = paced_work(100), timer:sleep(Ms), Loop() end).

paced_work(N) -> hot_a(N), ok.
