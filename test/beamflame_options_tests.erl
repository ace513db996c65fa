%% The option tables (beamflame_options) against what is derived from them: the command
%% line's help (its own table, bf_mode_opts, printed by `beamflame help'), docs/options.md
%% and the validators' errors.
-module(beamflame_options_tests).
-include_lib("eunit/include/eunit.hrl").

%% `beamflame help' as {Flag, Text} entries: an option's line and its continuation lines.
help_entries() ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    Port = open_port({spawn_executable, Exe}, [{args, ["help"]}, binary, exit_status,
                                               stderr_to_stdout]),
    Text = collect(Port, []),
    Lines = string:split(Text, "\n", all),
    entries(Lines, []).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, [D | Acc]);
        {Port, {exit_status, 0}} -> unicode:characters_to_list(lists:reverse(Acc))
    after 10000 -> error(help_hangs)
    end.

entries([], Acc) ->
    lists:reverse(Acc);
entries(["    --" ++ _ = L | Rest], Acc) ->
    {More, Rest1} = lists:splitwith(fun(X) -> lists:prefix(lists:duplicate(22, $\s), X) end,
                                    Rest),
    [Flag | _] = string:lexemes(L, " "),
    Text = string:trim(lists:join(" ", [string:slice(L, 22) | [string:trim(M) || M <- More]])),
    entries(Rest1, [{Flag, lists:flatten(Text)} | Acc]);
entries([_ | Rest], Acc) ->
    entries(Rest, Acc).

%% The API's key of a command-line flag.
key("--process") -> processes;
key("--no-idle") -> idle;
key("--" ++ Flag) -> list_to_atom(lists:map(fun($-) -> $_; (C) -> C end, Flag)).

table("trace") -> beamflame_options:table(capture);
table(Mode) -> beamflame_options:table(list_to_atom(Mode)).

default(D) when is_binary(D) -> binary_to_list(D);
default(D) -> lists:flatten(io_lib:format("~p", [D])).

%% Every mode option of the command line is a row of the API's tables: same key, same
%% accepted values, same default, same help.
help_agrees_with_the_tables_test() ->
    Entries = help_entries(),
    Modal = [{F, M, Parts} || {F, T} <- Entries,
                              {match, [M | Parts]} <- [re:run(T, "^(sample|trace|native): (.*) "
                                                                 "\\(default: ([^)]*)\\): (.*)$",
                                                              [{capture, all_but_first, list},
                                                               unicode])]],
    ?assert(length(Modal) >= 10),
    lists:foreach(
      fun({Flag, Mode, [Accepts, Default, Help]}) ->
              Key = key(Flag),
              Row = lists:keyfind(Key, 1, table(Mode)),
              ?assertNotEqual({Flag, false}, {Flag, Row}),
              {Key, Type, D, H} = Row,
              ?assertEqual({Flag, H}, {Flag, Help}),
              ?assertEqual({Flag, default(D)}, {Flag, Default}),
              case Type of
                  {int, Lo, Hi} ->
                      ?assertEqual({Flag, lists:flatten(io_lib:format("~b..~b", [Lo, Hi]))},
                                   {Flag, Accepts});
                  {enum, L} ->
                      ?assertEqual({Flag, lists:flatten(lists:join(", ", [atom_to_list(A)
                                                                          || A <- L]))},
                                   {Flag, Accepts});
                  boolean ->
                      [K, V] = string:split(Accepts, " "),
                      ?assertEqual(atom_to_list(Key), K),
                      ?assert(V =:= "true" orelse V =:= "false");
                  {custom, _, _} ->
                      ok
              end
      end, Modal),
    %% the command line's own --duration states the API's defaults, in seconds
    {_, Duration} = lists:keyfind("--duration", 1, Entries),
    {duration, _, SampleMs, _} = lists:keyfind(duration, 1, beamflame_options:table(sample)),
    {timeout, _, WaitMs, _} = lists:keyfind(timeout, 1, beamflame_options:table(capture)),
    ?assertNotEqual(nomatch, string:find(Duration, io_lib:format("(default: ~b;",
                                                                 [SampleMs div 1000]))),
    ?assertNotEqual(nomatch, string:find(Duration, io_lib:format("default ~b)",
                                                                 [WaitMs div 1000]))).

%% docs/options.md is what beamflame_options:doc/0 writes (`make options-doc').
docs_hold_the_tables_test() ->
    {ok, Bin} = file:read_file(doc_file()),
    ?assertEqual(beamflame_options:doc(), Bin).

