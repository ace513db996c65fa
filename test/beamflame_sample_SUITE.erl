%% Sampling mode against real peer nodes: accuracy on a known CPU split, ownership and
%% cleanup, safety with targets stuck in dirty calls, large idle populations, options.
-module(beamflame_sample_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-export([all/0, init_per_testcase/2, end_per_testcase/2]).
-export([known_split_75_25/1, wall_and_group/1, processes_option/1,
         caller_death_undoes_everything/1, run_leaves_nothing_behind/1,
         blocked_target_does_not_stall_the_run/1, ten_thousand_idle_processes/1, hundred_thousand_idle_processes/1,
         wall_mode_reads_an_idle_stack_once/1, an_idle_node_is_checked_in_the_background/1,
         a_process_waking_mid_run_is_found/1,
         empty_profile_says_why/1, short_requests_are_sampled_in_their_work/1,
         busy_server_is_sampled_in_its_work/1, hint_when_most_looks_are_waits/1,
         no_hint_on_cpu_bound_work/1, hint_when_the_node_is_too_busy/1,
         concurrent_runs_share_backtrace_depth/1, bad_options_are_rejected/1,
         application_stop_ends_runs/1]).
%% Called on the peer.
-export([sample_folded/1, sample_svg/1, native_folded/1, shares/2, sampler_processes/0,
         stop_app_and_watch_run/0, sample_while_spinning/2]).

all() ->
    [known_split_75_25, wall_and_group, processes_option, caller_death_undoes_everything,
     run_leaves_nothing_behind, blocked_target_does_not_stall_the_run,
     ten_thousand_idle_processes, hundred_thousand_idle_processes,
     wall_mode_reads_an_idle_stack_once, an_idle_node_is_checked_in_the_background,
     a_process_waking_mid_run_is_found, empty_profile_says_why,
     short_requests_are_sampled_in_their_work, busy_server_is_sampled_in_its_work,
     hint_when_most_looks_are_waits, no_hint_on_cpu_bound_work, hint_when_the_node_is_too_busy,
     concurrent_runs_share_backtrace_depth,
     bad_options_are_rejected, application_stop_ends_runs].

init_per_testcase(Case, Config) ->
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [beamflame, bf_workload, ?MODULE]]),
    %% The blocked-NIF case gives up one scheduler to the blocked process.
    Schedulers = case Case of
                     blocked_target_does_not_stall_the_run -> "4";
                     _ -> "2"
                 end,
    %% The request/response cases compare with native mode: whole chains need +JPperf map.
    Perf = case lists:member(Case, [short_requests_are_sampled_in_their_work,
                                    busy_server_is_sampled_in_its_work]) of
               true -> ["+JPperf", "map"];
               false -> []
           end,
    Args = lists:append([["-pa", P] || P <- Paths]) ++ ["+S", Schedulers] ++ Perf,
    {ok, Peer} = case peer:start_link(#{connection => standard_io, args => Args}) of
                     {ok, P1} -> {ok, P1};
                     {ok, P1, _} -> {ok, P1}
                 end,
    [{peer, Peer} | Config].

end_per_testcase(_Case, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok.

call(Config, M, F, A) ->
    peer:call(?config(peer, Config), M, F, A, 60000).

%% On the peer: sample and return what crosses nodes (the profile does not).
sample_folded(Opts) ->
    case beamflame:sample(Opts) of
        {ok, P} -> {ok, beamflame:folded(P), beamflame:info(P)};
        Other -> Other
    end.

sample_svg(Opts) ->
    case beamflame:sample(Opts) of
        {ok, P} -> {ok, beamflame:svg(P), beamflame:info(P)};
        Other -> Other
    end.

native_folded(Opts) ->
    case beamflame:native(Opts) of
        {ok, P} -> {ok, beamflame:folded(P), beamflame:info(P)};
        Other -> Other
    end.

%% Share (percent) of the samples whose stack contains each of the given frames.
shares(Folded, Frames) ->
    Lines = [L || L <- binary:split(Folded, <<"\n">>, [global]), L =/= <<>>],
    Parsed = [begin
                  [Count | Rev] = lists:reverse(binary:split(L, <<" ">>, [global])),
                  {binary:split(iolist_to_binary(lists:join(<<" ">>, lists:reverse(Rev))),
                                <<";">>, [global]),
                   binary_to_integer(Count)}
              end || L <- Lines],
    Counts = [lists:sum([C || {Stack, C} <- Parsed, lists:member(F, Stack)]) || F <- Frames],
    Total = lists:sum(Counts),
    [100 * C / max(1, Total) || C <- Counts].

%% The shares are binomial: with n samples the standard error of a 75% share is
%% sqrt(0.75 * 0.25 / n), 2.5 points at the default 99 Hz over 3 s (n ~ 300), so a +-5
%% tolerance would fail one run in twenty with nothing wrong. At 499 Hz (n ~ 1500) it is
%% 1.1 points and +-5 is over four standard errors: a failure means a real bias.
known_split_75_25(Config) ->
    W = call(Config, bf_workload, start_split, [3000, 1000]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded,
                              [#{duration => 3000, rate => 499}]),
    call(Config, erlang, exit, [W, kill]),
    [A, B] = shares(Folded, [<<"bf_workload:hot_a/1">>, <<"bf_workload:hot_b/1">>]),
    ct:pal("hot_a ~.1f%, hot_b ~.1f%, info ~p", [A, B, Info]),
    #{samples := N, ticks := Ticks} = Info,
    ?assert(N > 1000, "too few samples"),
    ?assert(Ticks > 1200),
    ?assert(abs(A - 75) =< 5, {hot_a_share, A}),
    ?assert(abs(B - 25) =< 5, {hot_b_share, B}),
    %% Frames read like the code, root first.
    ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1;bf_workload:burn/0">>)).

wall_and_group(Config) ->
    Idle = call(Config, bf_workload, start_idle, [50]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded,
                              [#{duration => 1000, states => wall, group => name}]),
    #{ticks := Ticks, weight := Weight, processes_seen := Seen} = Info,
    ct:pal("wall: ticks ~p weight ~p processes ~p", [Ticks, Weight, Seen]),
    %% Every process counts at every tick: weight ~ ticks x processes.
    ?assert(Seen >= 50),
    ?assert(Weight >= 0.8 * Ticks * 50, {weight, Weight}),
    %% group => name: idle workers (spawned from a fun) are rooted at their outermost
    %% frame, all under one; registered processes at their name.
    ?assertMatch({_, _}, binary:match(Folded, <<"\nbf_workload:start_idle/1-fun-">>)),
    ?assertMatch({_, _}, binary:match(Folded, <<"\nerl_prim_loader;">>)),
    %% group => process: one root per process, its pid (a registered one: its name)
    {ok, PerProcess, _} = call(Config, ?MODULE, sample_folded,
                               [#{duration => 500, states => wall, group => process}]),
    Roots = lists:usort([hd(binary:split(L, <<";">>))
                         || L <- binary:split(PerProcess, <<"\n">>, [global]), L =/= <<>>]),
    Pids = [R || R <- Roots, binary:first(R) =:= $<],
    ?assert(length(Pids) >= 50, {pid_roots, length(Pids)}),
    ?assert(lists:member(<<"erl_prim_loader">>, Roots)),
    %% gen_server-based processes: their initial call, then the pid
    ?assert(lists:any(fun(R) -> binary:match(R, <<":init/1 <">>) =/= nomatch end, Roots), Roots),
    call(Config, bf_workload, stop_idle, [Idle]).

processes_option(Config) ->
    W1 = call(Config, bf_workload, start_split, [1, 0]),
    _W2 = call(Config, bf_workload, start_busy, [1]),
    call(Config, erlang, register, [only_me, W1]),
    {ok, Folded, _} = call(Config, ?MODULE, sample_folded,
                           [#{duration => 1000, processes => [only_me], group => process}]),
    Roots = lists:usort([hd(binary:split(L, <<";">>)) || L <- binary:split(Folded, <<"\n">>, [global]), L =/= <<>>]),
    ?assertEqual([<<"only_me">>], Roots).

caller_death_undoes_everything(Config) ->
    Peer = ?config(peer, Config),
    Before = depth(Peer),
    Caller = peer:call(Peer, erlang, spawn, [beamflame, sample, [#{duration => 60000}]]),
    wait_until(fun() -> depth(Peer) =:= 64 end),
    ?assertMatch([_], runs(Peer)),
    peer:call(Peer, erlang, exit, [Caller, kill]),
    wait_until(fun() -> runs(Peer) =:= [] end),
    wait_until(fun() -> depth(Peer) =:= Before end),
    ?assertEqual([], peer:call(Peer, beamflame_flags, holders, [])).

run_leaves_nothing_behind(Config) ->
    Peer = ?config(peer, Config),
    {ok, _, _} = call(Config, ?MODULE, sample_folded, [#{duration => 200}]),
    Procs = length(peer:call(Peer, erlang, processes, [])),
    {ok, _, _} = call(Config, ?MODULE, sample_folded, [#{duration => 500, states => wall}]),
    wait_until(fun() -> length(peer:call(Peer, erlang, processes, [])) =< Procs end),
    ?assertEqual([], runs(Peer)),
    ?assertEqual([], peer:call(Peer, ?MODULE, sampler_processes, [])),
    ?assertEqual(8, depth(Peer)).

blocked_target_does_not_stall_the_run(Config) ->
    %% A process inside a NIF that blocks its scheduler answers no process_info until the
    %% NIF returns. The run must still complete, notice the process and leave it alone,
    %% and still see the busy process. (Processes queued on the blocked scheduler, ours
    %% included, are starved by the node itself: hence the loose time bound.)
    %% Load everything first: finishing a code load waits for every scheduler.
    {ok, _} = call(Config, application, ensure_all_started, [beamflame]),
    [{module, _} = call(Config, code, ensure_loaded, [M])
     || M <- [beamflame, beamflame_sampler, beamflame_nif, bf_test_nif, proplists]],
    %% 60 ms blocks: long enough to be late and, with linger_ms at 30, unresponsive;
    %% short enough not to starve the processes queued behind it, ours included.
    ok = call(Config, application, set_env, [beamflame, linger_ms, 30]),
    Blocked = call(Config, bf_workload, start_blocked, [60]),
    _Busy = call(Config, bf_workload, start_busy, [1]),
    timer:sleep(100),
    T0 = erlang:monotonic_time(millisecond),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 3000}]),
    Took = erlang:monotonic_time(millisecond) - T0,
    ct:pal("took ~p ms, info ~p", [Took, Info]),
    ?assert(Took < 3000 + 1500, {took, Took}),
    ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1">>)),
    #{late_chunks := Late, unresponsive := Unresponsive} = Info,
    %% Whether a given ask lands inside a block (late, or past linger: unresponsive) or in
    %% the 5 ms between blocks varies; over 3 s it must be caught at least once.
    ?assert(Late + Unresponsive > 0, "the blocked process was never caught not answering"),
    %% Let the peer stop cleanly: the blocked process dies when its NIF call returns.
    call(Config, erlang, exit, [Blocked, kill]),
    wait_until(fun() -> not call(Config, erlang, is_process_alive, [Blocked]) end).

ten_thousand_idle_processes(Config) ->
    Idle = call(Config, bf_workload, start_idle, [10000]),
    _Busy = call(Config, bf_workload, start_busy, [1]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 3000}]),
    ct:pal("10k idle: ~p", [Info]),
    #{ticks := Ticks, missed_ticks := Missed, processes_seen := Seen} = Info,
    ?assert(Seen >= 10000),
    %% A guard against a runaway sampler only: here the busy process holds one of the two
    %% cores and the CT node shares the other, so sweeps wait for a core (measured ~4 ms
    %% here against ~0.6 ms on a quiet node). The cost on a node is measured in bench/.
    ?assert(Missed =< (Ticks + Missed) div 2, {missed, Missed, Ticks}),
    ?assertMatch({_, _}, binary:match(Folded, <<"bf_workload:hot_a/1">>)),
    call(Config, bf_workload, stop_idle, [Idle]).

%% Wall mode credits a process that did not run with the stack it had, so an idle process
%% is read once. Reading a stack costs the process a reduction: that used to make every
%% idle process look as if it had run at its next check, and be read again once a
%% rotation (3,000 idle processes over 3 s: ~9,000 reads; the steady cost of wall mode on
%% 10k idle processes 7% of a core). Each idle process still gets its weight every tick.
wall_mode_reads_an_idle_stack_once(Config) ->
    N = 3000,
    Idle = call(Config, bf_workload, start_idle, [N]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded,
                              [#{duration => 3000, states => wall}]),
    #{stacks_read := Read, ticks := Ticks, busy_seen := Busy} = Info,
    ct:pal("wall, ~p idle: ~p stack reads over ~p ticks, ~p busy", [N, Read, Ticks, Busy]),
    ?assert(Read >= N, {reads, Read}),
    ?assert(Read =< N + N div 5, {reads, Read}),
    %% read for their first stack, not found executing
    ?assert(Busy < N div 10, {busy_seen, Busy}),
    %% the idle processes' frame (its fun's number differs between releases)
    Lines = [binary:split(L, <<" ">>, [global]) || L <- binary:split(Folded, <<"\n">>, [global]),
                                                  L =/= <<>>],
    Count = fun(Ls) -> lists:sum([binary_to_integer(lists:last(L)) || L <- Ls]) end,
    Idle1 = Count([L || L = [F | _] <- Lines, binary:longest_common_prefix(
                                                  [F, <<"bf_workload:start_idle/1-fun-">>]) =:= 29]),
    Share = 100 * Idle1 / Count(Lines),
    ?assert(Share >= 90, {idle_share, Share}),
    call(Config, bf_workload, stop_idle, [Idle]).

%% In cpu mode a tick whose schedulers run nothing but the sampler checks nobody: a 3 s run
%% on 10,000 idle processes checks each once in its first pass and then a tenth of them
%% a second in the background (before: all of them every second, 40,000 checks).
an_idle_node_is_checked_in_the_background(Config) ->
    N = 10000,
    Idle = call(Config, bf_workload, start_idle, [N]),
    {ok, _Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 3000}]),
    #{checks := Checks, idle_ticks := IdleTicks, ticks := Ticks} = Info,
    ct:pal("~p idle: ~p checks, ~p of ~p ticks idle", [N, Checks, IdleTicks, Ticks]),
    ?assert(Checks >= N, {checks, Checks}),
    ?assert(Checks =< N + N div 2, {checks, Checks}),
    ?assert(IdleTicks >= Ticks div 2, {idle_ticks, IdleTicks, Ticks}),
    call(Config, bf_workload, stop_idle, [Idle]).

%% The counterpart: a process known idle (checked in the first pass, then cold) that starts
%% working mid-run is found at once, not when the background reaches it: the schedulers
%% count one active process more than the hot ones busy. 75/25 over the 3 s it works.
a_process_waking_mid_run_is_found(Config) ->
    Idle = call(Config, bf_workload, start_idle, [10000]),
    Sleeper = call(Config, bf_workload, start_sleeper, []),
    _ = call(Config, erlang, send_after, [1500, Sleeper, go]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded,
                              [#{duration => 4500, rate => 199}]),
    call(Config, erlang, exit, [Sleeper, kill]),
    [A, B] = shares(Folded, [<<"bf_workload:hot_a/1">>, <<"bf_workload:hot_b/1">>]),
    #{samples := Samples} = Info,
    ct:pal("woken after 1.5 s: ~p samples, hot_a ~.1f%, hot_b ~.1f%, ~p", [Samples, A, B, Info]),
    %% 3 s at 199 Hz is ~600 ticks; found within a few ticks, it is in most of them
    ?assert(Samples >= 400, {samples, Samples}),
    ?assert(abs(A - 75) =< 7, {hot_a_share, A}),
    call(Config, bf_workload, stop_idle, [Idle]).

%% A 75/25 split in one process among 100,000 idle ones: found, with enough samples, at
%% 99 Hz over 5 s. The bound is looser than known_split_75_25's (this machine's two cores
%% are shared with the CT node); the figures for 10k, 100k and 1M are in bench/
%% (sample_scale).
hundred_thousand_idle_processes(Config) ->
    Idle = call(Config, bf_workload, start_idle, [100000]),
    W = call(Config, bf_workload, start_split, [3000, 1000]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 5000}]),
    call(Config, erlang, exit, [W, kill]),
    [A, B] = shares(Folded, [<<"bf_workload:hot_a/1">>, <<"bf_workload:hot_b/1">>]),
    ct:pal("100k idle: hot_a ~.1f%, hot_b ~.1f%, ~p", [A, B, Info]),
    #{samples := N, processes_seen := Seen} = Info,
    ?assert(Seen >= 90000, {seen, Seen}),
    ?assert(N >= 250, {samples, N}),
    ?assert(abs(A - 75) =< 10, {hot_a_share, A}),
    call(Config, bf_workload, stop_idle, [Idle]).

%% The commonest OTP shape: a gen_server doing ~20 us of CPU per call for two clients that
%% do nothing else. A running process asked for its stack answers at its next receive
%% when its work is that short: counted as samples, those answers put most of the graph
%% in gen:do_call/4 and gen_server:loop/7 (measured before the fix: 40-75%). cpu mode
%% must put its samples in the work, as native mode does on the same node, and count the
%% answers it dropped as waits.
short_requests_are_sampled_in_their_work(Config) ->
    request_work(Config, start_gen).

%% The same with a plain receive loop that is never idle (its two clients keep a request
%% always queued): its receive point is never seen with the process waiting, so it comes
%% from the module's code (beamflame_receives).
busy_server_is_sampled_in_its_work(Config) ->
    request_work(Config, start_raw).

request_work(Config, Start) ->
    Pids = call(Config, bf_reqwork, Start, [20]),
    {ok, Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 4000}]),
    {ok, Native, NInfo} = call(Config, ?MODULE, native_folded, [#{duration => 4000}]),
    call(Config, bf_reqwork, stop, [Pids]),
    Work = share(Folded, fun(_) -> true end),
    %% native: the share of work/1 among the samples running the workload's Erlang code
    InWorkload = fun(L) -> lists:any(fun(F) -> binary:match(L, F) =/= nomatch end,
                                     [<<"bf_reqwork:">>, <<"gen_server:">>, <<"gen:">>])
                 end,
    NWork = share(Native, InWorkload),
    ct:pal("cpu: ~.1f% of ~b samples in work/1 (~b waits dropped); native: ~.1f%~n~s~n~p~n~s~n~p",
           [Work, maps:get(samples, Info), maps:get(waits_dropped, Info), NWork, Folded, Info,
            [L || L <- binary:split(Native, <<"\n">>, [global]), InWorkload(L)], NInfo]),
    #{samples := N, waits_dropped := Waits, busy_seen := Busy} = Info,
    ?assert(N >= 100, {samples, N}),
    ?assert(Work >= 70, {cpu_share_in_work, Work}),
    ?assert(Work >= NWork - 15, {cpu_share, Work, native_share, NWork}),
    %% the waits share is reported: the clients are caught running and answer at their
    %% receive, every tick or so
    ?assert(Waits > 0 andalso Busy >= N + Waits, {waits, Waits, busy_seen, Busy}).

%% Percent of the weight of the folded lines In selects that is in bf_reqwork:work/1.
share(Folded, In) ->
    Lines = [L || L <- binary:split(Folded, <<"\n">>, [global]), L =/= <<>>, In(L)],
    Weight = fun(L) -> binary_to_integer(lists:last(binary:split(L, <<" ">>, [global]))) end,
    Total = lists:sum([Weight(L) || L <- Lines]),
    Work = lists:sum([Weight(L) || L <- Lines, binary:match(L, <<"bf_reqwork:work/1">>) =/= nomatch]),
    100 * Work / max(1, Total).

%% Work of 3 us a request: almost every look finds the server at its receive. The graph
%% holds only the few samples caught in the work, and says so (info's hint, which the
%% command line prints and SVGs carry as their subtitle).
hint_when_most_looks_are_waits(Config) ->
    Pids = call(Config, bf_reqwork, start_raw, [5]),
    {ok, Svg, Info} = call(Config, ?MODULE, sample_svg, [#{duration => 2000}]),
    call(Config, bf_reqwork, stop, [Pids]),
    ct:pal("~p", [Info]),
    #{hint := Hint, waits_dropped := Waits, samples := N} = Info,
    ?assert(Waits >= 2 * N),
    ?assertMatch({_, _}, binary:match(Hint, <<"at a receive">>)),
    ?assertMatch({_, _}, binary:match(Hint, <<"--mode native">>)),
    case N of
        0 ->
            %% nothing to draw; the empty profile says why
            ?assertEqual({error, empty}, Svg),
            ?assertMatch(#{empty_reason := <<_/binary>>}, Info),
            ?assertMatch({_, _}, binary:match(maps:get(empty_reason, Info), <<"at a receive">>));
        _ ->
            %% the profile's SVG carries the hint as its subtitle
            ?assertMatch({_, _}, binary:match(Svg, <<"--mode native">>))
    end.

no_hint_on_cpu_bound_work(Config) ->
    W = call(Config, bf_workload, start_split, [3000, 1000]),
    {ok, _Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 2000}]),
    call(Config, erlang, exit, [W, kill]),
    ct:pal("~p", [Info]),
    ?assertNot(maps:is_key(hint, Info)),
    ?assert(maps:get(samples, Info) > 150).

%% Two high-priority spinners on a two-scheduler node for most of the run: the sampler
%% (normal priority) cannot run, its ticks are missed, and the profile says so.
hint_when_the_node_is_too_busy(Config) ->
    {ok, _Folded, Info} = call(Config, ?MODULE, sample_while_spinning, [3000, 2000]),
    ct:pal("~p", [Info]),
    #{hint := Hint, missed_ticks := Missed} = Info,
    ?assert(Missed > 50, {missed, Missed}),
    ?assertMatch({_, _}, binary:match(Hint, <<"too busy">>)).

%% On the peer: a run of Duration ms, with spin_high(Ms) from 300 ms in.
sample_while_spinning(Duration, Ms) ->
    Self = self(),
    Ref = make_ref(),
    _ = spawn(fun() -> Self ! {Ref, sample_folded(#{duration => Duration})} end),
    timer:sleep(300),
    ok = spin_high(Ms),
    receive {Ref, R} -> R end.

%% On the peer: two processes at high priority spinning for Ms milliseconds.
spin_high(Ms) ->
    Until = erlang:monotonic_time(millisecond) + Ms,
    Spin = fun() ->
                   process_flag(priority, high),
                   spin(Until)
           end,
    [spawn(Spin) || _ <- [1, 2]],
    ok.

spin(Until) ->
    case erlang:monotonic_time(millisecond) < Until of
        true -> _ = erlang:phash2(Until), spin(Until);
        false -> ok
    end.

%% An empty profile is never silent: info/1 says why.
empty_profile_says_why(Config) ->
    {ok, _Folded, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 300,
                                                                  processes => [init]}]),
    ?assertMatch(#{samples := 0, empty_reason := <<"no process was running", _/binary>>}, Info).

concurrent_runs_share_backtrace_depth(Config) ->
    Peer = ?config(peer, Config),
    Long = peer:call(Peer, erlang, spawn, [beamflame, sample, [#{duration => 60000, max_depth => 40}]]),
    wait_until(fun() -> depth(Peer) =:= 40 end),
    {ok, _, Info} = call(Config, ?MODULE, sample_folded, [#{duration => 300, max_depth => 60}]),
    %% info tells the caps as they were asked (the table's own depth has room for roots)
    ?assertMatch(#{caps := #{max_depth := 60, max_stacks := 100000}}, Info),
    %% The short run ended: the long one still has its depth, not the original.
    ?assertEqual(40, depth(Peer)),
    peer:call(Peer, erlang, exit, [Long, kill]),
    wait_until(fun() -> depth(Peer) =:= 8 end).

bad_options_are_rejected(Config) ->
    Cases = [#{bogus => 1}, #{duration => 0}, #{duration => -5}, #{rate => 0},
             #{rate => 5000}, #{states => idle}, #{group => node}, #{processes => []},
             #{processes => ["x"]}, #{max_depth => 1}, not_a_map],
    [?assertMatch({error, {bad_option, _, _, Why}} when is_binary(Why),
                  call(Config, beamflame, sample, [O])) || O <- Cases],
    ?assertEqual([], runs(?config(peer, Config))).

depth(Peer) ->
    peer:call(Peer, bf_workload, backtrace_depth, []).

application_stop_ends_runs(Config) ->
    Peer = ?config(peer, Config),
    Caller = peer:call(Peer, erlang, spawn, [?MODULE, sample_folded, [#{duration => 60000}]]),
    wait_until(fun() -> depth(Peer) =:= 64 end),
    %% The run must stop itself on the supervisor's shutdown (reason `shutdown'), not be
    %% killed after the shutdown timeout.
    ?assertEqual(shutdown, peer:call(Peer, ?MODULE, stop_app_and_watch_run, [])),
    ?assertEqual(8, depth(Peer)),
    ?assertEqual([], peer:call(Peer, ?MODULE, sampler_processes, [])),
    peer:call(Peer, erlang, exit, [Caller, kill]).

%% On the peer: stops the application and returns the exit reason of the (one) run.
stop_app_and_watch_run() ->
    [Run] = [Pid || {Id, Pid, _, _} <- supervisor:which_children(beamflame_sup),
                    Id =/= beamflame_flags],
    Mon = erlang:monitor(process, Run),
    ok = application:stop(beamflame),
    receive {'DOWN', Mon, process, Run, Reason} -> Reason end.

%% On the peer: processes running beamflame_sampler code (controller or helpers).
sampler_processes() ->
    [P || P <- erlang:processes(),
          case proc_lib:translate_initial_call(P) of
              {beamflame_sampler, _, _} -> true;
              _ -> false
          end].

runs(Peer) ->
    case peer:call(Peer, erlang, whereis, [beamflame_sup]) of
        undefined -> [];
        _ -> [Id || {Id, _, _, _} <- peer:call(Peer, supervisor, which_children, [beamflame_sup]),
                    Id =/= beamflame_flags]
    end.

wait_until(F) ->
    bf_test_util:wait_until(F).
