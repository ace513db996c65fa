%% Benchmark: what sampling costs a node, two ways, each against a baseline measured in
%% the same run.
%%
%% 1. cost: a node holding N idle processes (default 10,000) and nothing else, started
%%    with scheduler busy-waiting off (+sbwt none ...: otherwise the VM's idle spinning
%%    between our ticks is billed to us; a loaded node does not spin). The VM's CPU time
%%    (utime+stime, /proc/self/stat) over a window without sampling and over the same
%%    window while sampling; the difference is the sampler's cost, as a fraction of one
%%    core. A fully loaded node with S schedulers loses at most cost / S of its
%%    throughput (less: on an idle node each wake-up is also an OS thread wake-up).
%%    This figure is stable on a noisy machine.
%% 2. throughput: the same node fully loaded (one busy process per scheduler counting
%%    units of work). Units per second in windows without and with sampling, alternated
%%    over many rounds; ratio of the sums, with the per-round spread. On a shared 2-core
%%    VM single windows vary by +-15%, so read it with its spread.
%% Output: one parseable line per measurement, e.g.
%%   sample_cpu_cost: mode=cpu rate=99 idle=10000 window_s=10 baseline_core_pct=0.10 sampled_core_pct=3.60 cost_core_pct=3.50 schedulers=2 loss_bound_pct=1.75
-module(sample_overhead).
-export([main/1]).

-define(COST_WINDOW_MS, 10000).
-define(COST_ROUNDS, 5).
-define(TP_ROUNDS, 6).
-define(TP_WINDOW_MS, 5000).

%% main([What, Idle]): What is "cost", "throughput", "scale" or "continuous".
main(["scale", IdleArg]) ->
    scale(list_to_integer(IdleArg)),
    halt(0);
main(["continuous", IdleArg]) ->
    {ok, _} = application:ensure_all_started(beamflame),
    Idle = list_to_integer(IdleArg),
    _ = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, Idle)],
    timer:sleep(500),
    continuous_cost(Idle),
    continuous_memory(Idle),
    halt(0);
main([What, IdleArg]) ->
    Idle = list_to_integer(IdleArg),
    {ok, _} = application:ensure_all_started(beamflame),
    _ = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, Idle)],
    timer:sleep(500),
    case What of
        "cost" ->
            [cpu_cost(Idle, Mode, Rate) || {Mode, Rate} <- [{cpu, 99}, {cpu, 999}, {wall, 99}]];
        "throughput" ->
            Counter = atomics:new(1, []),
            Schedulers = erlang:system_info(schedulers_online),
            _ = [spawn(fun() -> work(Counter) end) || _ <- lists:seq(1, Schedulers)],
            timer:sleep(500),
            throughput(Counter, Idle, cpu, 99)
    end,
    halt(0).

%% CPU seconds used by this OS process so far (clock ticks of /proc/self/stat).
cpu_s() ->
    {ok, Stat} = file:read_file("/proc/self/stat"),
    %% fields after the command name, which is in parentheses and may hold spaces
    [_, After] = binary:split(Stat, <<") ">>),
    Fields = binary:split(After, <<" ">>, [global]),
    Utime = binary_to_integer(lists:nth(12, Fields)),
    Stime = binary_to_integer(lists:nth(13, Fields)),
    (Utime + Stime) / clk_tck().

clk_tck() ->
    case string:trim(os:cmd("getconf CLK_TCK")) of
        "" -> 100;
        T -> list_to_integer(T)
    end.

window_cost(Fun, Ms) ->
    C0 = cpu_s(),
    T0 = erlang:monotonic_time(microsecond),
    Fun(Ms),
    100 * (cpu_s() - C0) / ((erlang:monotonic_time(microsecond) - T0) / 1000000).

