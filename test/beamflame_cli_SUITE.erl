%% The `beamflame' command line (priv/beamflame), run as a real program: rendering from a
%% file and from standard input, malformed input reported with line numbers, and the
%% documented exit codes.
-module(beamflame_cli_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-export([all/0, init_per_suite/1, end_per_suite/1]).
-export([svg_from_file/1, svg_from_stdin/1, malformed_lines_are_reported/1,
         exit_codes/1, output_is_never_half_written/1, help_and_version/1]).

all() ->
    [svg_from_file, svg_from_stdin, malformed_lines_are_reported, exit_codes,
     output_is_never_half_written, help_and_version].

init_per_suite(Config) ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    true = filelib:is_regular(Exe),
    [{exe, Exe} | Config].

end_per_suite(_Config) ->
    ok.

%% Runs the program with Args and Stdin; returns {ExitCode, Stdout, Stderr}.
run(Config, Args, Stdin) ->
    Priv = ?config(priv_dir, Config),
    In = filename:join(Priv, "stdin"),
    Err = filename:join(Priv, "stderr"),
    ok = file:write_file(In, Stdin),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", "exec \"$0\" \"$@\" < \"$BF_IN\" 2> \"$BF_ERR\"",
                              ?config(exe, Config) | Args]},
                      {env, [{"BF_IN", In}, {"BF_ERR", Err}]},
                      binary, exit_status, use_stdio]),
    {Code, Out} = collect(Port, []),
    {ok, Stderr} = file:read_file(Err),
    {Code, Out, Stderr}.

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, [D | Acc]);
        {Port, {exit_status, S}} -> {S, iolist_to_binary(lists:reverse(Acc))}
    after 30000 -> error(timeout)
    end.

svg_from_file(Config) ->
    Priv = ?config(priv_dir, Config),
    In = filename:join(Priv, "in.folded"),
    Out = filename:join(Priv, "out.svg"),
    ok = file:write_file(In, <<"main;work 3\nmain;idle 1\n">>),
    {0, <<>>, Err} = run(Config, ["svg", In, "-o", Out, "--title", "T<1>", "--width", "600"], <<>>),
    ?assertMatch({_, _}, binary:match(Err, <<"wrote ", (list_to_binary(Out))/binary>>)),
    {ok, Svg} = file:read_file(Out),
    ?assertMatch({_, _}, binary:match(Svg, <<"<title>work (3 samples, 75.00%)</title>">>)),
    ?assertMatch({_, _}, binary:match(Svg, <<"T&lt;1&gt;">>)),
    ?assertMatch({_, _}, binary:match(Svg, <<"width=\"600\"">>)).

svg_from_stdin(Config) ->
    {0, Svg, _} = run(Config, ["svg", "-", "--minwidth", "0"], <<"a;b 1\r\na;c 1\r\n">>),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assertMatch({_, _}, binary:match(Svg, <<"<title>c (1 samples, 50.00%)</title>">>)),
    {0, Svg, _} = run(Config, ["svg", "--minwidth", "0"], <<"a;b 1\r\na;c 1\r\n">>).

malformed_lines_are_reported(Config) ->
    {0, _, Err} = run(Config, ["svg"], <<"ok 1\nbroken\nx 1.5\ny z\n">>),
    ?assertMatch({_, _}, binary:match(Err, <<"<stdin>:2: skipped: no count at the end">>)),
    ?assertMatch({_, _}, binary:match(Err, <<"<stdin>:4: skipped: count is not a number">>)),
    ?assertMatch({_, _}, binary:match(Err, <<"<stdin>:3: skipped: count is not a whole number">>)).

exit_codes(Config) ->
    ?assertMatch({2, _, <<"beamflame: unknown command: frobnicate", _/binary>>},
                 run(Config, ["frobnicate"], <<>>)),
    ?assertMatch({2, _, <<"beamflame: --width needs", _/binary>>},
                 run(Config, ["svg", "--width", "x"], <<>>)),
    {3, <<>>, NoStacks} = run(Config, ["svg"], <<"garbage\n">>),
    ?assertMatch({_, _}, binary:match(NoStacks, <<"beamflame: <stdin>: no valid stack found">>)),
    ?assertMatch({3, <<>>, _}, run(Config, ["svg"], <<>>)),
    ?assertMatch({4, <<>>, <<"beamflame: cannot open /no/such/file", _/binary>>},
                 run(Config, ["svg", "/no/such/file"], <<>>)),
    ?assertMatch({4, <<>>, <<"beamflame: cannot write /no/such/dir/x.svg", _/binary>>},
                 run(Config, ["svg", "-o", "/no/such/dir/x.svg"], <<"a 1\n">>)).

output_is_never_half_written(Config) ->
    Priv = ?config(priv_dir, Config),
    Out = filename:join(Priv, "keep.svg"),
    ok = file:write_file(Out, <<"previous">>),
    {3, _, _} = run(Config, ["svg", "-o", Out], <<"not folded\n">>),
    ?assertEqual({ok, <<"previous">>}, file:read_file(Out)),
    ?assertEqual([], [F || F <- element(2, file:list_dir(Priv)), string:find(F, ".tmp.") =/= nomatch]).

help_and_version(Config) ->
    {0, Help, _} = run(Config, ["help"], <<>>),
    ?assertMatch({_, _}, binary:match(Help, <<"exit codes">>)),
    {0, <<"beamflame ", _/binary>>, _} = run(Config, ["--version"], <<>>).
