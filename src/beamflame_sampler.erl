%% @doc Sampling mode: stacks of Erlang processes, sampled node-wide at a rate.
%%
%% Processes (all spawned here, none registered):
%% <ul>
%% <li>the <b>controller</b> (this module's loop, a temporary child of `beamflame_sup'):
%%   owns the run and its profile, monitors the caller, keeps the tick schedule and the
%%   per-process bookkeeping, and runs each tick's sweep: has a helper read `reductions'
%%   of the processes due for a check (cheap: ~0.3 us for a waiting process), picks the
%%   ones that ran, has helpers ask those for their stacks, adds the samples to the
%%   profile through the NIF. It never calls `process_info/2' on another process itself:
%%   that call waits for the target, which may not answer for a long time (a process
%%   holding a scheduler in a long NIF; erlang/otp#7801). It only waits in receives with
%%   a deadline (two phases of max(2 ticks, 20 ms)), so a caller's death or a supervisor
%%   shutdown is handled within that.</li>
%% <li><b>helpers</b>, one scanner and ?STACK_HELPERS stack readers, for the run: each
%%   takes chunks of processes in order and answers each chunk in one message. A helper
%%   that has not answered by the phase deadline is stuck on its first unanswered chunk:
%%   it is replaced by a fresh helper and set aside with that chunk (counted:
%%   `late_chunks'); its processes are asked nothing until it finishes. One still waiting after ?LINGER_MS is killed and its processes are asked
%%   one by one from then on; one that fails alone is left alone for ?QUARANTINE_MS
%%   (counted: `unresponsive'). A process that holds a scheduler in a long NIF answers
%%   nothing until the NIF returns; this is how it costs one late chunk instead of
%%   stalling every tick, while merely slow (busy) processes are never excluded.</li>
%% </ul>
%% Nothing is spawned per tick in the steady state (measured here: each process spawned
%% per tick at 99 Hz costs about 0.3% of a core), and a tick wakes two processes at most
%% besides the controller (on an idle node each wake-up can cost an OS thread wake-up).
%%
%% Cost control. Checking every process every tick would cost ~0.4 us x N per tick (4 ms
%% for 10,000 processes, 40% of a core at 99 Hz). Instead: processes that ran recently
%% ("hot") are checked every tick; every other known process is checked once per
%% rotation (?COLD_ROTATION_MS, or N x ?ROTATION_US_PER_PROC past 20,000 processes: 5 s for
%% 100k, 50 s for 1M) in a rotating slice of at most ?MAX_SLICE a tick, the largest slice
%% until every process has been seen once (a run's first pass); a check reads reductions
%% and status, and a process found running or runnable is hot at once, so a busy process
%% is found within one rotation even on its first check. In cpu mode the rotation moves
%% only when the schedulers count more running or runnable tasks than the hot processes
%% found busy (erlang:statistics(total_active_tasks_all), 80 ns), spending then the checks
%% it was owed, and a tenth of it goes on in the background: an idle node is not checked
%% every tick, a process starting to work is found within a few ticks (scan/4).
%% `erlang:processes()' is re-read about every N/10 ms or 500 times as long as the last
%% read took (it walks the whole process table), clamped to [interval, max(1 s, N x 20
%% us)]; up to ?MAX_NEW_HOT newly
%% seen processes are checked on two consecutive ticks, more join the rotation. A tick
%% that comes due while the previous sweep is still running is skipped and counted
%% (`missed_ticks'); nothing queues up. Measured costs are in bench/ (sample_scale).
%%
%% States. `cpu' (default) counts a process when it is running, runnable or garbage
%% collecting at the tick (its status, read under its lock: the instant of the sample),
%% and its stack is not at a receive. The stack cannot be read at that instant: a running
%% process answers at its next scheduling point, either a yield in its work (reductions
%% spent: the stack is in the work, a sample) or its next receive (short work done: the
%% stack is where it waits, which would credit the work to the wait). So an answer whose
%% top frame is a receive point is a wait, dropped and counted (`waits_dropped'), unless
%% the process has a long mailbox (?BUSY_MAILBOX: scanning it is work). Receive points
%% are learned during the run from processes found waiting (a waiting process is always
%% in a receive): answers that come back `waiting', and a few probes a tick of processes
%% that ran since their last check and wait now (`wait_probes'). Measured against native
%% mode on a gen_server doing 20 us of work per call for two clients: the old rule (ran
%% since the last check, running when asked) put 40-75% of the samples in gen:do_call/4
%% and gen_server:loop/7; this one puts them in the work, as native does (README).
%% `wall' counts every process at every tick: a process that did not run keeps the stack
%% it had, credited lazily, so idle processes cost nothing per tick.
-module(beamflame_sampler).
-export([validate/1, start_link/3, defaults/0, chunks/2, turn/3]).
-export([init/4, helper_init/1, reader_init/1]).

-define(HOT_TTL, 10).              % ticks a process stays hot after it last ran
-define(COLD_ROTATION_MS, 1000).   % every known process is re-checked this often, or
-define(ROTATION_US_PER_PROC, 50). % N x this when longer (100k: 5 s, 1M: 50 s): the
                                   % steady cost stays 20,000 checks a second at most
-define(ROTATION_TICKS, 50).       % continuous runs: at least this many ticks (at 10 Hz,
                                   % always-on profiling's rate: 5 s), a low rate checks less
-define(BACKGROUND_MS, 1000).      % cpu mode checks part of its rotation this often even
-define(BACKGROUND_SHARE, 10).     % when nobody unknown is active: a rotation 10 times as
                                   % long, in one round (scan/4)
-define(REFRESH_MAX_MS, 1000).     % processes() re-read at least this often
-define(SCAN_CHUNK, 64).           % reductions and status read by one helper job
-define(MAX_SLICE, 2000).          % cold processes checked per tick at most (~1 ms of one
                                   % helper: past 200,000 processes at 99 Hz the rotation
                                   % takes longer than ?COLD_ROTATION_MS)
-define(FIRST_PASS_TICKS, 100).    % the first pass is done in this many ticks at least
                                   % (1M processes: 10,000 a tick; ticks run long then)
-define(MAX_NEW_HOT, 1000).        % new processes at a refresh checked at once (more join
                                   % the rotation: a node of 100k would otherwise have its
                                   % first tick check everything)
-define(REFRESH_COST_RATIO, 500). % ...and at most 1/500th of the time (0.2% of a core)
-define(REFRESH_US_PER_PROC, 20).  % processes() is re-read at most every N x this (it
                                   % costs ~0.2 us a process: 22 ms for 100k)
-define(STACK_CHUNK, 4).           % stacks asked in one job
-define(STACK_HELPERS, 4).         % stack readers working in parallel
-define(MAX_STACKS_PER_TICK, 128).
-define(PHASE_MIN_US, 20000).      % each phase (scan, stacks) waits max(this, 2 ticks):
                                   % a busy process answers at its next scheduling point,
                                   % several ms away on a loaded node
-define(LINGER_MS, 500).           % a helper past its phase deadline is left to finish
                                   % this long (its processes are not asked meanwhile);
                                   % then it is killed and its processes quarantined.
                                   % Application env `linger_ms' overrides it (tests).
-define(QUARANTINE_MS, 2000).      % how long an unresponsive process is left alone (the
                                   % members of an unresponsive chunk are first asked one
                                   % by one: only the guilty one is quarantined)
-define(BATCH, 64).                % samples per NIF call (the NIF's own limit)
-define(PROBES_PER_TICK, 2).       % waiting processes asked for their stacks a tick, to
                                   % learn receive points (~15 us each)
-define(PROBE_AGAIN_TICKS, 500).   % a process is probed again after this many ticks
-define(SEED_PROBES, 64).          % idle processes probed at a run's start (they teach
                                   % the common receive points: gen_server, gen_statem...)
-define(SEED_PROBES_PER_TICK, 16). % ...of them a tick (seeding ends within the first pass:
                                   % until it does, every tick checks a slice)
-define(MAX_MODULES, 1000).        % modules whose code is read for receive points
-define(MAX_HELD, 10000).          % answers held for the reader at most
-define(BUSY_MAILBOX, 1000).       % a process at a receive with this many messages is
                                   % scanning them: work, not a wait
-define(CPU_STATES, [running, runnable, garbage_collecting]).
-define(STACK_READ_REDS, 1).       % what reading a stack costs its process (charge_reads/2)
%% ERTS never returns more than 64 frames of current_stacktrace, whatever backtrace_depth
%% says (MAX_BACKTRACE_SIZE in erts/emulator/beam/global.h; measured: setting 200 reads
%% back 64). A stack of that length may have lost its root side: it gets this root frame.
-define(ERTS_MAX_BACKTRACE, 64).
-define(TRUNCATED_ROOT, <<"[truncated]">>).
-define(CONTINUOUS_US, 100 * 365 * 86400 * 1000000).  % a continuous run's end: never
-type opts() :: #{duration => pos_integer(), rate => pos_integer(),
                  processes => all | [pid() | atom() | mfa()], states => cpu | wall | all,
                  group => none | process | name, max_stacks => pos_integer(),
                  max_depth => pos_integer(), max_bytes => pos_integer()}.
-export_type([opts/0]).

%% @doc The options with their defaults (beamflame_options:table(sample)).
-spec defaults() -> opts().
defaults() ->
    {ok, D} = beamflame_options:validate(sample, #{}),
    D.

%% @doc Validates options (beamflame_options:table(sample)); unknown keys and bad values
%% are errors naming what is expected.
-spec validate(term()) -> {ok, opts()} | {error, {bad_option, atom(), term(), binary()}}.
validate(Opts) ->
    case beamflame_options:validate(sample, Opts) of
        {ok, Valid = #{states := all}} -> {ok, Valid#{states := wall}};
        Other -> Other
    end.

%% @doc Starts a run for `Caller'; the result arrives as `{Ref, {ok, Profile}}'.
-spec start_link(opts(), pid(), reference()) -> {ok, pid()}.
start_link(Opts, Caller, Ref) ->
    proc_lib:start_link(?MODULE, init, [self(), Opts, Caller, Ref]).

%%% Controller ----------------------------------------------------------------------------

-record(s, {
    parent :: pid(),
    opts :: opts(),
    caller :: pid(),
    cmon :: reference(),
    ref :: reference(),
    profile :: reference(),
    interval_us :: pos_integer(),
    start_us :: integer(),            % monotonic, microseconds
    end_us :: integer(),
    slice_us = infinity :: pos_integer() | infinity,  % continuous: a profile per slice
    slice_start_us :: integer(),      % when the current profile began
    tick = 0 :: non_neg_integer(),    % ticks started
    reds = #{} :: #{pid() => non_neg_integer()},
    hot = #{} :: #{pid() => non_neg_integer()},  % pid => remaining ttl
    cold = [] :: [pid()],             % rotation of known pids
    cold_len = 0 :: non_neg_integer(),  % length(cold) when the rotation began
    credit = 0 :: non_neg_integer(),  % cold checks owed (scan/4)
    background_us :: integer(),       % next background round (monotonic us)
    refresh_us :: integer(),          % next processes() read (monotonic us: may be < 0)
    roots = #{} :: #{pid() => term()},
    quarantine = #{} :: #{pid() => integer()},  % pid => until (us)
    lingering = #{} :: #{pid() => {integer(), [pid()]}}, % late helper => {expires, pids}
    linger_us :: pos_integer(),
    suspects = #{} :: #{pid() => true},  % asked alone until they answer
    wall = #{} :: #{pid() => {non_neg_integer(), non_neg_integer()}}, % pid => {stack, since tick}
    receives = #{} :: #{location() => true},  % receive points: seen waiting, or in the code
    modules = #{} :: #{module() => pending | done}, % modules whose code is read for them
    held = #{} :: #{module() => list()},      % answers waiting for their module's points
    held_n = 0 :: non_neg_integer(),
    reader :: pid(),                  % helper reading modules' receive points
    calls = #{} :: #{pid() => mfa() | undefined},  % initial calls (processes => [{M,F,A}])
    probed = #{} :: #{pid() => non_neg_integer()},  % pid => tick it was last probed
    seeds = ?SEED_PROBES :: non_neg_integer(),      % idle processes still to probe
    scanner :: pid(),                 % helper reading reductions
    stackers :: [pid()],              % helpers reading stacks
    stats = #{} :: #{atom() => non_neg_integer()}
}).

-type location() :: {module(), atom(), arity() | list(), pos_integer() | undefined}.

-spec init(pid(), opts(), pid(), reference()) -> no_return().
init(Parent, Opts = #{rate := Rate, duration := Duration, max_depth := Depth}, Caller, Ref) ->
    process_flag(trap_exit, true),
    CMon = erlang:monitor(process, Caller),
    Caps = maps:with([max_stacks, max_depth, max_bytes], Opts),
    %% Room for the stack, a [truncated] marker and a process root frame.
    {ok, Profile} = beamflame_nif:new(Caps#{max_depth => Depth + 2}),
    ok = beamflame_flags:hold_backtrace_depth(Depth),
    proc_lib:init_ack(Parent, {ok, self()}),
    Now = now_us(),
    S = #s{parent = Parent, opts = Opts, caller = Caller, cmon = CMon, ref = Ref,
           scanner = new_helper(), stackers = [new_helper() || _ <- lists:seq(1, ?STACK_HELPERS)],
           reader = proc_lib:spawn_link(?MODULE, reader_init, [self()]),
           profile = Profile, interval_us = 1000000 div Rate, start_us = Now, refresh_us = Now,
           background_us = Now,
           linger_us = 1000 * application:get_env(beamflame, linger_ms, ?LINGER_MS),
           slice_start_us = Now,
           end_us = case maps:get(slice_ms, Opts, infinity) of
                        infinity -> Now + Duration * 1000;
                        _ -> Now + ?CONTINUOUS_US   % until stopped
                    end,
           slice_us = case maps:get(slice_ms, Opts, infinity) of
                          infinity -> infinity;
                          SliceMs -> SliceMs * 1000
                      end,
           stats = #{ticks => 0, missed_ticks => 0, samples => 0,
                     late_chunks => 0, unresponsive => 0, dropped => 0,
                     waits_dropped => 0, wait_probes => 0, busy_seen => 0, stacks_read => 0,
                     checks => 0, idle_ticks => 0,
                     sweep_us_total => 0, sweep_us_max => 0}},
    schedule(S),
    schedule_slice(S),
    loop(S).

%% A continuous run (beamflame_continuous) hands over a profile per slice and goes on in
%% a new one, at slice boundaries on the run's own grid.
schedule_slice(#s{slice_us = infinity}) ->
    ok;
schedule_slice(#s{slice_us = Slice, slice_start_us = From}) ->
    At = erlang:convert_time_unit(From + Slice, microsecond, millisecond),
    _ = erlang:send_after(At, self(), slice, [{abs, true}]),
    ok.

loop(S = #s{cmon = CMon, parent = Parent}) ->
    receive
        {tick, N} ->
            loop(tick(N, S));
        {'EXIT', Parent, Reason} ->
            %% supervisor shutdown (this clause must come before the helpers' ones)
            cleanup(S),
            exit(Reason);
        {'EXIT', H, _} when H =:= S#s.scanner ->
            loop(S#s{scanner = new_helper()});  % cannot happen short of a bug: go on
        {'EXIT', H, _} when H =:= S#s.reader ->
            loop(S#s{reader = proc_lib:spawn_link(?MODULE, reader_init, [self()])});
        {receive_points, M, Points} ->
            loop(points_arrived(M, Points, S));
        {'EXIT', H, _} when is_pid(H) ->
            case lists:member(H, S#s.stackers) of
                true -> loop(S#s{stackers = [new_helper() | lists:delete(H, S#s.stackers)]});
                false -> loop(exited(H, S))
            end;
        {'DOWN', CMon, process, _, _} ->
            %% the caller is gone: nobody wants the result; undo and stop
            cleanup(S),
            exit(normal);
        finish ->
            finish(S);
        slice ->
            loop(rotate(S));
        {progress, From, Tag} when is_pid(From) ->
            From ! {Tag, #{elapsed_ms => (now_us() - S#s.start_us) div 1000,
                           samples => maps:get(samples, S#s.stats)}},
            loop(S);
        {peek, From, Tag} when is_pid(From) ->
            %% the profile so far, for a live view (beamflame top): folded text and counters
            {ok, Folded} = beamflame_nif:render_folded(S#s.profile),
            From ! {Tag, {Folded, maps:with([samples, ticks, missed_ticks, waits_dropped],
                                            S#s.stats)}},
            loop(S);
        _Other ->
            loop(S)
    end.

now_us() ->
    erlang:monotonic_time(microsecond).

%% A late helper finished: its processes may be asked again.
exited(H, S = #s{lingering = L}) ->
    case maps:take(H, L) of
        {{_, Pids}, L1} -> S#s{lingering = L1, quarantine = maps:without(Pids, S#s.quarantine)};
        error -> S
    end.

%% Ticks are placed on a grid of interval_us from the start, each moved by a random
%% offset of up to a quarter interval either way, so sampling does not beat with periodic
%% work; the mean rate is exact.
schedule(#s{tick = N, interval_us = I, start_us = Start, end_us = End}) ->
    Nominal = Start + (N + 1) * I,
    case Nominal >= End of
        true ->
            erlang:send_after(max(0, (End - now_us())) div 1000, self(), finish);
        false ->
            Jitter = rand:uniform(I div 2 + 1) - 1 - I div 4,
            At = erlang:convert_time_unit(Nominal + Jitter, microsecond, millisecond),
            erlang:send_after(At, self(), {tick, N + 1}, [{abs, true}])
    end,
    ok.

tick(N, S0 = #s{interval_us = I, start_us = Start}) ->
    Now = now_us(),
    %% If we are late by whole intervals (a busy node delayed us), skip those slots.
    Due = max(N, (Now - Start) div I),
    S1 = bump(missed_ticks, Due - N, S0#s{tick = Due}),
    S2 = sweep_tick(Now, bump(ticks, 1, expire_lingering(Now, S1))),
    schedule(S2),
    S2.

quarantine(Pids, Until, S = #s{quarantine = Q}) ->
    S#s{quarantine = lists:foldl(fun(P, Acc) -> Acc#{P => Until} end, Q, Pids)}.

%% Late helpers are set aside (still linked, so they die with the run); their processes
%% are not asked again until they finish or expire.
adopt_late(Late, S) ->
    Expires = now_us() + S#s.linger_us,
    lists:foldl(
      fun({H, Pids}, Acc) ->
              quarantine(Pids, Expires,
                         Acc#s{lingering = (Acc#s.lingering)#{H => {Expires, Pids}}})
      end, bump(late_chunks, length(Late), S), Late).

expire_lingering(Now, S = #s{lingering = L}) ->
    case [{H, Pids} || {H, {Expires, Pids}} <- maps:to_list(L), Expires =< Now] of
        [] ->
            S;
        Expired ->
            Until = Now + ?QUARANTINE_MS * 1000,
            lists:foldl(
              fun({H, Pids}, Acc0) ->
                      unlink(H),
                      exit(H, kill),
                      receive {'EXIT', H, _} -> ok after 0 -> ok end,
                      Acc = Acc0#s{lingering = maps:remove(H, Acc0#s.lingering)},
                      case Pids of
                          [P] ->
                              bump(unresponsive, 1, quarantine([P], Until, Acc));
                          _ ->
                              %% one of them is guilty: ask each alone from now on
                              Sus = maps:merge(Acc#s.suspects, maps:from_keys(Pids, true)),
                              Acc#s{suspects = Sus,
                                    quarantine = maps:without(Pids, Acc#s.quarantine)}
                      end
              end, S, Expired)
    end.

sweep_tick(Now, S0) ->
    %% what is running or queued at the tick's instant, this process among them
    Active = erlang:statistics(total_active_tasks_all) - 1,
    S = refresh(Now, S0),
    Phase = max(2 * S#s.interval_us, ?PHASE_MIN_US),
    S2 = case scan(Active, Now, Now + Phase, S) of
             {nothing, S1} -> bump(idle_ticks, 1, S1);
             {Kind, Reds, LateScan, S1} -> sweep(Kind, Reds, LateScan, Now + 2 * Phase, S1)
         end,
    flush_stale(),
    Took = now_us() - Now,
    bump(sweep_us_total, Took,
         S2#s{stats = maps:update_with(sweep_us_max, fun(M) -> max(M, Took) end, S2#s.stats)}).

%% The universe of processes: processes() or the pids/names given, re-read when due.
refresh(Now, S = #s{refresh_us = At}) when Now < At ->
    S;
refresh(Now, S0 = #s{opts = #{processes := Which}}) ->
    {Pids0, S} = universe(Which, S0),
    %% processes() walks the whole process table, live or not (89 us at the default limit
    %% of 262,144, 0.8 ms at +P 2,000,000, measured here, even with 40 processes)
    Took = now_us() - Now,
    #s{reds = Reds, hot = Hot} = S,
    Pids = Pids0 -- own(S),
    New = [P || P <- Pids, not is_map_key(P, Reds)],
    %% A few new processes are checked on this tick and the next (a baseline, then a
    %% change); many (the first refresh of a big node) join the rotation, first. The
    %% rotation goes on where it was: restarting it at each refresh would check the same
    %% first processes again and again on a node small enough to be refreshed every tick.
    N = length(Pids),
    {Hot1, Cold} = case length(New) =< ?MAX_NEW_HOT of
                       true -> {lists:foldl(fun(P, H) -> H#{P => 2} end, Hot, New), S#s.cold};
                       false -> {Hot, New ++ S#s.cold}
                   end,
    Max = max(?REFRESH_MAX_MS * 1000, N * ?REFRESH_US_PER_PROC),
    %% Re-read about every N/10 ms, but never so often that reading it costs more than
    %% 0.2% of a core (a small node with a large process limit re-read it every tick: that
    %% was most of its sampling cost); at a low rate (always-on profiling) no more often
    %% than half a rotation (on 10k processes a read and its reconciliation is ~2 ms).
    Every = max(min(Max, lists:max([S#s.interval_us, N * 100, Took * ?REFRESH_COST_RATIO])),
                rotation_ticks(S) * S#s.interval_us div 2),
    S#s{cold = Cold, cold_len = N, hot = Hot1, refresh_us = Now + Every}.

universe(all, S) ->
    {erlang:processes(), S};
universe(List, S) ->
    Named = [P || P <- [resolve(X) || X <- List], is_pid(P), is_process_alive(P)],
    case [X || X = {_, _, _} <- List] of
        [] ->
            {lists:usort(Named), S};
        Calls ->
            %% a process's initial call never changes: read once per process
            Known = S#s.calls,
            New = [P || P <- erlang:processes(), not is_map_key(P, Known)],
            All = maps:merge(maps:with(erlang:processes(), Known),
                             maps:from_list([{P, initial_call(P)} || P <- New])),
            Want = maps:from_keys(Calls, true),
            {lists:usort(Named ++ [P || {P, C} <- maps:to_list(All), is_map_key(C, Want)]), S#s{calls = All}}
    end.

resolve(P) when is_pid(P) -> P;
resolve(Name) when is_atom(Name) -> whereis(Name);
resolve(_) -> undefined.

%% The function a process was started with; for proc_lib processes (OTP behaviours) the
%% one in '$initial_call' (a gen_server's: its callback module's init/1).
initial_call(P) ->
    case erlang:process_info(P, initial_call) of
        {initial_call, {proc_lib, init_p, 5}} ->
            case erlang:process_info(P, dictionary) of
                {dictionary, Dict} ->
                    case lists:keyfind('$initial_call', 1, Dict) of
                        {_, {M, F, A}} -> {M, F, A};
                        false -> {proc_lib, init_p, 5}
                    end;
                undefined ->
                    undefined
            end;
        {initial_call, MFA} ->
            MFA;
        undefined ->
            undefined
    end.

%% Which processes a tick checks, read by the scanner in one or two rounds. Returns the
%% scan results with the late chunks, or `nothing' when no process needs a look.
%%
%% Wall mode, a cpu-mode run's start (its idle seeds) and a first pass (until every
%% process has been seen once) check the hot processes and a slice of the cold rotation
%% every tick. Past that, cpu mode asks the schedulers first: a process can only be
%% sampled if it is running or runnable at the tick, and total_active_tasks_all counts
%% those (with ports, dirty run queues, and this process: measured on OTP 25, 27 and 29,
%% an idle node reads 1, each busy process adds 1; 80 ns a read). When it counts nobody
%% else, nothing is checked. Otherwise the hot processes are, and when fewer of them are
%% busy than the count, someone busy is not hot: a second round checks the cold rotation,
%% spending what it was owed (a slice a tick, banked up to one rotation, at most
%% ?MAX_SLICE a round). Every ?BACKGROUND_MS a round checks part of the rotation anyway,
%% as if it were ?BACKGROUND_SHARE times as long (dead processes are forgotten, baselines
%% kept fresh); one round a second, not a small one every few ticks: each round wakes the
%% scanner (measured: ~300 us of CPU for 100 checks, 0.3% of a core at 10 a second). So
%% an idle node costs a timer and one read a tick (10k idle processes: 1,000 checks a
%% second, 10,000 before), and a node whose ports or unknown processes keep the count up
%% checks at the old rate, never faster.
scan(Active, Now, Deadline, S0 = #s{quarantine = Q0}) ->
    S = S0#s{quarantine = maps:filter(fun(_, Until) -> Until > Now end, Q0)},
    Slice = slice(S),
    case kind(S) of
        scan_changed when map_size(S#s.reds) >= S#s.cold_len ->
            Credit = min(S#s.credit + Slice, max(Slice, S#s.cold_len)),
            counted_scan(Active, Now, Deadline, S#s{credit = Credit});
        Kind ->
            {Cold, S1} = take_cold(Slice, S),
            scan_round(Kind, due_hot(S1) ++ Cold, [], [], Deadline, S1)
    end.

%% cpu mode past its start: what the schedulers' count asks for (scan/4).
counted_scan(Active, Now, _Deadline, S = #s{background_us = Next}) when Active =< 0, Now < Next ->
    {nothing, S};
counted_scan(_Active, Now, Deadline, S = #s{background_us = Next}) when Now >= Next ->
    N = min(?MAX_SLICE, S#s.cold_len * ?BACKGROUND_MS * 1000
                            div (?BACKGROUND_SHARE * rotation_us(S)) + 1),
    {Cold, S1} = take_cold(min(N, S#s.credit), S#s{background_us = Now + ?BACKGROUND_MS * 1000}),
    scan_round(scan_changed, due_hot(S1) ++ Cold, [], [], Deadline, S1);
counted_scan(Active, _Now, Deadline, S) ->
    case scan_round(scan_changed, due_hot(S), [], [], Deadline, S) of
        {_, Reds, [], S1} = Round ->
            %% no chunk came late (the node is answering): is someone busy not hot?
            case Active > length(busy(Reds)) of
                true ->
                    {Cold, S2} = take_cold(min(S1#s.credit, ?MAX_SLICE), S1),
                    scan_round(scan_changed, Cold, Reds, [], Deadline, S2);
                false ->
                    Round
            end;
        Late ->
            Late
    end.

%% The processes a scan found running, runnable or garbage collecting.
busy(Reds) ->
    [P || {P, R, _, true} <- Reds, R =/= dead].

%% In cpu mode, once the idle seeds are probed, the scan leaves out the processes it finds
%% idle and unchanged (almost all of them on a big node): see quiet/4.
kind(#s{opts = #{states := cpu}, seeds = 0}) -> scan_changed;
kind(_S) -> scan.

scan_round(Kind, [], Reds0, Late0, _Deadline, S) ->
    {Kind, Reds0, Late0, S};
scan_round(Kind, Due, Reds0, Late0, Deadline, S = #s{reds = Known}) ->
    Items = [{P, maps:get(P, Known, new)} || P <- Due],
    {Reds, Late, [Scanner]} = run_jobs(Kind, Items, ?SCAN_CHUNK, S#s.suspects, [S#s.scanner],
                                       Deadline),
    {Kind, Reds ++ Reds0, Late ++ Late0,
     bump(checks, length(Items), S#s{scanner = Scanner})}.

%% The hot processes and the suspects (every sweep: quiet/4 relies on it), minus the
%% quarantined.
due_hot(#s{hot = Hot, suspects = Sus, quarantine = Q}) ->
    [P || P <- maps:keys(Hot), not is_map_key(P, Q)]
        ++ [P || P <- maps:keys(Sus), not is_map_key(P, Hot), not is_map_key(P, Q)].

%% The cold rotation's slice a tick: until every process has been seen once (a run's first
%% pass) the largest, so a busy process among 100k idle ones is found in half a second,
%% not a rotation; then the rotation's share.
slice(S = #s{cold_len = Len, interval_us = I}) ->
    case map_size(S#s.reds) < Len of
        true -> max(?MAX_SLICE, Len div ?FIRST_PASS_TICKS);
        false -> min(?MAX_SLICE, max(1, (Len * I) div rotation_us(S) + 1))
    end.

%% How long checking every known process once takes.
rotation_us(S = #s{cold_len = Len, interval_us = I}) ->
    lists:max([?COLD_ROTATION_MS * 1000, Len * ?ROTATION_US_PER_PROC, rotation_ticks(S) * I]).

%% The next N of the rotation, minus those checked anyway (hot, suspect) and the
%% quarantined; a rotation done, the next one is every known process. (Our own processes
%% are never in it: refresh/2 leaves them out of what is known.)
take_cold(N, S = #s{cold = Cold, cold_len = Len, hot = Hot, suspects = Sus, quarantine = Q}) ->
    {Take, Rest} = take(N, Cold, []),
    {Cold1, Len1} = case Rest of
                        [] -> Keys = maps:keys(S#s.reds), {Keys, length(Keys)};
                        _ -> {Rest, Len}
                    end,
    {[P || P <- Take, not is_map_key(P, Hot), not is_map_key(P, Sus), not is_map_key(P, Q)],
     S#s{cold = Cold1, cold_len = Len1, credit = max(0, S#s.credit - N)}}.

%% A continuous run (always on, low rate) checks its cold processes over a rotation of
%% at least ?ROTATION_TICKS ticks, and re-reads processes() no more often than half of one:
%% its cost is mostly these checks. A one-shot run keeps its one-second rotation.
rotation_ticks(#s{slice_us = infinity}) -> 1;
rotation_ticks(_S) -> ?ROTATION_TICKS.

take(0, Rest, Acc) -> {Acc, Rest};
take(_, [], Acc) -> {Acc, []};
take(N, [P | Rest], Acc) -> take(N - 1, Rest, [P | Acc]).

%% Never sample our own processes: they run every tick and would be asked every tick.
own(S) ->
    [self(), S#s.scanner, S#s.reader | S#s.stackers] ++ maps:keys(S#s.lingering).

%% Folds the scan results into the bookkeeping maps in one pass (this runs for every
%% process checked, so it touches plain maps, not the state record).
update_reds(Results, S = #s{reds = R0, hot = H0, suspects = Sus0}) ->
    {R, H, Sus, Dead} = lists:foldl(fun reds_entry/2, {R0, H0, Sus0, []}, Results),
    S1 = S#s{reds = R, hot = H, suspects = Sus},
    case Dead of
        [] -> S1;
        _ -> lists:foldl(fun forget/2, S1, Dead)
    end.

reds_entry({P, dead, _, _}, {R, H, Sus, Dead}) ->
    {R, H, Sus, [P | Dead]};
reds_entry({P, Reds, Changed, _}, {R, H, Sus, Dead}) ->
    H1 = case Changed of
             true -> H#{P => ?HOT_TTL};
             false ->
                 case H of
                     #{P := T} when T > 1 -> H#{P => T - 1};
                     #{P := _} -> maps:remove(P, H);
                     _ -> H
                 end
         end,
    %% it answered: no longer a suspect
    Sus1 = case Sus of #{P := _} -> maps:remove(P, Sus); _ -> Sus end,
    %% most processes checked did not run: their count is the one kept (a lookup costs
    %% less than an update of a big map)
    R1 = case R of #{P := Reds} -> R; _ -> R#{P => Reds} end,
    {R1, H1, Sus1, Dead}.

%% Reading a process's stack costs it one reduction (a current_stacktrace read is a signal
%% it handles; measured on OTP 25, 27 and 29), which its next check would take for work:
%% its baseline becomes its count as read with the stack, plus that one. Without this,
%% every stack read made its process look as if it had run: wall mode re-read every idle
%% process's stack once a rotation (10,000 reads a second on 10k idle processes).
charge_reads(Answers, S = #s{reds = R0}) ->
    R = lists:foldl(fun({P, Info, _}, R1) ->
                            case {R1, lists:last(Info)} of
                                {#{P := _}, {reductions, N}} -> R1#{P => N + ?STACK_READ_REDS};
                                _ -> R1
                            end
                    end, R0, Answers),
    S#s{reds = R}.

%% The processes a scan_changed scan left out answered idle, their reductions unchanged:
%% their counts stand, and as update_reds would have done, a hot one cools by a tick and a
%% suspect one is cleared. Only the hot and suspect sets are walked (a few processes):
%% every sweep scanned them all (due_hot/1) but the quarantined, and those of late chunks
%% did not answer.
quiet(scan, _Reds, _LateScan, S) ->
    S;
quiet(scan_changed, Reds, LateScan, S = #s{hot = H0, suspects = Sus0, quarantine = Q}) ->
    %% (our own processes are never hot nor suspect: they are never scanned)
    Told = maps:from_keys([P || {P, _, _, _} <- Reds] ++
                              [P || {_, Chunk} <- LateScan, {P, _} <- Chunk], told),
    Quiet = fun(P) -> not is_map_key(P, Told) andalso not is_map_key(P, Q) end,
    H = maps:fold(fun(P, T, Acc) ->
                          case Quiet(P) of
                              false -> Acc;
                              true when T > 1 -> Acc#{P => T - 1};
                              true -> maps:remove(P, Acc)
                          end
                  end, H0, H0),
    Sus = maps:filter(fun(P, _) -> not Quiet(P) end, Sus0),
    S#s{hot = H, suspects = Sus}.

forget(P, S = #s{reds = R, hot = H, roots = Roots}) ->
    S1 = credit_wall(P, S#s.tick - 1, S),
    S1#s{reds = maps:remove(P, R), hot = maps:remove(P, H), roots = maps:remove(P, Roots),
         probed = maps:remove(P, S1#s.probed),
         wall = maps:remove(P, S1#s.wall)}.

%% Wall-clock accounting: a process's stack observed at tick T counts 1 at T (added by the
%% sweep); the ticks between T and the next observation are credited to it then.
update_wall({P, StackId}, S = #s{tick = T}) ->
    S1 = credit_wall(P, T - 1, S),
    S1#s{wall = (S1#s.wall)#{P => {StackId, T}}}.

credit_wall(P, UpTo, S = #s{wall = Wall, profile = Profile}) ->
    case maps:find(P, Wall) of
        {ok, {StackId, Since}} when UpTo > Since ->
            ok = beamflame_nif:add_weights(Profile, [{StackId, UpTo - Since}]),
            S#s{wall = Wall#{P => {StackId, UpTo}}};
        _ ->
            S
    end.

-spec finish(#s{}) -> no_return().
finish(S0) ->
    %% answers still held: their modules' points did not come in time (none known)
    S = maps:fold(fun(M, _, Acc) -> points_arrived(M, [], Acc) end, S0, S0#s.held),
    End = S#s.tick,
    S1 = lists:foldl(fun(P, Acc) -> credit_wall(P, End, Acc) end, S, maps:keys(S#s.wall)),
    #s{profile = Profile, caller = Caller, ref = Ref} = S1,
    ok = beamflame_nif:set_meta(Profile, meta(S1)),
    cleanup(S1),
    Caller ! {Ref, {ok, Profile}},
    exit(normal).

%% What info/1 tells of the current profile (from when it began: the run's start, or in a
%% continuous run the slice's).
meta(S = #s{opts = Opts, stats = Stats}) ->
    Elapsed = (now_us() - S#s.slice_start_us) div 1000,
    Roots = case maps:get(group, Opts) of none -> #{}; _ -> #{roots => process} end,
    Meta = maps:merge(Stats, Roots#{mode => sample,
                                    states => maps:get(states, Opts),
                                    group => maps:get(group, Opts),
                                    rate => maps:get(rate, Opts),
                                    duration_ms => Elapsed,
                                    started_at => erlang:system_time(millisecond) - Elapsed,
                                    processes_seen => map_size(S#s.reds),
                                    receive_points => map_size(S#s.receives),
                                    %% the caps as asked (the table's depth has room for
                                    %% the root and [truncated] frames besides)
                                    caps => maps:with([max_stacks, max_depth, max_bytes], Opts),
                                    node => node()}),
    maps:merge(Meta, maps:merge(empty_reason(S, Stats), hint(Meta))).

%% A slice is over: its profile goes to the caller as {Ref, {slice, Profile}}, with its
%% meta; the run goes on in a new profile, the waiting processes of wall mode keeping
%% their stacks (copied over, uncredited). Counters start again at 0 for the slice.
rotate(S0 = #s{profile = Old, caller = Caller, ref = Ref, opts = Opts}) ->
    End = S0#s.tick,
    S1 = lists:foldl(fun(P, Acc) -> credit_wall(P, End, Acc) end, S0, maps:keys(S0#s.wall)),
    ok = beamflame_nif:set_meta(Old, meta(S1)),
    Caps = maps:with([max_stacks, max_depth, max_bytes], Opts),
    {ok, New} = beamflame_nif:new(Caps#{max_depth => maps:get(max_depth, Opts) + 2}),
    Wall = carry_wall(Old, New, S1#s.wall, End),
    Caller ! {Ref, {slice, Old}},
    S2 = S1#s{profile = New, wall = Wall, slice_start_us = S1#s.slice_start_us + S1#s.slice_us,
              stats = maps:map(fun(_, _) -> 0 end, S1#s.stats)},
    schedule_slice(S2),
    S2.

carry_wall(_Old, _New, Wall, _End) when map_size(Wall) =:= 0 ->
    #{};
carry_wall(Old, New, Wall, End) ->
    Pids = maps:keys(Wall),
    Ids = lists:append([beamflame_nif:copy_stacks(Old, New, [Id || {Id, _} <- Chunk])
                        || Chunk <- chunks([maps:get(P, Wall) || P <- Pids], 1024)]),
    maps:from_list([{P, {Id, End}} || {P, Id} <- lists:zip(Pids, Ids), is_integer(Id)]).

%% A profile without samples says why (an empty profile is never silent).
empty_reason(_S, #{samples := N}) when N > 0 ->
    #{};
empty_reason(#s{reds = Reds, opts = #{processes := Which}}, _Stats)
  when Which =/= all, map_size(Reds) =:= 0 ->
    Why = io_lib:format("no process matched ~0tp (registered names, pids, initial calls "
                        "{M, F, A}: an OTP behaviour's is its callback module's init/1)",
                        [Which]),
    #{empty_reason => unicode:characters_to_binary(Why)};
empty_reason(#s{reds = Reds, cold_len = Len, interval_us = I}, Stats) ->
    #{ticks := Ticks, missed_ticks := Missed, sweep_us_max := Max} = Stats,
    Why = if
              map_size(Reds) < Len ->
                  io_lib:format("the first pass over the node's ~b processes did not finish "
                                "(~b seen): record longer", [Len, map_size(Reds)]);
              map_get(waits_dropped, Stats) > 0 ->
                  io_lib:format("all ~b looks at running processes found them at a receive "
                                "(work shorter than a scheduling slice): use --mode native "
                                "(+JPperf map) or --mode trace --call M:F/A",
                                [map_get(waits_dropped, Stats)]);
              Missed > Ticks ->
                  io_lib:format("sweeps took longer than the ~b ms tick interval (longest "
                                "~b ms) and ~b of ~b ticks were missed: lower the rate",
                                [I div 1000, Max div 1000, Missed, Missed + Ticks]);
              true ->
                  "no process was running or runnable when the sampler looked (an idle "
                  "node, or work shorter than a tick: try states => wall or a higher rate)"
          end,
    #{empty_reason => unicode:characters_to_binary(Why)}.

%% When the graph cannot be trusted as it is, one sentence saying why and what to do
%% (the command line prints it, SVGs carry it as their subtitle).
hint(#{samples := N, ticks := Ticks, missed_ticks := Missed, sweep_us_max := Max} = Meta) ->
    Waits = maps:get(waits_dropped, Meta, 0),
    Why = if
              Missed * 10 >= Ticks + Missed, Missed > 0 ->
                  io_lib:format("the node was too busy to sample: ~b of ~b ticks missed "
                                "(longest sweep ~b ms), busy code is undercounted; lower the "
                                "rate (--rate) or use --mode native",
                                [Missed, Ticks + Missed, Max div 1000]);
              Waits >= 2 * N, Waits >= 10 ->
                  io_lib:format("~b of ~b looks found running processes at a receive (short "
                                "work): ~b samples drawn; for where CPU goes use --mode native "
                                "(+JPperf map) or --mode trace --call M:F/A",
                                [Waits, Waits + N, N]);
              true ->
                  none
          end,
    case Why of
        none -> #{};
        _ -> #{hint => unicode:characters_to_binary(Why)}
    end.

cleanup(#s{scanner = Scanner, stackers = Stackers, reader = Reader, lingering = Lingering}) ->
    [begin unlink(H), exit(H, kill) end
     || H <- [Scanner, Reader | Stackers] ++ maps:keys(Lingering)],
    ok = beamflame_flags:release().

bump(Key, N, S = #s{stats = St}) ->
    S#s{stats = St#{Key => maps:get(Key, St) + N}}.

%% @doc L in lists of N (the last may be shorter). Linear in the list (a length/1 per
%% chunk made it quadratic: 4 s a tick at 100k).
-spec chunks([T], pos_integer()) -> [[T]].
chunks(L, N) -> chunks(L, N, N, [], []).

chunks([], _, _, [], Acc) -> lists:reverse(Acc);
chunks([], _, _, Cur, Acc) -> lists:reverse([lists:reverse(Cur) | Acc]);
chunks(L, N, 0, Cur, Acc) -> chunks(L, N, N, [], [lists:reverse(Cur) | Acc]);
chunks([X | Rest], N, K, Cur, Acc) -> chunks(Rest, N, K - 1, [X | Cur], Acc).

%%% Sweep -----------------------------------------------------------------------------------

%% Answers of helpers we gave up on, arriving after their deadline.
flush_stale() ->
    receive {chunk, _, _, _} -> flush_stale() after 0 -> ok end.

%% One tick, folded into the state as it goes. Scan entries are
%% {Pid, LastReductions | new}; scan results {Pid, Reductions | dead, Ran, Busy}: Ran if
%% it ran since its last check or is busy now, Busy if running, runnable or garbage
%% collecting now.
sweep(Kind, Reds, LateScan, Deadline, S0) ->
    #s{opts = #{states := States, group := Group}, profile = Profile,
       roots = Roots, wall = Wall, suspects = Suspects} = S0,
    %% Which processes need a stack: in cpu mode those busy at the scan; in wall mode those
    %% that ran since their last check and those never observed.
    Want = case States of
               cpu -> busy(Reds);
               wall -> [P || {P, R, Ran, _} <- Reds, R =/= dead,
                             Ran orelse not is_map_key(P, Wall)]
           end,
    Sampled = turn(Want, ?MAX_STACKS_PER_TICK, S0#s.tick),
    {Probes, S1} = probes(States, Reds, S0),
    NeedRoot = Group =/= none,
    %% each stack item says which root frame its answer needs, if any
    Items = [{P, NeedRoot andalso not is_map_key(P, Roots) andalso Group} || P <- Sampled]
        ++ [{P, false} || P <- Probes],
    {Answers, LateStacks, Stackers} =
        run_jobs(stack, Items, ?STACK_CHUNK, Suspects, S1#s.stackers, Deadline),
    {Kept, S2} = classify(Answers, maps:from_keys(Probes, probe), S1),
    {Ids, Dropped} = add(Profile, Kept),
    S3 = charge_reads(Answers,
                      quiet(Kind, Reds, LateScan, update_reds(Reds, S2#s{stackers = Stackers}))),
    S4 = case States of
             wall -> lists:foldl(fun update_wall/2, S3, [{P, Id} || {P, Id} <- Ids, is_integer(Id)]);
             cpu -> S3
         end,
    S5 = case NeedRoot of
             true -> S4#s{roots = maps:merge(S4#s.roots,
                                             maps:from_list([{P, R} || {P, _, _, R} <- Kept]))};
             false -> S4
         end,
    Late = [{H, [P || {P, _} <- Chunk]} || {H, Chunk} <- LateScan ++ LateStacks],
    %% (in wall mode too: those found executing, not all whose stack is wanted)
    Busy = case States of
               cpu -> length(Want);
               wall -> length(busy(Reds))
           end,
    S6 = bump(stacks_read, length(Answers),
              bump(busy_seen, Busy, bump(wait_probes, length(Probes), S5))),
    bump(samples, length(Kept) - Dropped, bump(dropped, Dropped, adopt_late(Late, S6))).

%% @doc At most N of Items, from a place that moves on by N each tick: when more processes
%% want a stack than a tick reads, each gets its turn (taking the first N every tick left
%% the others, in wall mode, with the stack of their first read for the whole run).
-spec turn([T], pos_integer(), non_neg_integer()) -> [T].
turn(Items, N, Tick) ->
    case length(Items) of
        Len when Len =< N ->
            Items;
        Len ->
            {Before, After} = lists:split((Tick * N) rem Len, Items),
            lists:sublist(After ++ Before, N)
    end.

%% In cpu mode, a few waiting processes are asked for their stacks to learn where they
%% wait: first those that ran since their last check (the request/response processes
%% whose receive points matter), then, at a run's start, idle ones (the common points).
%% A process is probed again only after ?PROBE_AGAIN_TICKS.
probes(wall, _Reds, S) ->
    {[], S};
probes(cpu, Reds, S = #s{probed = Probed, tick = T, seeds = Seeds}) ->
    Fresh = fun(P) -> case Probed of #{P := At} -> T - At >= ?PROBE_AGAIN_TICKS; _ -> true end end,
    %% one pass over the scan, stopping once enough are found (this runs for every process
    %% checked); idle ones only while seeds are left
    {Ran, Idle0} = pick_probes(Reds, Fresh, Seeds > 0, [], []),
    Idle = lists:sublist(Idle0, min(Seeds, ?SEED_PROBES_PER_TICK)),
    Ps = Ran ++ Idle,
    {Ps, S#s{probed = maps:merge(Probed, maps:from_keys(Ps, T)), seeds = Seeds - length(Idle)}}.

pick_probes(_Reds, _Fresh, _Seeding, Ran, Idle) when length(Ran) >= ?PROBES_PER_TICK ->
    {lists:reverse(Ran), lists:reverse(Idle)};
pick_probes([], _Fresh, _Seeding, Ran, Idle) ->
    {lists:reverse(Ran), lists:reverse(Idle)};
pick_probes([{P, R, true, false} | Rest], Fresh, Seeding, Ran, Idle) when R =/= dead ->
    case Fresh(P) of
        true -> pick_probes(Rest, Fresh, Seeding, [P | Ran], Idle);
        false -> pick_probes(Rest, Fresh, Seeding, Ran, Idle)
    end;
pick_probes([{P, R, false, false} | Rest], Fresh, true, Ran, Idle)
  when R =/= dead, length(Idle) < ?SEED_PROBES_PER_TICK ->
    case Fresh(P) of
        true -> pick_probes(Rest, Fresh, true, Ran, [P | Idle]);
        false -> pick_probes(Rest, Fresh, true, Ran, Idle)
    end;
pick_probes([_ | Rest], Fresh, Seeding, Ran, Idle) ->
    pick_probes(Rest, Fresh, Seeding, Ran, Idle).

%% Answers to samples or wait records. A process found waiting teaches its receive point
%% (and is no sample); a busy one answering at a receive point waited there (dropped,
%% counted), unless its mailbox is long; probes only teach. An answer on top of a module
%% whose code has not been read yet is held until the reader has told its receive points.
classify(Answers, Probes, S0) ->
    lists:foldl(fun(A, {Kept, S}) -> judge(A, Probes, Kept, S) end, {[], S0}, Answers).

judge({P, Info, Root} = Answer, Probes, Kept, S) ->
    [{status, Status}, {message_queue_len, QLen}, {current_stacktrace, Stack} | _] = Info,
    Loc = location(Stack),
    case verdict(P, Status, QLen, Loc, Probes, S) of
        keep ->
            #s{opts = #{states := States, max_depth := Depth}, roots = Roots} = S,
            case sample(P, Status, Stack, Root, States, Roots, Depth) of
                skip -> {Kept, S};
                X -> {[X | Kept], S}
            end;
        learn ->
            S1 = S#s{receives = (S#s.receives)#{Loc => true}},
            {Kept, case is_map_key(P, Probes) of
                       true -> S1;
                       false -> bump(waits_dropped, 1, S1)
                   end};
        wait ->
            {Kept, bump(waits_dropped, 1, S)};
        hold ->
            {M, _, _, _} = Loc,
            S1 = case S#s.modules of
                     #{M := pending} -> S;
                     _ -> S#s.reader ! {points, self(), M}, S
                 end,
            {Kept, S1#s{modules = (S1#s.modules)#{M => pending},
                        held = maps:update_with(M, fun(L) -> [Answer | L] end, [Answer],
                                                S1#s.held),
                        held_n = S1#s.held_n + 1}};
        skip ->
            {Kept, S}
    end.

verdict(P, Status, QLen, Loc, Probes, S = #s{opts = #{states := States}, modules = Ms}) ->
    if
        States =:= wall -> keep;
        Loc =:= none -> skip;
        Status =:= waiting -> learn;
        is_map_key(P, Probes) -> skip;
        QLen < ?BUSY_MAILBOX, is_map_key(Loc, S#s.receives) -> wait;
        true ->
            M = element(1, Loc),
            case Ms of
                #{M := done} -> keep;
                #{M := pending} when S#s.held_n < ?MAX_HELD -> hold;
                #{} when map_size(Ms) < ?MAX_MODULES, S#s.held_n < ?MAX_HELD -> hold;
                #{} -> keep
            end
    end.

%% A module's receive points arrived (from the reader): its held answers are judged again.
points_arrived(M, Points, S0) ->
    Add = maps:from_keys([{M, F, A, L} || {F, A, L} <- Points], true),
    {Held, S1} = case maps:take(M, S0#s.held) of
                     {L, Rest} -> {lists:reverse(L), S0#s{held = Rest, held_n = S0#s.held_n - length(L)}};
                     error -> {[], S0}
                 end,
    S2 = S1#s{receives = maps:merge(S1#s.receives, Add), modules = (S1#s.modules)#{M => done}},
    {Kept, S3} = classify(Held, #{}, S2),
    add_kept(Kept, S3).

add_kept([], S) ->
    S;
add_kept(Kept, S) ->
    {_Ids, Dropped} = add(S#s.profile, Kept),
    bump(samples, length(Kept) - Dropped, bump(dropped, Dropped, S)).

%% @private The reader: the receive points of each module asked for, one at a time.
-spec reader_init(pid()) -> no_return().
reader_init(Controller) ->
    receive
        {points, Controller, M} ->
            Controller ! {receive_points, M, beamflame_receives:points(M)},
            reader_init(Controller);
        _Other ->
            reader_init(Controller)
    end.

%% The top frame's function and line: where the process is.
location([{M, F, A, Loc} | _]) ->
    {M, F, A, proplists:get_value(line, Loc)};
location(_) ->
    none.

%% Gives the items to the helpers in chunks (suspects alone), round robin; each helper
%% answers its chunks in order. Returns the results that came by the deadline, the late
%% helpers each with the chunk it is stuck on (unlinked: the controller adopts them), and
%% the helpers to use next time (the late ones replaced, told to retire).
run_jobs(_Kind, [], _ChunkSize, _Suspects, Helpers, _Deadline) ->
    {[], [], Helpers};
run_jobs(Kind, Items, ChunkSize, Suspects, Helpers, Deadline) ->
    {Alone, Rest} = case map_size(Suspects) of
                        0 -> {[], Items};
                        _ -> lists:partition(fun(I) -> is_map_key(element(1, I), Suspects) end,
                                             Items)
                    end,
    Chunks = [[I] || I <- Alone] ++ chunks(Rest, ChunkSize),
    Ref = make_ref(),
    Assigned = assign(Chunks, Helpers, #{}),
    maps:foreach(fun(H, Cs) -> [H ! {job, self(), Ref, Kind, C} || C <- Cs] end, Assigned),
    gather(Ref, Assigned, Deadline, [], Helpers).

assign([], _Helpers, Acc) ->
    maps:map(fun(_, Cs) -> lists:reverse(Cs) end, Acc);
assign([C | Cs], [H | Hs], Acc) ->
    assign(Cs, Hs ++ [H], maps:update_with(H, fun(L) -> [C | L] end, [C], Acc)).

%% Pending: each helper with the chunks it has not answered yet (helpers that answered all
%% are removed).
gather(_Ref, Pending, _Deadline, Acc, Helpers) when map_size(Pending) =:= 0 ->
    {Acc, [], Helpers};
gather(Ref, Pending, Deadline, Acc, Helpers) ->
    Left = max(0, (Deadline - now_us()) div 1000),
    receive
        {chunk, H, Ref, Results} ->
            Pending1 = case maps:get(H, Pending) of
                           [_] -> maps:remove(H, Pending);
                           [_ | More] -> Pending#{H => More}
                       end,
            gather(Ref, Pending1, Deadline, [R || R <- Results, R =/= skip] ++ Acc, Helpers)
    after Left ->
        Late = [{H, First} || {H, [First | _]} <- maps:to_list(Pending)],
        %% a late helper stops after the job it is stuck on
        _ = [H ! {retire, self()} || {H, _} <- Late],
        Fresh = [case lists:keymember(H, 1, Late) of
                     true -> new_helper();
                     false -> H
                 end || H <- Helpers],
        {Acc, Late, Fresh}
    end.

new_helper() ->
    proc_lib:spawn_link(?MODULE, helper_init, [self()]).

%% @private A helper of the run's controller: reads processes, one chunk per job, in the
%% order given; once told to retire (it was late), it stops after the job at hand.
-spec helper_init(pid()) -> ok.
helper_init(Controller) ->
    receive
        {job, Controller, Ref, Kind, Chunk} ->
            Controller ! {chunk, self(), Ref, [R || I <- Chunk, R <- [read(Kind, I)], R =/= skip]},
            receive
                {retire, Controller} -> ok
            after 0 ->
                helper_init(Controller)
            end;
        {retire, Controller} ->
            ok;
        _Other ->
            helper_init(Controller)
    end.

read(scan_changed, {P, Old}) ->
    case read(scan, {P, Old}) of
        {P, Old, false, false} -> skip; % idle, unchanged: left out (see quiet/4)
        Result -> Result
    end;
read(scan, {P, Old}) ->
    case erlang:process_info(P, [reductions, status]) of
        undefined ->
            {P, dead, false, false};
        [{reductions, R}, {status, St}] ->
            %% ran since the last check, or busy right now (a busy process seen for the
            %% first time is not made to wait a rotation for its baseline)
            Busy = St =:= running orelse St =:= runnable orelse St =:= garbage_collecting,
            {P, R, (Old =/= new andalso R =/= Old) orelse Busy, Busy}
    end;
read(stack, {P, RootKind}) ->
    case erlang:process_info(P, [status, message_queue_len, current_stacktrace, reductions]) of
        undefined ->
            skip;
        Info ->
            Root = case RootKind of
                       false -> undefined;
                       Group -> root_of(P, Group)
                   end,
            {P, Info, Root}
    end.

%% An answer as {Pid, Stack, Weight, Root}, or skip. A stack as long as the depth limit
%% may have lost its root side: it is marked so, not shown as if complete.
sample(P, Status, Stack0, Root0, States, Roots, Depth) ->
    case States =:= wall orelse lists:member(Status, ?CPU_STATES) of
        true when Stack0 =/= [] ->
            %% with backtrace_depth at Depth, ERTS gives up to Depth + 1 frames (never
            %% more than 64): more than Depth, or 64, means the root side is missing
            N = length(Stack0),
            Stack = case N > Depth orelse N >= ?ERTS_MAX_BACKTRACE of
                        true -> lists:sublist(Stack0, Depth) ++ [?TRUNCATED_ROOT];
                        false -> Stack0
                    end,
            Root = case Root0 of
                       undefined -> maps:get(P, Roots, undefined);
                       _ -> Root0
                   end,
            {P, Stack, 1, Root};
        _ ->
            skip
    end.

add(Profile, Samples) ->
    add(Profile, Samples, [], 0).

add(_Profile, [], Ids, Dropped) ->
    {Ids, Dropped};
add(Profile, Samples, Ids, Dropped) ->
    {Batch, Rest} = lists:split(min(?BATCH, length(Samples)), Samples),
    Out = beamflame_nif:add_samples(Profile, [{root_frame(R), St, W} || {_, St, W, R} <- Batch]),
    Pairs = lists:zip([P || {P, _, _, _} <- Batch], Out),
    add(Profile, Rest, Pairs ++ Ids, Dropped + length([x || dropped <- Out])).

root_frame(undefined) -> undefined;
root_frame(Name) when is_atom(Name) -> Name;
root_frame(Text) when is_binary(Text) -> Text;
root_frame({M, F, A}) -> {M, F, A}.

%% A process's root frame in `group => name': its registered name; else the function
%% it was started with (for proc_lib processes the one in '$initial_call', as
%% proc_lib:translate_initial_call/1 finds it, but without its proc_lib:init_p/5 default);
%% else, for a process spawned from a fun (initial call erlang:apply/2), `undefined', and
%% the sweep names it by its outermost frame. In `group => process' the same, followed by
%% the pid unless it is a registered name (one root per process).
root_of(P, name) ->
    root_of(P);
root_of(P, process) ->
    Pid = list_to_binary(pid_to_list(P)),
    case root_of(P) of
        undefined -> Pid;
        Name when is_atom(Name) -> Name;
        {M, F, A} -> unicode:characters_to_binary(io_lib:format("~ts:~ts/~b ~s", [M, F, A, Pid]))
    end.

root_of(P) ->
    case erlang:process_info(P, registered_name) of
        {registered_name, Name} when is_atom(Name) ->
            Name;
        _ ->
            case initial_call(P) of
                {erlang, apply, 2} -> undefined;
                Call -> Call
            end
    end.
