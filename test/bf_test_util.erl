%% Helpers shared by the Common Test suites.
-module(bf_test_util).
-include_lib("stdlib/include/assert.hrl").
-export([wait_until/1, wait_until/3, distributed/0]).

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

%% Makes this node distributed (short names; epmd started if needed), for suites that
%% start distributed peers.
distributed() ->
    _ = os:cmd("epmd -daemon"),
    case node() of
        nonode@nohost ->
            {ok, _} = net_kernel:start([list_to_atom("bf_ct_" ++ os:getpid()), shortnames]),
            ok;
        _ ->
            ok
    end.
