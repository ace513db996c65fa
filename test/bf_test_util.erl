%% Helpers shared by the Common Test suites.
-module(bf_test_util).
-include_lib("stdlib/include/assert.hrl").
-export([wait_until/1]).

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