%% ?COST_ROUNDS rounds of a window without sampling and the same window sampled; the
%% cost is their difference, per round; the median with the rounds' range is printed.
cpu_cost(Idle, Mode, Rate) ->
    Rounds = [begin
                  Base = window_cost(fun timer:sleep/1, ?COST_WINDOW_MS),
                  Sampled = window_cost(
                              fun(Ms) -> {ok, _} = beamflame:sample(#{duration => Ms, rate => Rate,
                                                                       states => Mode}) end,
                              ?COST_WINDOW_MS),
                  {Base, Sampled, Sampled - Base}
              end || _ <- lists:seq(1, ?COST_ROUNDS)],
    Costs = lists:sort([C || {_, _, C} <- Rounds]),
    Cost = lists:nth((length(Costs) + 1) div 2, Costs),
    Median = fun(L) -> lists:nth((length(L) + 1) div 2, lists:sort(L)) end,
    io:format("sample_cpu_cost: mode=~s rate=~b idle=~b window_s=~b rounds=~b "
              "baseline_core_pct=~.2f sampled_core_pct=~.2f cost_core_pct=~.2f (~.2f-~.2f) "
              "schedulers=~b loss_bound_pct=~.2f~n",
              [Mode, Rate, Idle, ?COST_WINDOW_MS div 1000, ?COST_ROUNDS,
               Median([B || {B, _, _} <- Rounds]), Median([S || {_, S, _} <- Rounds]), Cost,
               hd(Costs), lists:last(Costs), erlang:system_info(schedulers_online),
               Cost / erlang:system_info(schedulers_online)]).

work(Counter) ->
    bf_workload:burn(),
    atomics:add(Counter, 1, 1),
    work(Counter).

rate(Counter, Ms) ->
    C0 = atomics:get(Counter, 1),
    T0 = erlang:monotonic_time(microsecond),
    timer:sleep(Ms),
    (atomics:get(Counter, 1) - C0) * 1000000 / (erlang:monotonic_time(microsecond) - T0).

throughput(Counter, Idle, Mode, Rate) ->
    Pairs = [begin
                 Base = rate(Counter, ?TP_WINDOW_MS),
                 Self = self(),
                 %% the sample run starts first and outlasts the window on both sides
                 spawn(fun() -> Self ! {done, beamflame:sample(#{duration => ?TP_WINDOW_MS + 500,
                                                                 rate => Rate, states => Mode})} end),
                 timer:sleep(250),
                 Sampled = rate(Counter, ?TP_WINDOW_MS),
                 receive {done, {ok, _}} -> ok end,
                 {Base, Sampled}
             end || _ <- lists:seq(1, ?TP_ROUNDS)],
    Base = lists:sum([B || {B, _} <- Pairs]),
    Sampled = lists:sum([S || {_, S} <- Pairs]),
    Ratios = lists:sort([S / B || {B, S} <- Pairs]),
    io:format("sample_throughput: mode=~s rate=~b idle=~b schedulers=~b rounds=~b "
              "baseline_ops_per_s=~b sampled_ops_per_s=~b ratio=~.4f loss_pct=~.2f "
              "round_ratio_min=~.3f round_ratio_median=~.3f round_ratio_max=~.3f~n",
              [Mode, Rate, Idle, erlang:system_info(schedulers_online), ?TP_ROUNDS,
               round(Base / ?TP_ROUNDS), round(Sampled / ?TP_ROUNDS), Sampled / Base,
               100 * (1 - Sampled / Base), hd(Ratios), lists:nth(?TP_ROUNDS div 2, Ratios),
               lists:last(Ratios)]).

%% 3. scale: N idle processes and one process spending 3 parts of its time in hot_a/1
%%    and 1 in hot_b/1 (75/25). Five 5 s cpu-mode recordings at 99 Hz: samples, the hot_a
%%    share (its error against 75), ticks and missed ticks, processes seen, the longest
%%    sweep, and the split process's work per second while recorded against a window of
%%    the same length without sampling just before it (its throughput ratio: the cost as
%%    the busy process sees it; with +S 2 the sampler may share its scheduler).
%% Output: sample_scale: idle=N rounds=5 samples_min=.. samples_median=.. samples_max=..
%%         share_err_max_pts=.. missed_ticks_median=.. seen_min=.. sweep_max_ms=..
%%         throughput_ratio_min=.. throughput_ratio_median=.. throughput_ratio_max=..
scale(Idle) ->
    {ok, _} = application:ensure_all_started(beamflame),
    _ = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, Idle)],
    Counter = atomics:new(1, []),
    _ = spawn(fun() -> split(Counter) end),
    timer:sleep(1000),
    Rounds = [scale_round(Counter) || _ <- lists:seq(1, 5)],
    Get = fun(K) -> lists:sort([maps:get(K, R) || R <- Rounds]) end,
    Med = fun(L) -> lists:nth(3, L) end,
    io:format("sample_scale: idle=~b rounds=5 samples_min=~b samples_median=~b samples_max=~b "
              "share_err_max_pts=~.1f missed_ticks_median=~b seen_min=~b sweep_max_ms=~.1f "
              "throughput_ratio_min=~.3f throughput_ratio_median=~.3f throughput_ratio_max=~.3f~n",
              [Idle, hd(Get(samples)), Med(Get(samples)), lists:last(Get(samples)),
               lists:last(Get(err)), Med(Get(missed)), hd(Get(seen)),
               lists:last(Get(sweep_ms)), hd(Get(ratio)), Med(Get(ratio)), lists:last(Get(ratio))]).