%% The source tree's docs/options.md (tests run from the tree or from _build/test).
doc_file() ->
    Ebin = filename:dirname(code:which(beamflame_options)),
    Candidates = ["docs/options.md",
                  filename:join([Ebin, "..", "..", "..", "..", "..", "docs", "options.md"])],
    hd([F || F <- Candidates, filelib:is_regular(F)] ++ ["docs/options.md"]).

%% One error shape for every mode, with the same text as the table's type.
one_error_shape_test_() ->
    [?_assertMatch({error, {bad_option, bogus, 1, <<"one of the options of sample: ", _/binary>>}},
                   beamflame:sample(#{bogus => 1})),
     ?_assertMatch({error, {bad_option, bogus, 1, <<"one of the options of native: ", _/binary>>}},
                   beamflame:native(#{bogus => 1})),
     ?_assertMatch({error, {bad_option, bogus, 1, <<"one of the options of trace: ", _/binary>>}},
                   beamflame:trace(fun() -> ok end, #{bogus => 1})),
     ?_assertEqual({error, {bad_option, font_size, 500, <<"a number, 1..200">>}},
                   beamflame:svg(<<"a 1\n">>, #{font_size => 500})),
     ?_assertEqual({error, {bad_option, font_size, 1001, <<"a number, 1..200">>}},
                   beamflame:svg(<<"a 1\n">>, #{font_size => 1001})),
     ?_assertEqual({error, {bad_option, top, 0, <<"an integer, 1..10000">>}},
                   beamflame_dump:validate(#{top => 0})),
     ?_assertMatch({error, {bad_option, options, x, _}}, beamflame:sample(x))].

%% The renderer's numeric bounds are the C side's: both ends render, past them the table
%% refuses before the NIF is asked.
render_bounds_are_the_c_sides_test() ->
    Folded = <<"a;b 1\n">>,
    [begin
         ?assertMatch(<<"<?xml", _/binary>>, beamflame:svg(Folded, #{K => Lo})),
         ?assertMatch(<<"<?xml", _/binary>>, beamflame:svg(Folded, #{K => Hi})),
         ?assertMatch({error, {bad_option, K, _, _}}, beamflame:svg(Folded, #{K => Hi + 1}))
     end || {K, {number, Lo, Hi}, _, _} <- beamflame_options:table(render)].

%% A term that is not a profile, where only a profile will do: one clear exception.
not_a_profile_test_() ->
    Ref = make_ref(),
    [?_assertError({not_a_profile, Ref}, beamflame:info(Ref)),
     ?_assertError({not_a_profile, x}, beamflame:folded(x)),
     ?_assertMatch({error, {bad_argument, 42, _}}, beamflame:svg(42))].

%% A bad mode option: the command line (before connecting) and the API say the same
%% sentence (the command line adds its flag).
same_error_text_test_() ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    Cases = [{"--max-depth", "65", max_depth, 65}, {"--states", "idle", states, idle},
             {"--max-stacks", "0", max_stacks, 0}],
    [fun() ->
             Out = os:cmd(Exe ++ " record nosuch@nohost " ++ Flag ++ " " ++ V ++
                          " 2>&1; echo rc=$?"),
             {error, Reason} = beamflame_sampler:validate(#{Key => Value}),
             {bad_argument, Api} = beamflame_remote:describe(Reason),
             %% "option max_depth: ..." from the API, "option max_depth (--max-depth): ..."
             [Head, Tail] = string:split(binary_to_list(Api), ":"),
             ?assertNotEqual(nomatch, string:find(Out, Head ++ " (" ++ Flag ++ "):" ++ Tail)),
             ?assertNotEqual(nomatch, string:find(Out, "rc=2"))
     end || {Flag, V, Key, Value} <- Cases].
