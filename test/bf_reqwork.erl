%% Request/response workloads for the sampling tests: a server doing a fixed amount of CPU
%% work per request (work/1, a loop calling a BIF), called in a loop by two clients that
%% do nothing else. Runs on the peer.
-module(bf_reqwork).
-behaviour(gen_server).
-export([start_gen/1, start_raw/1, stop/1]).
-export([init/1, handle_call/3, handle_cast/2]).

%% A gen_server (its receive point is gen_server's, shared with every idle gen_server).
start_gen(Us) ->
    {ok, S} = gen_server:start(?MODULE, iterations(Us), []),
    [S | [spawn(fun() -> gen_client(S) end) || _ <- [1, 2]]].

%% A plain receive loop: never idle under its two clients, so its receive point is never
%% seen with the server waiting.
start_raw(Us) ->
    N = iterations(Us),
    S = spawn(fun() -> raw_loop(N) end),
    [S | [spawn(fun() -> raw_client(S) end) || _ <- [1, 2]]].

stop(Pids) ->
    [exit(P, kill) || P <- Pids],
    ok.

%% Iterations of work/1 taking Us microseconds here.
iterations(Us) ->
    _ = work(100000),
    {T, _} = timer:tc(fun() -> work(1000000) end),
    max(1, Us * 1000000 div max(1, T)).

gen_client(S) ->
    _ = gen_server:call(S, request, infinity),
    gen_client(S).

init(N) -> {ok, N}.
handle_call(request, _From, N) -> {reply, work(N), N}.
handle_cast(_, N) -> {noreply, N}.

raw_loop(N) ->
    receive {request, From, Ref} -> From ! {Ref, work(N)} end,
    raw_loop(N).

raw_client(S) ->
    Ref = make_ref(),
    S ! {request, self(), Ref},
    receive {Ref, _} -> ok end,
    raw_client(S).

work(0) -> ok;
work(N) -> _ = erlang:phash2(N), work(N - 1).
