%% EUnit: receive points read from BEAM code match where real waiting processes are
%% (their stack trace's top frame), on whichever release runs the tests.
-module(beamflame_receives_tests).
-include_lib("eunit/include/eunit.hrl").

%% The location a waiting process shows, as beamflame_sampler keys it.
waiting_at(P) ->
    wait_until_waiting(P, 100),
    {current_stacktrace, [{M, F, A, Loc} | _]} = erlang:process_info(P, current_stacktrace),
    {M, F, A, proplists:get_value(line, Loc)}.

wait_until_waiting(P, 0) -> error({not_waiting, P});
wait_until_waiting(P, N) ->
    case erlang:process_info(P, status) of
        {status, waiting} -> ok;
        _ -> timer:sleep(10), wait_until_waiting(P, N - 1)
    end.

in_points({M, F, A, L}) ->
    lists:member({F, A, L}, beamflame_receives:points(M)).

gen_server_loop_test() ->
    {ok, S} = gen_server:start(bf_reqwork, 1, []),
    Where = waiting_at(S),
    ?assertMatch({gen_server, _, _, _}, Where),
    ?assert(in_points(Where)),
    gen_server:stop(S).

plain_receive_loop_and_its_caller_test() ->
    %% a raw server waiting for a request, and a client waiting for a reply
    Pids = [Server | _] = bf_reqwork:start_raw(1000000),
    [begin
         Where = waiting_at(P),
         ?assertMatch({bf_reqwork, _, _, _}, Where),
         ?assert(in_points(Where), Where)
     end || P <- Pids, P =/= Server],
    bf_reqwork:stop(Pids).

receive_with_timeout_test() ->
    P = spawn(fun() -> timer:sleep(60000) end),
    Where = waiting_at(P),
    ?assert(in_points(Where), Where),
    exit(P, kill).

%% The points are receive points only: none of work/1's lines (a loop calling a BIF).
no_points_outside_receives_test() ->
    ?assertEqual([], [X || {work, _, _} = X <- beamflame_receives:points(bf_reqwork)]).

%% A module without object code on disk, or anything unreadable, has no points (never a
%% crash); its binary still has them.
no_file_and_garbage_test() ->
    Forms = [{attribute, 1, module, bf_no_file},
             {attribute, 2, export, [{w, 0}]},
             {function, 3, w, 0, [{clause, 3, [], [], [{'receive', 4, [{clause, 5, [{var, 5, '_'}], [], [{atom, 5, ok}]}]}]}]}],
    {ok, bf_no_file, Bin} = compile:forms(Forms, []),
    {module, bf_no_file} = code:load_binary(bf_no_file, "nowhere/bf_no_file.beam", Bin),
    ?assertEqual([], beamflame_receives:points(bf_no_file)),
    ?assertMatch([{w, 0, _}], beamflame_receives:points_of_binary(Bin)),
    ?assertEqual([], beamflame_receives:points(not_a_loaded_module_at_all)),
    ?assertEqual([], beamflame_receives:points_of_binary(<<"FOR1 garbage">>)),
    ?assertEqual([], beamflame_receives:points_of_binary(binary:part(Bin, 0, byte_size(Bin) div 2))),
    code:purge(bf_no_file), code:delete(bf_no_file).
