%% Call-heavy code with known shapes, traced by beamflame_trace_SUITE on peer nodes.
-module(bf_tracework).
-export([tree/1, leaf/0, loop/1, boom/0, parent/0, child_work/0, target/1, helper/1,
         caller/2, dirty_loop/1, sleeper/1, idle_loop/0, tick_loop/1, tick/1, outer/1, serve/1, fib/1, sort/1, ordered/0,
         zeta/0, alpha/0]).

%% A binary tree of body calls: tree(N) calls tree(N-1) twice; tree(0) calls leaf().
tree(0) -> leaf() + 1;
tree(N) -> tree(N - 1) + tree(N - 1).

leaf() -> 1.

%% Tail recursion: N calls, one frame.
loop(0) -> done;
loop(N) -> loop(N - 1).

boom() -> leaf(), erlang:error(boom_inside).

%% Spawns a child that does child_work/0, waits for it.
parent() ->
    Self = self(),
    P = spawn(fun() -> child_work(), Self ! {done, self()} end),
    receive {done, P} -> ok end,
    leaf().

child_work() -> tree(3).

%% The function capture/3 waits for, and what it calls.
target(N) -> helper(N) + 1.
helper(N) -> tree(N).

%% A process calling target/1 every Ms ms, N times.
caller(0, _Ms) -> ok;
caller(N, Ms) -> timer:sleep(Ms), target(2), caller(N - 1, Ms).

%% Dirty CPU work (ERTS's own test BIF), then a normal call, forever.
dirty_loop(Ms) -> erts_debug:dirty_cpu(wait, Ms), leaf(), dirty_loop(Ms).

sleeper(Ms) -> timer:sleep(Ms), leaf().

idle_loop() -> receive stop -> ok after 1 -> leaf(), idle_loop() end.

%% Calls tick/1 every Ms milliseconds (dbg's pattern goes on tick/1).
tick_loop(Ms) -> receive stop -> ok after Ms -> _ = tick(Ms), tick_loop(Ms) end.
tick(X) -> X + 1.

fib(0) -> 0;
fib(1) -> 1;
fib(N) -> fib(N - 1) + fib(N - 2).

sort(N) -> lists:sort([rand:uniform(1 bsl 30) || _ <- lists:seq(1, N)]).

%% zeta/0 runs first, alpha/0 second: a flame chart keeps that order, a flame graph sorts.
ordered() -> zeta() + alpha().
zeta() -> tree(4).
alpha() -> tree(4).

%% A body recursion N deep (the list is built on the way back), between two other calls.
outer(N) -> _ = before(), L = deep(N), _ = later(), length(L).
before() -> ok.
later() -> ok.
deep(0) -> [];
deep(N) -> [N | deep(N - 1)].

%% A gen_server-like loop N rounds: loop_s tail-calls handle_s, which tail-calls work_s,
%% which body-calls leaf/0 and tail-calls loop_s.
serve(N) -> loop_s(N).
loop_s(0) -> done;
loop_s(N) -> handle_s(N).
handle_s(N) -> work_s(N).
work_s(N) -> _ = leaf(), loop_s(N - 1).
