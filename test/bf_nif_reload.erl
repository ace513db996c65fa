%% The NIF library reloaded and purged while its resources live, run by `make sanitize'
%% on an AddressSanitizer build of the library (c_src/Makefile, nif-sanitize): every load
%% path (load, upgrade over old code, purge of the old) with profiles and trace sessions
%% made before, used after, and freed by the newest code. Any use after free, double free
%% or overflow is an ASan report and a non-zero exit; a wrong answer is an exit 1.
-module(bf_nif_reload).
-export([main/1]).

main([Lib]) ->
    Result = try run(Lib) of
                 ok -> 0
             catch
                 C:R:St -> io:format("bf_nif_reload: ~p:~p~n~p~n", [C, R, St]), 1
             end,
    io:format("bf_nif_reload: ~s~n", [case Result of 0 -> "ok"; _ -> "FAILED" end]),
    erlang:halt(Result).

run(Lib) ->
    persistent_term:put({beamflame_nif, path}, Lib),
    {module, beamflame_nif} = code:ensure_loaded(beamflame_nif),
    Old = [profile(N) || N <- lists:seq(1, 20)],
    {ok, Session} = beamflame_nif:trace_session(#{max_events => 1000, deadline_ms => 60000,
                                                   max_procs => 10, captures => 0,
                                                   names => beamflame, weight => time,
                                                   recursion => fold, tail_calls => drop,
                                                   caps => #{}}),
    %% upgrade: new code over the current (the NIF's upgrade callback takes the resource
    %% types over), three times, purging the old code in between
    lists:foreach(fun(Round) ->
                          true = code:soft_purge(beamflame_nif) orelse code:purge(beamflame_nif),
                          {module, beamflame_nif} = code:load_file(beamflame_nif),
                          %% the profiles of the first load, read and grown by this one
                          [check(P, N) || {N, P} <- lists:zip(lists:seq(1, 20), Old)],
                          [_] = beamflame_nif:add_samples(hd(Old), [{undefined, [{m, f, Round, []}], 1}]),
                          _ = beamflame_nif:trace_status(Session),
                          New = profile(Round),
                          <<"<?xml", _/binary>> = svg(New),
                          erlang:garbage_collect()
                  end, lists:seq(1, 3)),
    _ = code:purge(beamflame_nif),
    %% a whole trace through the newest code, then everything freed by it
    {ok, 3, _} = beamflame:trace(fun() -> length([a, b, c]) end, #{}),
    _ = beamflame_nif:trace_control(Session, stop),
    erlang:garbage_collect(),
    ok.

profile(N) ->
    {ok, P} = beamflame_nif:new(#{}),
    Ids = beamflame_nif:add_samples(P, [{undefined, [{m, F, N, []}, {m, main, 0, []}], N}
                                        || F <- [a, b, c]]),
    3 = length(Ids),
    P.

check(P, N) ->
    #{stacks := S} = beamflame:info(P),
    true = S >= 3,
    {match, _} = re:run(beamflame:folded(P), "m:a/" ++ integer_to_list(N)),
    ok.

svg(P) ->
    beamflame:svg(P, #{}).