%% 3 units in hot_a/1, 1 in hot_b/1, counted.
split(Counter) ->
    bf_workload:hot_a(3000),
    bf_workload:hot_b(1000),
    atomics:add(Counter, 1, 1),
    split(Counter).

scale_round(Counter) ->
    Base = rate(Counter, 5000),
    Self = self(),
    spawn(fun() -> Self ! {profile, element(2, beamflame:sample(#{duration => 5000}))} end),
    Sampled = rate(Counter, 5000),
    P = receive {profile, Prof} -> Prof end,
    Info = beamflame:info(P),
    Lines = binary:split(beamflame:folded(P), <<"\n">>, [global, trim_all]),
    W = fun(F) -> lists:sum([binary_to_integer(lists:last(binary:split(L, <<" ">>, [global])))
                             || L <- Lines, binary:match(L, F) =/= nomatch]) end,
    A = W(<<"bf_workload:hot_a/1">>), B = W(<<"bf_workload:hot_b/1">>),
    #{samples => maps:get(samples, Info), missed => maps:get(missed_ticks, Info),
      seen => maps:get(processes_seen, Info), sweep_ms => maps:get(sweep_us_max, Info) / 1000,
      err => case A + B of 0 -> 100.0; T -> abs(100 * A / T - 75) end,
      ratio => Sampled / Base}.

%% 4. continuous: always-on profiling at its defaults (10 Hz, 10 s slices) on N idle
%%    processes. Cost: rounds of a window without it and a window with it running (the
%%    sampler started before the window), alternated; the VM's CPU time as in 1., per
%%    round and summed. Memory: it runs 60 s with a small workload (two busy processes in
%%    a few functions); the slices' bytes, per slice and kept, extrapolated to an hour
%%    (360 slices at the default 10 s, capped by max_bytes: 32 MiB).
-define(CONT_ROUNDS, 5).

continuous_cost(Idle) ->
    Rounds = [begin
                  Base = window_cost(fun timer:sleep/1, ?COST_WINDOW_MS),
                  ok = beamflame:continuous(#{}),
                  timer:sleep(1000),   % its start (the first pass over the processes)
                  On = window_cost(fun timer:sleep/1, ?COST_WINDOW_MS),
                  ok = beamflame:continuous_stop(),
                  On - Base
              end || _ <- lists:seq(1, ?CONT_ROUNDS)],
    Sorted = lists:sort(Rounds),
    io:format("continuous_cpu_cost: rate=10 idle=~b rounds=~b window_s=~b "
              "cost_core_pct_mean=~.3f cost_core_pct_min=~.3f cost_core_pct_median=~.3f "
              "cost_core_pct_max=~.3f~n",
              [Idle, ?CONT_ROUNDS, ?COST_WINDOW_MS div 1000, lists:sum(Rounds) / ?CONT_ROUNDS,
               hd(Sorted), lists:nth(?CONT_ROUNDS div 2 + 1, Sorted), lists:last(Sorted)]).

continuous_memory(Idle) ->
    Busy = [spawn(fun() -> work_loop() end) || _ <- [1, 2]],
    ok = beamflame:continuous(#{}),
    timer:sleep(61000),
    #{slices := N, memory := Mem, max_bytes := Max} = beamflame:continuous_info(),
    ok = beamflame:continuous_stop(),
    [exit(P, kill) || P <- Busy],
    PerSlice = Mem div max(1, N),
    io:format("continuous_memory: idle=~b slices=~b bytes_kept=~b bytes_per_slice=~b "
              "hour_estimate_bytes=~b max_bytes=~b~n",
              [Idle, N, Mem, PerSlice, min(Max, PerSlice * 360), Max]).

work_loop() ->
    _ = bf_workload:hot_a(20),
    _ = bf_workload:hot_b(10),
    _ = lists:sort([rand:uniform(1000) || _ <- lists:seq(1, 200)]),
    work_loop().
