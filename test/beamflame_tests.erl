%% EUnit: frame naming, outputs (folded, SVG, files), folded input, option validation.
%% These run in the test node itself; sampling runs on peers in beamflame_sample_SUITE.
-module(beamflame_tests).
-include_lib("eunit/include/eunit.hrl").

profile(Samples) ->
    {ok, P} = beamflame_nif:new(#{}),
    _ = beamflame_nif:add_samples(P, Samples),
    P.

frame_names_read_like_the_code_test() ->
    P = profile([{undefined,
                  [{'Elixir.MyApp.Worker', handle_call, 3, [{file, "lib/worker.ex"}, {line, 9}]},
                   {my_mod, '-loop/1-fun-0-', 0, []},
                   {'Elixir.Enum', '-map/2-lists^map/1-0-', 1, []},
                   {my_mod, loop, [a, b], []},
                   {my_mod, init, 1}],
                  2}]),
    ?assertEqual(<<"my_mod:init/1;my_mod:loop/2;Enum.map/2-lists^map/1-0;"
                   "my_mod:loop/1-fun-0;MyApp.Worker.handle_call/3 2\n">>,
                 beamflame:folded(P)).

roots_are_registered_names_or_initial_calls_test() ->
    P = profile([{my_server, [{gen_server, loop, 7, []}], 1},
                 {{my_mod, start, 0}, [{my_mod, run, 0, []}], 1},
                 {<<"text root">>, [{m, f, 0, []}], 1}]),
    ?assertEqual(<<"my_mod:start/0;my_mod:run/0 1\nmy_server;gen_server:loop/7 1\n"
                   "text root;m:f/0 1\n">>, beamflame:folded(P)).

unicode_and_hostile_atoms_test() ->
    Hostile = list_to_atom("<script>alert(1)</script>"),
    Check = list_to_atom([16#2713]),          % ✓: not Latin-1
    Cafe = list_to_atom("caf" ++ [16#e9]),    % é: Latin-1, must become UTF-8
    P = profile([{undefined, [{Hostile, Check, 0, []}, {Cafe, 'a;b', 1, []}], 5}]),
    Folded = beamflame:folded(P),
    ?assertEqual(<<"caf", 16#c3, 16#a9, ":a\\;b/1;<script>alert(1)</script>:",
                   16#e2, 16#9c, 16#93, "/0 5\n">>, Folded),
    Svg = beamflame:svg(P, #{min_width => 0}),
    ?assertEqual(1, length(binary:matches(Svg, <<"<script">>))),  % ours only
    ?assertMatch({_, _}, binary:match(Svg, <<"&lt;script&gt;alert(1)&lt;/script&gt;:",
                                             16#e2, 16#9c, 16#93, "/0 (5 samples, 100.00%)">>)),
    %% Round trip through folded text keeps every name.
    {ok, P2, #{malformed := 0}} = beamflame:read_folded(Folded),
    ?assertEqual(Folded, beamflame:folded(P2)).

add_samples_rejects_bad_terms_and_big_batches_test() ->
    {ok, P} = beamflame_nif:new(#{}),
    ?assertError(badarg, beamflame_nif:add_samples(P, [{undefined, [42], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(P, [{undefined, [{two, tuple}], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(P, [{undefined, [{"m", f, 0, []}], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(P, [{undefined, [], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(P, [{undefined, [{m, f, x, []}], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(make_ref(), [])),
    TooMany = [{undefined, [{m, f, 0, []}], 1} || _ <- lists:seq(1, 65)],
    ?assertError(badarg, beamflame_nif:add_samples(P, TooMany)),
    ?assertError(badarg, beamflame_nif:new(#{max_depth => 0})),
    ?assertError(badarg, beamflame_nif:add_weights(P, [{99, 1}])),
    ?assertMatch(#{stacks := 0, weight := 0}, beamflame:info(P)),
    %% a bad sample or weight anywhere in a batch: nothing of the batch is added
    Good = {undefined, [{m, f, 0, []}], 5},
    ?assertError(badarg, beamflame_nif:add_samples(P, [Good, Good, {undefined, [42], 1}])),
    ?assertError(badarg, beamflame_nif:add_samples(P, [Good, {root, [], nope}])),
    ?assertMatch(#{stacks := 0, weight := 0, samples := 0}, beamflame:info(P)),
    [Id] = beamflame_nif:add_samples(P, [Good]),
    ?assertError(badarg, beamflame_nif:add_weights(P, [{Id, 7}, {Id + 1, 1}])),
    ?assertError(badarg, beamflame_nif:add_weights(P, [{Id, 7}, bad])),
    ?assertMatch(#{stacks := 1, weight := 5}, beamflame:info(P)),
    ok = beamflame_nif:add_weights(P, [{Id, 7}]),
    ?assertMatch(#{weight := 12}, beamflame:info(P)).

caps_drop_and_count_test() ->
    {ok, P} = beamflame_nif:new(#{max_stacks => 2}),
    Out = beamflame_nif:add_samples(P, [{undefined, [{m, F, 0, []}], 3} || F <- [a, b, c]]),
    ?assertMatch([_, _, dropped], Out),
    ?assertMatch(#{stacks := 2, dropped_samples := 1, dropped_weight := 3,
                   dropped_by_stacks := 1}, beamflame:info(P)).

svg_of_folded_text_and_options_test() ->
    Svg = beamflame:svg(<<"main;work 3\nmain;idle 1\n">>, #{title => "My <title>", width => 800}),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Svg, <<"width=\"800\"">>)),
    ?assertMatch({_, _}, binary:match(Svg, <<"My &lt;title&gt;">>)),
    ?assertMatch({_, _}, binary:match(Svg, <<"<title>work (3 samples, 75.00%)</title>">>)),
    ?assertEqual({error, empty}, beamflame:svg(<<"garbage\n">>)),
    ?assertMatch({error, {bad_option, bogus, 1, _}}, beamflame:svg(<<"a 1\n">>, #{bogus => 1})),
    ?assertMatch({error, {bad_option, width, 5, _}}, beamflame:svg(<<"a 1\n">>, #{width => 5})),
    ?assertMatch({error, {bad_argument, _, _}}, beamflame:svg(42)).

read_folded_reports_malformed_lines_test() ->
    {ok, P, Report} = beamflame:read_folded(<<"a;b 1\nno count\nx 2.5\r\n\nc 4\n">>),
    ?assertMatch(#{lines := 5, malformed := 2,
                   errors := [{2, <<"count is not a number">>},
                              {3, <<"count is not a whole number">>}]}, Report),
    ?assertEqual(<<"a;b 1\nc 4\n">>, beamflame:folded(P)).

write_chooses_format_by_extension_test() ->
    Dir = filename:join(["/tmp", "beamflame_eunit_" ++ os:getpid()]),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    P = profile([{undefined, [{m, f, 0, []}], 2}]),
    ok = beamflame:write(P, filename:join(Dir, "p.svg")),
    ok = beamflame:write(P, filename:join(Dir, "p.folded")),
    ?assertMatch({ok, <<"<?xml", _/binary>>}, file:read_file(filename:join(Dir, "p.svg"))),
    ?assertEqual({ok, <<"m:f/0 2\n">>}, file:read_file(filename:join(Dir, "p.folded"))),
    ok = beamflame:write(P, filename:join(Dir, "p.html")),
    ok = beamflame:write(P, filename:join(Dir, "p.json")),
    ?assertMatch({ok, <<"<!DOCTYPE html>", _/binary>>}, file:read_file(filename:join(Dir, "p.html"))),
    ?assertMatch({ok, <<"{\"$schema\":\"https://www.speedscope.app/", _/binary>>},
                 file:read_file(filename:join(Dir, "p.json"))),
    ?assertMatch({error, {unknown_extension, ".png", _}},
                 beamflame:write(P, filename:join(Dir, "p.png"))),
    ?assertMatch({error, {enoent, _}}, beamflame:write(P, "/nonexistent/dir/p.svg")),
    {ok, P0} = beamflame_nif:new(#{}),
    ?assertEqual({error, empty}, beamflame:write(P0, filename:join(Dir, "empty.svg"))),
    ?assertNot(filelib:is_file(filename:join(Dir, "empty.svg"))),
    ?assertEqual([], [F || F <- element(2, file:list_dir(Dir)), string:find(F, ".tmp.") =/= nomatch]),
    os:cmd("rm -rf " ++ Dir).

large_profiles_render_on_dirty_schedulers_test() ->
    {ok, P} = beamflame_nif:new(#{}),
    [beamflame_nif:add_samples(P, [{undefined, [{m, list_to_atom("f" ++ integer_to_list(I * 64 + J)), 0, []}], 1}
                                   || J <- lists:seq(0, 63)]) || I <- lists:seq(0, 39)],
    ?assertMatch(#{stacks := 2560}, beamflame:info(P)),
    ?assertMatch(<<"<?xml", _/binary>>, beamflame:svg(P)),
    ?assertEqual(2560, length(binary:split(beamflame:folded(P), <<"\n">>, [global, trim]))).

renderer_options_test() ->
    F = <<"main;work 3\nmain;idle 1\n">>,
    Beam = beamflame:svg(F, #{palette => beam, inverted => true, min_width => {percent, 1},
                              frame_height => 20, font_size => 10}),
    ?assertMatch({_, _}, binary:match(Beam, <<"id=\"bf-legend\"">>)),
    ?assertMatch({_, _}, binary:match(Beam, <<"data-inverted=\"1\"">>)),
    Static = beamflame:svg(F, #{interactive => false}),
    ?assertEqual(nomatch, binary:match(Static, <<"<script">>)),
    ?assertMatch({_, _}, binary:match(beamflame:svg(<<"a;b 1\nc;b 1\n">>, #{reverse => true}),
                                      <<"<title>b (2 samples, 100.00%)</title>">>)),
    ?assertMatch({error, {bad_option, palette, pink, _}}, beamflame:svg(F, #{palette => pink})),
    ?assertMatch({error, {bad_option, min_width, {percent, 200}, _}},
                 beamflame:svg(F, #{min_width => {percent, 200}})),
    Json = beamflame:speedscope(F, #{title => <<"t\"q">>}),
    ?assertMatch({_, _}, binary:match(Json, <<"\"name\":\"t\\\"q\"">>)),
    ?assertMatch(<<"<!DOCTYPE html>", _/binary>>, beamflame:html(F)).

diff_test() ->
    Before = <<"main;a 50\nmain;b 50\n">>,
    After = <<"main;a 80\nmain;b 20\nmain;c 10\n">>,
    Svg = beamflame:diff(Before, After, #{min_width => 0}),
    ?assertMatch({_, _}, binary:match(Svg, <<"<title>a (80 samples, 72.73%; +27.27%)</title>">>)),
    ?assertMatch({_, _}, binary:match(Svg, <<"<title>b (20 samples, 18.18%; -27.27%)</title>">>)),
    Norm = beamflame:diff(Before, After, #{min_width => 0, normalize => true}),
    ?assertMatch({_, _}, binary:match(Norm, <<"<title>main (110 samples, 100.00%; +0.00%)</title>">>)),
    ?assertMatch(<<"<!DOCTYPE html>", _/binary>>, beamflame:diff(Before, After, #{format => html})),
    ?assertMatch({error, {bad_option, format, speedscope, _}},
                 beamflame:diff(Before, After, #{format => speedscope})),
    ?assertEqual({error, empty}, beamflame:diff(Before, <<"x 0\n">>, #{})).

options_are_validated_test_() ->
    [?_assertMatch({error, {bad_option, bogus, 1, _}}, beamflame:sample(#{bogus => 1})),
     ?_assertMatch({error, {bad_option, rate, 0, _}}, beamflame:sample(#{rate => 0})),
     ?_assertMatch({error, {bad_option, max_depth, 65, <<"an integer, 2..64">>}},
                   beamflame:sample(#{max_depth => 65})),
     ?_assertMatch({error, {bad_option, options, [], _}}, beamflame:sample([])),
     ?_assertMatch({ok, #{duration := 5000, rate := 99, states := cpu, group := none,
                          processes := all, max_depth := 64}},
                   beamflame_sampler:validate(#{}))].

%% More processes wanting a stack than a tick reads (128): over 30 ticks each of 300 gets
%% its turn 12 or 13 times (taking the first 128 each tick gave the rest none).
stack_reads_take_turns_test() ->
    Items = lists:seq(1, 300),
    Taken = lists:append([beamflame_sampler:turn(Items, 128, T) || T <- lists:seq(1, 30)]),
    Counts = [length([X || X <- Taken, X =:= I]) || I <- Items],
    ?assertEqual(30 * 128, length(Taken)),
    ?assert(lists:min(Counts) >= 12),
    ?assert(lists:max(Counts) =< 13),
    ?assertEqual([1, 2, 3], beamflame_sampler:turn([1, 2, 3], 128, 7)).
