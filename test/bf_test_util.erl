%% Helpers shared by the Common Test suites.
-module(bf_test_util).
-include_lib("stdlib/include/assert.hrl").
-export([wait_until/1, wait_until/3]).

%% Polls F every 50 ms, for up to 5 s, until it returns true; fails the test otherwise.
wait_until(F) ->
    wait_until(F, 100).

wait_until(F, 0) ->
    ?assert(F());
wait_until(F, N) ->
    case F() of
        true -> ok;
        false -> timer:sleep(50), wait_until(F, N - 1)
    end.

%% The same, for up to N polls; on failure the test fails with Why() (what was left).
wait_until(F, 0, Why) ->
    case F() of
        true -> ok;
        false -> error({condition_not_met, Why()})
    end;
wait_until(F, N, Why) ->
    case F() of
        true -> ok;
        false -> timer:sleep(50), wait_until(F, N - 1, Why)
    end.
