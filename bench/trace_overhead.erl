%% Benchmark: the cost of tracing call-heavy code, each variant in a fresh peer node, the
%% same run for all:
%%   untraced   the workload alone;
%%   floor      the same trace flags and patterns with a NIF tracer that does nothing
%%              (beamflame_nif with `null => true'): the VM's own cost of tracing;
%%   baseline   a message-based tracer process that builds the same stacks in Erlang
%%              (eflambe's design: every event is a message to one process; direct
%%              self-recursion folded as eflambe folds it), measured until it has drained
%%              its mailbox and its stacks are complete;
%%   beamflame  beamflame:trace/2, until its profile is complete.
%% Each variant reports wall time (median of ?RUNS fresh peers, each timing its second run
%% of the variant: the first warms code and tracing paths) and the peak resident memory
%% its first run added to the node (VmHWM after, less VmRSS before, peak reset first),
%% and for the two stack builders the distinct stacks and folded output size.
%% Output: trace_bench: workload=... variant=... ms=... peak_mb=... [stacks=... bytes=...]
%%         trace_ratio: workload=... beamflame_vs_baseline=... beamflame_vs_floor=...
-module(trace_overhead).
-export([main/0, run/2]).

-define(RUNS, 5).
-define(MS, [{'_', [], [{message, {caller}}]}]).
-define(FLAGS, [call, arity, return_to]).

main() ->
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start([list_to_atom("bf_tbench_" ++ os:getpid()), shortnames]),
    Workloads = [{fib, 25}, {sort, 20000}, {build_sort, 20000}, {build_sort, 200000}],
    Variants = [untraced, floor, baseline, beamflame],
    [begin
         Rows = [{V, median([one(V, W) || _ <- lists:seq(1, ?RUNS)])} || V <- Variants],
         [report(W, V, R) || {V, R} <- Rows],
         {_, B} = lists:keyfind(beamflame, 1, Rows),
         {_, Base} = lists:keyfind(baseline, 1, Rows),
         {_, F} = lists:keyfind(floor, 1, Rows),
         {_, U} = lists:keyfind(untraced, 1, Rows),
         io:format("trace_ratio: workload=~s beamflame_vs_baseline=~.3f beamflame_vs_floor=~.3f "
                   "floor_vs_untraced=~.1f beamflame_peak_mb=~.1f baseline_peak_mb=~.1f "
                   "beamflame_folded_kb=~.1f baseline_folded_kb=~.1f~n",
                   [name(W), ms(B) / ms(Base), ms(B) / ms(F), ms(F) / max(ms(U), 0.001),
                    mb(B), mb(Base), maps:get(bytes, B) / 1024, maps:get(bytes, Base) / 1024])
     end || W <- Workloads],
    halt(0).

name({K, N}) -> atom_to_list(K) ++ integer_to_list(N).
ms(#{ms := M}) -> M.
mb(#{peak_mb := M}) -> M.

report(W, V, R = #{ms := Ms, peak_mb := Mb}) ->
    Extra = case R of
                #{stacks := S, bytes := B} -> io_lib:format(" stacks=~b bytes=~b", [S, B]);
                _ -> ""
            end,
    io:format("trace_bench: workload=~s variant=~s ms=~.1f peak_mb=~.1f~s~n",
              [name(W), V, Ms, Mb, Extra]).

median(Rs) ->
    Sorted = lists:sort(fun(A, B) -> ms(A) =< ms(B) end, Rs),
    lists:nth((length(Rs) + 1) div 2, Sorted).

one(Variant, Workload) ->
    Ebin = filename:dirname(code:which(beamflame)),
    Here = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_tb),
                                         args => ["-pa", Ebin, "-pa", Here]}),
    R = erpc:call(Node, ?MODULE, run, [Variant, Workload], 600000),
    peer:stop(Peer),
    R.

%%% On the peer ---------------------------------------------------------------------------

%% sort: the input is made before tracing starts, only lists:sort/1 is traced.
%% build_sort: as users write it, the list is built inside the traced call by a
%% comprehension (body recursion N deep), then sorted.
work({fib, N}) -> fib(N);
work({sort, L}) -> lists:sort(L);
work({build_sort, N}) -> lists:sort([(X * 7919) rem 1000003 || X <- lists:seq(1, N)]).

fib(0) -> 0;
fib(1) -> 1;
fib(N) -> fib(N - 1) + fib(N - 2).

rand_list(N) ->
    rand:seed(exsss, {1, 2, 3}),
    [rand:uniform(1 bsl 30) || _ <- lists:seq(1, N)].

run(Variant, Workload0) ->
    Workload = case Workload0 of
                   {sort, N} -> {sort, rand_list(N)};
                   _ -> Workload0
               end,
    _ = application:ensure_all_started(beamflame),
    {module, _} = code:ensure_loaded(lists),
    _ = work(Workload),                          % warm: code loaded, caches filled
    garbage_collect(),
    ok = file:write_file("/proc/self/clear_refs", "5"),  % reset the peak RSS
    Before = kb("VmRSS"),
    _ = variant(Variant, Workload),              % first run: its peak memory
    Peak = kb("VmHWM"),
    garbage_collect(),
    {Us, Extra} = timer:tc(fun() -> variant(Variant, Workload) end),  % second run: its time
    maps:merge(#{ms => Us / 1000, peak_mb => max(0, Peak - Before) / 1024}, Extra).

kb(Key) ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Status, <<"\n">>, [global]),
                   binary:match(L, list_to_binary(Key ++ ":")) =/= nomatch],
    {match, [N]} = re:run(Line, "([0-9]+)", [{capture, all_but_first, list}]),
    list_to_integer(N).

variant(untraced, W) ->
    _ = work(W),
    #{};
variant(floor, W) ->
    {ok, S} = beamflame_nif:trace_session(#{null => true}),
    ok = beamflame_nif:trace_control(S, activate),
    with_trace({tracer, beamflame_nif, S}, fun() -> work(W) end),
    #{};
variant(baseline, W) ->
    Tracer = spawn(fun() -> baseline_init() end),
    with_trace({tracer, Tracer}, fun() -> work(W) end, [monotonic_timestamp]),
    Ref = erlang:trace_delivered(self()),
    receive {trace_delivered, _, Ref} -> ok end,
    Tracer ! {done, self()},
    receive {Tracer, Stacks, Bytes} -> #{stacks => Stacks, bytes => Bytes} end;
variant(beamflame, W) ->
    {ok, _, P} = beamflame:trace(fun() -> work(W) end, #{}),
    Folded = beamflame:folded(P),
    #{stacks => maps:get(stacks, beamflame:info(P)), bytes => byte_size(Folded)}.

with_trace(Tracer, F) ->
    with_trace(Tracer, F, []).

with_trace(Tracer, F, Extra) ->
    _ = erlang:trace_pattern({'_', '_', '_'}, ?MS, [local]),
    _ = erlang:trace(self(), true, ?FLAGS ++ Extra ++ [Tracer]),
    _ = F(),
    _ = erlang:trace(self(), false, [all]),
    _ = erlang:trace_pattern({'_', '_', '_'}, false, [local]),
    ok.

%%% The baseline: a tracer process building the same stacks (same rules as bf_trace) -----

baseline_init() ->
    baseline(#{stack => [], last => undefined, root_caller => none, acc => #{}}).

baseline(St) ->
    receive
        {trace_ts, _Pid, call, MFA, Caller, Ts} ->
            baseline(push(MFA, Caller, credit(Ts, St)));
        {trace_ts, _Pid, return_to, MFA, Ts} ->
            baseline(return_to(MFA, credit(Ts, St)));
        {trace_ts, _, _, _, _} ->
            baseline(St);
        {trace_ts, _, _, _, _, _} ->
            baseline(St);
        {done, From} ->
            Acc = maps:get(acc, St),
            Folded = [[lists:join($;, [fmt(F) || F <- lists:reverse(S)]), $\s,
                       integer_to_list(W div 1000), $\n] || {S, W} <- maps:to_list(Acc)],
            From ! {self(), map_size(Acc), iolist_size(Folded)}
    end.

credit(Ts, St = #{last := undefined}) ->
    St#{last := Ts};
credit(Ts, St = #{stack := Stack, last := Last, acc := Acc}) ->
    Key = [F || {F, _} <- Stack],
    St#{last := Ts, acc := maps:update_with(Key, fun(W) -> W + Ts - Last end, Ts - Last, Acc)}.

%% Direct self-recursion is folded, as eflambe does and beamflame does by default: the
%% stack holds {MFA, Repetitions}, and a stack's key lists each MFA once.
push(MFA, Caller, St = #{stack := Stack, root_caller := RC}) ->
    RC1 = case RC of none -> Caller; _ -> RC end,
    Popped = case pop_to(Caller, Stack) of
                 {ok, S} -> S;
                 error when Caller =:= RC1 -> [];
                 error -> Stack
             end,
    Pushed = case Popped of
                 [{MFA, N} | Below] -> [{MFA, N + 1} | Below];
                 _ -> [{MFA, 1} | Popped]
             end,
    St#{stack := Pushed, root_caller := RC1}.

return_to(MFA, St = #{stack := [{MFA, N} | Below]}) when N > 1 ->
    St#{stack := [{MFA, N - 1} | Below]};
return_to(MFA, St = #{stack := [_ | Below]}) ->
    case pop_to(MFA, Below) of
        {ok, S} -> St#{stack := S};
        error -> St#{stack := [{MFA, 1}]}
    end;
return_to(MFA, St) ->
    St#{stack := [{MFA, 1}]}.

pop_to(_, []) -> error;
pop_to(F, [{F, _} | _] = S) -> {ok, S};
pop_to(F, [_ | Rest]) -> pop_to(F, Rest).

fmt({M, F, A}) -> io_lib:format("~s:~s/~b", [M, F, A]);
fmt(Other) -> io_lib:format("~p", [Other]).
