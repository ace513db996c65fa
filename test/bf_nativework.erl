%% Workloads for native mode's tests: a pure-Erlang chain a -> b -> c (body calls, so
%% every frame stays on the stack; c recurses 120 frames deep, under the sampler's 256),
%% and a loop in a C BIF.
-module(bf_nativework).
-export([start_chain/0, a/0, b/0, c/1, start_bif/0, crc_loop/1, counter/0, start_lc/0, crunch/1]).

start_chain() -> spawn(fun loop_a/0).
loop_a() -> _ = a(), loop_a().
a() -> b() + 1.
b() -> c(60) + 1.
c(0) -> 0;
c(N) -> (N band 1) + c2(N - 1).
c2(N) -> c(N) + 0.

start_bif() ->
    B = binary:copy(<<"beamflame">>, 50000),
    spawn(fun() -> crc_loop(B) end).
crc_loop(B) -> _ = erlang:crc32(B), crc_loop(B).

%% A process that counts: the node still runs normally when its count grows.
counter() ->
    Self = self(),
    spawn(fun() -> count(Self, 0) end).
count(Parent, N) ->
    receive {get, From} -> From ! {count, N}, count(Parent, N) after 1 -> count(Parent, N + 1) end.

%% A list comprehension and a fun in a loop: their compiler-generated names must read the
%% same in native, sample and trace mode.
start_lc() -> spawn(fun lc_loop/0).
lc_loop() -> _ = crunch(3000), lc_loop().
crunch(N) -> [X * 2 || X <- lists:seq(1, N), X rem 3 =/= 0] ++ lists:map(fun(Y) -> Y + 1 end, [N]).
