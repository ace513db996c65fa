%% `beamflame record': the command line (an ei C node) recording real nodes that never
%% loaded beamflame, with real cookies. Each way of ending (normal, Ctrl-C, kill -9 of the
%% program) must leave the target with no beamflame process, trace flag or trace pattern;
%% each way of failing to reach a node must give its message and exit code.
-module(beamflame_record_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
-export([all/0, init_per_suite/1, end_per_suite/1, init_per_testcase/2, end_per_testcase/2]).
-export([records_a_bare_node_as_a_hidden_node/1, second_record_finds_beamflame_loaded/1,
         kill_9_mid_run_leaves_nothing_behind/1, ctrl_c_ends_early_and_still_writes/1,
         progress_line_only_on_a_terminal/1, cookie_sources/1, wrong_cookie/1,
         absent_node/1, epmd_not_running/1, other_beamflame_version_is_refused/1,
         long_names/1, trace_mode_records_the_next_calls/1,
         kill_9_during_a_trace_leaves_no_pattern/1, native_mode_on_a_bare_node/1,
         compiles_on_the_node/1, no_compiler_is_refused/1,
         ctrl_c_mid_capture_keeps_the_data/1, mode_options_are_the_apis/1,
         mode_options_take_effect/1, output_is_checked_before_connecting/1,
         name_clash_is_reported_as_one/1, hint_is_printed_and_drawn/1,
         top_in_a_real_terminal/1, top_once_without_a_terminal/1,
         dump_shows_a_process_in_its_receive/1, dump_of_100k_processes_is_bounded/1,
         list_shows_the_nodes_of_a_host/1, cluster_with_a_node_down/1,
         a_run_logs_nothing_on_the_target/1, top_ctrl_c_restores_the_terminal/1,
         top_native_once/1]).

all() ->
    [records_a_bare_node_as_a_hidden_node, second_record_finds_beamflame_loaded,
     kill_9_mid_run_leaves_nothing_behind, ctrl_c_ends_early_and_still_writes,
     progress_line_only_on_a_terminal, cookie_sources, wrong_cookie, absent_node,
     epmd_not_running, other_beamflame_version_is_refused, long_names,
     trace_mode_records_the_next_calls, kill_9_during_a_trace_leaves_no_pattern,
     native_mode_on_a_bare_node, compiles_on_the_node, no_compiler_is_refused,
     ctrl_c_mid_capture_keeps_the_data, mode_options_are_the_apis, mode_options_take_effect,
     output_is_checked_before_connecting, name_clash_is_reported_as_one,
     hint_is_printed_and_drawn, top_in_a_real_terminal, top_once_without_a_terminal,
     dump_shows_a_process_in_its_receive, dump_of_100k_processes_is_bounded,
     list_shows_the_nodes_of_a_host, cluster_with_a_node_down,
     a_run_logs_nothing_on_the_target, top_ctrl_c_restores_the_terminal, top_native_once].

init_per_suite(Config) ->
    ok = bf_test_util:distributed(),
    Cookie = "bfrec" ++ integer_to_list(rand:uniform(1000000000)),
    erlang:set_cookie(list_to_atom(Cookie)),
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    true = filelib:is_regular(Exe),
    [{cookie, Cookie}, {exe, Exe} | Config].

end_per_suite(_Config) ->
    ok.

%% A peer without beamflame on its code path, running a workload whose hot function is
%% bf_workload:hot_a/1.
init_per_testcase(long_names, Config) ->
    Config;
init_per_testcase(Case, Config) ->
    Perf = case lists:member(Case, [native_mode_on_a_bare_node, top_native_once]) of
               true -> ["+JPperf", "map"];
               false -> []
           end,
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_rec),
                                         args => Perf ++ ["-setcookie", ?config(cookie, Config),
                                                          "-hidden"]}),
    ok = bf_probe:push(Node),
    Split = erpc:call(Node, bf_workload, start_split, [1, 0]),
    Depth = erpc:call(Node, bf_workload, backtrace_depth, []),
    [{peer, Peer}, {node, Node}, {depth, Depth}, {split, Split} | Config].

end_per_testcase(_Case, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok.

%%% Running the program ------------------------------------------------------------------

%% Starts the program; output (stdout and stderr) arrives as port messages.
start_cli(Config, Args, Env) ->
    open_port({spawn_executable, ?config(exe, Config)},
              [{args, Args}, {env, [{"BEAMFLAME_COOKIE", ?config(cookie, Config)} | Env]},
               binary, exit_status, stderr_to_stdout, use_stdio]).

%% Waits for the program to end: {ExitCode, Output}.
wait_cli(Port) ->
    wait_cli(Port, []).

wait_cli(Port, Acc) ->
    receive
        {Port, {data, D}} -> wait_cli(Port, [D | Acc]);
        {Port, {exit_status, S}} -> {S, iolist_to_binary(lists:reverse(Acc))}
    after 60000 -> error({cli_hangs, iolist_to_binary(lists:reverse(Acc))})
    end.

run_cli(Config, Args) ->
    run_cli(Config, Args, []).

run_cli(Config, Args, Env) ->
    wait_cli(start_cli(Config, Args, Env)).

short(Node) ->
    hd(string:split(atom_to_list(Node), "@")).

out(Config, Name) ->
    filename:join(?config(priv_dir, Config), Name).

contains(Bin, Part) ->
    binary:match(Bin, iolist_to_binary(Part)) =/= nomatch.

%%% What a recording may leave behind -----------------------------------------------------

leftovers(Node, Depth) ->
    erpc:call(Node, bf_probe, leftovers, [Depth]).

nothing_left(Config) ->
    Node = ?config(node, Config),
    Depth = ?config(depth, Config),
    bf_test_util:wait_until(fun() -> leftovers(Node, Depth) =:= [] end, 200,
                            fun() -> {leftovers, leftovers(Node, Depth)} end).

%%% Cases -------------------------------------------------------------------------------

records_a_bare_node_as_a_hidden_node(Config) ->
    Node = ?config(node, Config),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])),
    Out = out(Config, "bare.svg"),
    Port = start_cli(Config, ["record", atom_to_list(Node), "--duration", "2", "-o", Out], []),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    Cli = list_to_atom("beamflame_" ++ integer_to_list(OsPid) ++ "@"
                       ++ lists:last(string:split(atom_to_list(Node), "@"))),
    %% during the run: a hidden connection only
    bf_test_util:wait_until(
      fun() -> lists:member(Cli, erpc:call(Node, erlang, nodes, [hidden])) end),
    ?assertNot(lists:member(Cli, erpc:call(Node, erlang, nodes, []))),
    {0, Text} = wait_cli(Port),
    ct:log("~s", [Text]),
    ?assert(contains(Text, ["wrote ", Out])),
    ?assert(contains(Text, "beamflame loaded")),
    {ok, Svg} = file:read_file(Out),
    ?assertMatch(<<"<?xml", _/binary>>, Svg),
    ?assert(contains(Svg, "bf_workload:hot_a/1")),
    ?assert(contains(Svg, ["beamflame: ", atom_to_list(Node)])),
    nothing_left(Config),
    %% the library's private directory is gone
    ?assertEqual([], erpc:call(Node, filelib, wildcard, ["/tmp/beamflame-*"])).

second_record_finds_beamflame_loaded(Config) ->
    Node = ?config(node, Config),
    Out = out(Config, "twice.folded"),
    {0, _} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "0.3", "-o", Out]),
    %% 1 s: on a loaded CI machine (the OTP matrix runs peers on both cores) 0.5 s once
    %% kept no sample at all
    {0, Text} = run_cli(Config, ["record", short(Node), "--duration", "1", "-o", Out,
                                 "--rate", "200"]),
    ?assert(contains(Text, "beamflame was already loaded")),
    {ok, Folded} = file:read_file(Out),
    ?assert(contains(Folded, "bf_workload:hot_a/1")),
    nothing_left(Config).

kill_9_mid_run_leaves_nothing_behind(Config) ->
    Node = ?config(node, Config),
    Depth = ?config(depth, Config),
    Port = start_cli(Config, ["record", atom_to_list(Node), "--duration", "60",
                              "-o", out(Config, "killed.svg")], []),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    %% the recording runs: the session, the sampler and its helpers exist
    bf_test_util:wait_until(
      fun() -> lists:keymember(processes, 1, leftovers(Node, Depth)) end),
    [] = os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    {137, _} = wait_cli(Port),
    nothing_left(Config),
    ?assertNot(filelib:is_regular(out(Config, "killed.svg"))).

ctrl_c_ends_early_and_still_writes(Config) ->
    Node = ?config(node, Config),
    Depth = ?config(depth, Config),
    Out = out(Config, "early.svg"),
    Port = start_cli(Config, ["record", atom_to_list(Node), "--duration", "60", "-o", Out], []),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    bf_test_util:wait_until(
      fun() -> lists:keymember(processes, 1, leftovers(Node, Depth)) end),
    timer:sleep(500),
    [] = os:cmd("kill -INT " ++ integer_to_list(OsPid)),
    {0, Text} = wait_cli(Port),
    ct:log("~s", [Text]),
    {ok, Svg} = file:read_file(Out),
    ?assert(contains(Svg, "bf_workload:hot_a/1")),
    nothing_left(Config).

%% `script' gives the program a terminal: the progress line appears there, and nowhere
%% else.
progress_line_only_on_a_terminal(Config) ->
    Node = ?config(node, Config),
    Out = out(Config, "tty.svg"),
    Cmd = lists:flatten(io_lib:format("~s record ~s --duration 1 -o ~s",
                                      [?config(exe, Config), Node, Out])),
    {0, Tty} = wait_cli(open_port({spawn_executable, "/usr/bin/script"},
                                  [{args, ["-qec", Cmd, "/dev/null"]},
                                   {env, [{"BEAMFLAME_COOKIE", ?config(cookie, Config)}]},
                                   binary, exit_status, stderr_to_stdout, use_stdio])),
    ct:log("~s", [Tty]),
    ?assert(contains(Tty, ["recording ", atom_to_list(Node), ": "])),
    ?assert(contains(Tty, " samples")),
    {0, Pipe} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "1", "-o", Out]),
    ?assertNot(contains(Pipe, "\r")),
    ?assertNot(contains(Pipe, "Ctrl-C")).

cookie_sources(Config) ->
    Node = atom_to_list(?config(node, Config)),
    Cookie = ?config(cookie, Config),
    Out = out(Config, "c.folded"),
    Args = ["record", Node, "--duration", "0.2", "-o", Out],
    %% --cookie-file wins over a wrong environment variable
    File = out(Config, "cookie"),
    ok = file:write_file(File, [Cookie, "\n"]),
    {0, _} = run_cli(Config, Args ++ ["--cookie-file", File], [{"BEAMFLAME_COOKIE", "wrong"}]),
    %% --cookie works, with a warning
    {0, T1} = run_cli(Config, Args ++ ["--cookie", Cookie], [{"BEAMFLAME_COOKIE", "wrong"}]),
    ?assert(contains(T1, "visible to other users")),
    %% ~/.erlang.cookie when nothing else is given
    Home = out(Config, "home"),
    ok = filelib:ensure_dir(filename:join(Home, "x")),
    ok = file:write_file(filename:join(Home, ".erlang.cookie"), Cookie),
    {0, _} = run_cli(Config, Args, [{"BEAMFLAME_COOKIE", false}, {"HOME", Home}]),
    %% no cookie anywhere: exit 8, naming the ways to give one
    Empty = out(Config, "nohome"),
    ok = filelib:ensure_dir(filename:join(Empty, "x")),
    {8, T2} = run_cli(Config, Args, [{"BEAMFLAME_COOKIE", false}, {"HOME", Empty}]),
    ?assert(contains(T2, "--cookie-file")),
    nothing_left(Config).

wrong_cookie(Config) ->
    Node = ?config(node, Config),
    {8, Text} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "1"],
                        [{"BEAMFLAME_COOKIE", "not-the-cookie"}]),
    ct:log("~s", [Text]),
    ?assert(contains(Text, "rejected the connection")),
    ?assert(contains(Text, "BEAMFLAME_COOKIE")),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])).

absent_node(Config) ->
    {6, Text} = run_cli(Config, ["record", "bf_no_such_node_here", "--duration", "1"]),
    ?assert(contains(Text, "no node named bf_no_such_node_here is registered")),
    {6, Text2} = run_cli(Config, ["record", "x@no-such-host.invalid", "--duration", "1"]),
    ?assert(contains(Text2, "cannot resolve the host")).

%% A stopped epmd, without stopping the machine's epmd: the program asks a port where no
%% epmd listens (ERL_EPMD_PORT, which ei and erl both honour).
epmd_not_running(Config) ->
    {ok, L} = gen_tcp:listen(0, []),
    {ok, Free} = inet:port(L),
    ok = gen_tcp:close(L),
    {7, Text} = run_cli(Config, ["record", atom_to_list(?config(node, Config)),
                                 "--duration", "1"],
                        [{"ERL_EPMD_PORT", integer_to_list(Free)}]),
    ?assert(contains(Text, "epmd is not running")).

other_beamflame_version_is_refused(Config) ->
    Node = ?config(node, Config),
    ok = erpc:call(Node, application, load,
                   [{application, beamflame, [{vsn, "9.9.9"}, {modules, []},
                                              {applications, [kernel, stdlib]}]}]),
    {9, Text} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "1"]),
    ?assert(contains(Text, "runs beamflame 9.9.9")),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame_remote])).

%% A long-named node (a separate erl -name, since this node uses short names): our own
%% name is long too, given with --name.
long_names(Config) ->
    Name = "bflong" ++ os:getpid(),
    Erl = os:find_executable("erl"),
    Port = open_port({spawn_executable, Erl},
                     [{args, ["-name", Name ++ "@127.0.0.1", "-setcookie", ?config(cookie, Config),
                              "-noshell", "-eval",
                              "spawn(fun F() -> lists:seq(1, 1000), F() end)"]},
                      exit_status]),
    {os_pid, ErlPid} = erlang:port_info(Port, os_pid),
    try
        Node = Name ++ "@127.0.0.1",
        bf_test_util:wait_until(
          fun() -> contains(list_to_binary(os:cmd("epmd -names")), Name) end),
        Out = out(Config, "long.folded"),
        {0, Text} = run_cli(Config, ["record", Node, "--name", "bfcli@127.0.0.1",
                                     "--duration", "0.5", "-o", Out]),
        ?assert(contains(Text, "as hidden node bfcli@127.0.0.1")),
        {ok, Folded} = file:read_file(Out),
        ?assert(contains(Folded, "erl_eval")),
        %% without --name our name is long like the target's: this host's fully qualified
        %% name if the resolver knows one, else a clear request for --name
        case run_cli(Config, ["record", Node, "--duration", "0.2", "-o", Out]) of
            {0, T2} ->
                {match, [Host]} = re:run(T2, "as hidden node beamflame_[0-9]+@([^ ]+) ",
                                         [{capture, all_but_first, list}]),
                ?assert(lists:member($., Host));
            {2, T2} ->
                ?assert(contains(T2, "give --name NAME@HOST.DOMAIN"))
        end
    after
        os:cmd("kill " ++ integer_to_list(ErlPid))
    end.

trace_mode_records_the_next_calls(Config) ->
    Node = ?config(node, Config),
    Out = out(Config, "trace.folded"),
    {0, Text} = run_cli(Config, ["record", atom_to_list(Node), "--mode", "trace",
                                 "--call", "bf_workload:hot_a/1", "--calls", "2",
                                 "--duration", "10", "-o", Out]),
    ct:log("~s", [Text]),
    ?assert(contains(Text, "traced bf_workload:hot_a/1")),
    {ok, Folded} = file:read_file(Out),
    %% exact stacks: hot_a/1 calls burn/0, which tail-calls lists:foldl/3, so foldl's
    %% caller is hot_a/1 (weights in us)
    ?assert(contains(Folded, ";bf_workload:hot_a/1;lists:foldl/3")),
    ?assertNot(contains(Folded, "burn/0;lists:foldl/3")),
    nothing_left(Config),
    %% bad functions are bad arguments: exit 2, one sentence naming the fix, nothing left
    Bad = fun(Call) ->
                  run_cli(Config, ["record", atom_to_list(Node), "--mode", "trace", "--call",
                                   Call, "--duration", "1", "-o", Out])
          end,
    {2, T2} = Bad("bf_workload:nope/0"),
    ?assert(contains(T2, "module bf_workload has no function nope")),
    {2, T3} = Bad("bf_workload:hot_a/7"),
    ?assert(contains(T3, "bf_workload:hot_a has arity 1")),
    {2, T4} = Bad("no_such_module_here:f/0"),
    ?assert(contains(T4, "cannot be loaded")),
    ct:log("~s~s~s", [T2, T3, T4]),
    nothing_left(Config).

%% Ctrl-C mid-capture on a busy node: the program waits as long as the node takes to end
%% the run (here longer than --timeout, the per-call limit: it is raised once stopping),
%% then writes what was captured.
ctrl_c_mid_capture_keeps_the_data(Config) ->
    Node = ?config(node, Config),
    Out = out(Config, "capture.folded"),
    Port = start_cli(Config, ["record", atom_to_list(Node), "--mode", "trace",
                              "--call", "bf_workload:paced_work/1", "--calls", "1000",
                              "--duration", "60", "--timeout", "2", "-o", Out], []),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    %% 50 calls a second: the 1000 take 20 s, Ctrl-C comes after a few dozen
    _ = erpc:call(Node, bf_workload, start_paced, [20]),
    bf_test_util:wait_until(
      fun() -> lists:keymember(beamflame, 1, erpc:call(Node, application, which_applications, [])) end),
    timer:sleep(1500),
    [] = os:cmd("kill -INT " ++ integer_to_list(OsPid)),
    {0, Text} = wait_cli(Port),
    ct:log("~s", [Text]),
    ?assert(contains(Text, "stopping")),
    {ok, Folded} = file:read_file(Out),
    ?assert(contains(Folded, ";bf_workload:paced_work/1")),
    nothing_left(Config).

kill_9_during_a_trace_leaves_no_pattern(Config) ->
    Node = ?config(node, Config),
    Depth = ?config(depth, Config),
    %% a function nobody calls: the capture waits, patterns set on every module
    Port = start_cli(Config, ["record", atom_to_list(Node), "--mode", "trace",
                              "--call", "bf_workload:stop_idle/1", "--duration", "60",
                              "-o", out(Config, "killed.folded")], []),
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    bf_test_util:wait_until(
      fun() -> lists:keymember(patterns, 1, leftovers(Node, Depth)) end),
    [] = os:cmd("kill -9 " ++ integer_to_list(OsPid)),
    {137, _} = wait_cli(Port),
    nothing_left(Config).

%% Native mode from the command line, on a node that never loaded beamflame: the port
%% program goes along with the code (kept in memory there, written to a private directory
%% for the run, deleted after); kill -9 of the command line mid-run stops the sampler and
%% leaves no thread traced.
native_mode_on_a_bare_node(Config) ->
    Node = ?config(node, Config),
    OsPid = erpc:call(Node, os, getpid, []),
    Out = out(Config, "native.folded"),
    {0, Text} = run_cli(Config, ["record", atom_to_list(Node), "--mode", "native",
                                 "--duration", "2", "-o", Out]),
    ct:log("~s", [Text]),
    {ok, Folded} = file:read_file(Out),
    ?assert(contains(Folded, "_scheduler;") orelse contains(Folded, "erts_sched_")),
    ?assert(contains(Folded, ";bf_workload:hot_a/1;")),
    nothing_left(Config),
    ?assertEqual([], erpc:call(Node, filelib, wildcard, ["/tmp/beamflame-native-*"])),
    %% kill -9 mid-run
    Port = start_cli(Config, ["record", atom_to_list(Node), "--mode", "native",
                              "--duration", "60", "-o", out(Config, "killed.svg")], []),
    {os_pid, CliPid} = erlang:port_info(Port, os_pid),
    Sampler = fun() -> string:trim(os:cmd("pgrep -f 'beamflame_native --port --pid "
                                          ++ OsPid ++ " '")) end,
    bf_test_util:wait_until(fun() -> Sampler() =/= "" end),
    [] = os:cmd("kill -9 " ++ integer_to_list(CliPid)),
    {137, _} = wait_cli(Port),
    bf_test_util:wait_until(fun() -> Sampler() =:= "" end),
    nothing_left(Config),
    ?assertEqual([], erpc:call(Node, filelib, wildcard, ["/tmp/beamflame-native-*"])),
    Tracers = os:cmd("grep -h TracerPid /proc/" ++ OsPid ++ "/task/*/status | sort -u"),
    ?assertEqual("TracerPid:\t0", string:trim(Tracers)).

%% The path for a node older than the build (with our NIF API): every module compiled on
%% the node from its abstract code by the node's compiler. Between the releases CI has
%% (25, 27, 29) the NIF API always differs, so BEAMFLAME_COMPILE_ON_NODE=1 takes the path
%% on a node of this release.
compiles_on_the_node(Config) ->
    Node = ?config(node, Config),
    Out = out(Config, "compiled.folded"),
    {0, Text} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "1", "-o", Out],
                        [{"BEAMFLAME_COMPILE_ON_NODE", "1"}]),
    ct:log("~s", [Text]),
    ?assert(contains(Text, "beamflame compiled and loaded on the node")),
    {ok, Folded} = file:read_file(Out),
    ?assert(contains(Folded, "bf_workload:hot_a/1")),
    ?assertMatch({file, _}, erpc:call(Node, code, is_loaded, [beamflame_sampler])),
    nothing_left(Config).

%% ...and a node without the compiler application: refused (exit 9), naming both fixes.
no_compiler_is_refused(Config) ->
    Node = ?config(node, Config),
    [Compiler] = [D || D <- erpc:call(Node, code, get_path, []),
                       string:find(D, "/compiler-") =/= nomatch],
    true = erpc:call(Node, code, del_path, [Compiler]),
    {9, Text} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "1",
                                 "-o", out(Config, "refused.svg")],
                        [{"BEAMFLAME_COMPILE_ON_NODE", "1"}]),
    ct:log("~s", [Text]),
    ?assert(contains(Text, "no compiler application")),
    ?assert(contains(Text, "build beamflame with OTP")),
    ?assertEqual(false, erpc:call(Node, code, is_loaded, [beamflame])),
    nothing_left(Config).

%%% Mode options, output checks, name clashes, hints --------------------------------------

%% One mapping from the command line's mode options to the API's: each probe is accepted
%% by the command line exactly when the API's own validation accepts its option map, a
%% refusal is exit 2 before anything reaches the node, and every option of the API has
%% its flag.
mode_options_are_the_apis(Config) ->
    Node = atom_to_list(?config(node, Config)),
    Out = out(Config, "opts.folded"),
    %% wall time (unless the probe is about states): a recording always has samples
    Sample = fun(["--states" | _] = Args, Opts) -> {sample, Args, Opts};
                (Args, Opts) -> {sample, Args ++ ["--states", "wall"], Opts}
             end,
    Native = fun(Args, Opts) -> {native, ["--mode", "native" | Args], Opts} end,
    Probes =
        [Sample(["--states", "cpu"], #{states => cpu}),
         Sample(["--states", "wall"], #{states => wall}),
         Sample(["--states", "all"], #{states => all}),
         Sample(["--states", "idle"], #{states => idle}),
         Sample(["--group", "none"], #{group => none}),
         Sample(["--group", "process"], #{group => process}),
         Sample(["--group", "name"], #{group => name}),
         Sample(["--group", "node"], #{group => node}),
         Sample(["--max-depth", "2"], #{max_depth => 2}),
         Sample(["--max-depth", "64"], #{max_depth => 64}),
         Sample(["--max-depth", "1"], #{max_depth => 1}),
         Sample(["--max-depth", "65"], #{max_depth => 65}),
         Sample(["--max-stacks", "1"], #{max_stacks => 1}),
         Sample(["--max-stacks", "0"], #{max_stacks => 0}),
         Sample(["--max-stacks", "10000000"], #{max_stacks => 10000000}),
         Sample(["--max-stacks", "10000001"], #{max_stacks => 10000001}),
         Sample(["--max-bytes", "65536"], #{max_bytes => 65536}),
         Sample(["--max-bytes", "65535"], #{max_bytes => 65535}),
         Sample(["--max-bytes", "4294967296"], #{max_bytes => 4294967296}),
         Sample(["--max-bytes", "4294967297"], #{max_bytes => 4294967297}),
         Sample(["--process", "code_server"], #{processes => [code_server]}),
         Sample(["--process", "my_server:init/1"], #{processes => [{my_server, init, 1}]}),
         Sample(["--process", "my_server:init/256"], #{processes => [{my_server, init, 256}]}),
         Sample(["--process", "no spaces"], #{processes => ["no spaces"]}),
         Native(["--dirty"], #{dirty => true}),
         Native(["--no-idle"], #{idle => false})],
    Results =
        [begin
             Api = case Mode of
                       sample -> beamflame_sampler:validate(Opts);
                       native -> beamflame_native:validate(Opts)
                   end,
             {Code, Text} = run_cli(Config, ["record", Node, "--duration", "0.2", "-o", Out
                                             | Args]),
             ct:pal("~p ~p: api ~p, cli ~b ~s", [Mode, Args, element(1, Api), Code, Text]),
             case Api of
                 %% 3: recorded, but nothing matched (--process my_server:init/1)
                 {ok, _} -> ?assert(Code =:= 0 orelse Code =:= 3, {Code, Args});
                 {error, _} -> ?assertEqual({2, Args}, {Code, Args})
             end,
             Code
         end || {Mode, Args, Opts} <- Probes],
    ?assert(lists:member(2, Results) andalso lists:member(0, Results)),
    %% a mode option given to another mode is refused
    {2, Wrong} = run_cli(Config, ["record", Node, "--mode", "native", "--states", "wall"]),
    ?assert(contains(Wrong, "--states applies to --mode sample")),
    %% every option of the API has its flag (duration and rate are the record's own)
    {0, Help} = run_cli(Config, ["help"]),
    Flag = fun(processes) -> "--process";
              (idle) -> "--no-idle";
              (K) -> "--" ++ string:replace(atom_to_list(K), "_", "-", all)
           end,
    Keys = (maps:keys(beamflame_sampler:defaults()) ++ [dirty, idle]) -- [duration, rate],
    [?assert(contains(Help, ["    ", Flag(K), " "]), K) || K <- Keys],
    nothing_left(Config).

%% The options reach the sampler: one root per process, only the process asked for, stacks
%% cut to the depth asked.
mode_options_take_effect(Config) ->
    NodeA = ?config(node, Config),
    Node = atom_to_list(NodeA),
    Out = out(Config, "effect.folded"),
    Roots = fun() ->
                    {ok, Bin} = file:read_file(Out),
                    Lines = [L || L <- binary:split(Bin, <<"\n">>, [global]), L =/= <<>>],
                    {lists:usort([hd(binary:split(L, <<";">>)) || L <- Lines]),
                     lists:max([length(binary:split(L, <<";">>, [global])) || L <- Lines])}
            end,
    {0, _} = run_cli(Config, ["record", Node, "--duration", "0.5", "-o", Out,
                              "--states", "wall", "--group", "process"]),
    {PerProcess, _} = Roots(),
    ?assert(length([R || R <- PerProcess, binary:first(R) =:= $<]) >= 5, PerProcess),
    Pid = erpc:call(NodeA, erlang, whereis, [code_server]),
    PidText = erpc:call(NodeA, erlang, pid_to_list, [Pid]),
    {0, _} = run_cli(Config, ["record", Node, "--duration", "0.3", "-o", Out,
                              "--states", "wall", "--group", "name", "--process", PidText]),
    ?assertMatch({[<<"code_server">>], _}, Roots()),
    {0, _} = run_cli(Config, ["record", Node, "--duration", "0.3", "-o", Out,
                              "--states", "wall", "--max-depth", "2"]),
    {_, Depth} = Roots(),
    ?assert(Depth =< 3, Depth), % two frames and the [truncated] marker
    %% a pid of no process: recorded, empty, and said why
    Dead = erpc:call(NodeA, erlang, spawn, [erlang, is_atom, [x]]),
    DeadText = erpc:call(NodeA, erlang, pid_to_list, [Dead]),
    {3, Gone} = run_cli(Config, ["record", Node, "--duration", "0.3", "-o", Out,
                                 "--process", DeadText]),
    ?assert(contains(Gone, "no process matched")),
    %% a pid of another node is refused by the node, as a bad argument
    {2, Bad} = run_cli(Config, ["record", Node, "--duration", "0.3", "-o", Out,
                                "--process", "<1.2.3>"]),
    ct:pal("~s", [Bad]),
    ?assert(contains(Bad, "is not a pid of")),
    nothing_left(Config).

%% What can be checked before recording is: nothing reaches the node when the output
%% cannot be written or its format is unknown; a directory gets the default name inside.
output_is_checked_before_connecting(Config) ->
    NodeA = ?config(node, Config),
    Node = atom_to_list(NodeA),
    Loaded = fun() -> erpc:call(NodeA, code, is_loaded, [beamflame]) =/= false end,
    {4, NoDir} = run_cli(Config, ["record", Node, "--duration", "0.2",
                                  "-o", "/nonexistent/dir/x.svg"]),
    ?assert(contains(NoDir, "cannot write /nonexistent/dir/x.svg")),
    {2, Png} = run_cli(Config, ["record", Node, "--duration", "0.2", "-o", out(Config, "x.png")]),
    ?assert(contains(Png, "cannot tell the format")),
    ?assertNot(Loaded()),
    ?assertEqual([node()], erpc:call(NodeA, erlang, nodes, [hidden])),
    Dir = out(Config, "outdir"),
    ok = file:make_dir(Dir),
    {0, _} = run_cli(Config, ["record", Node, "--duration", "0.2", "-o", Dir]),
    {ok, [File]} = file:list_dir(Dir),
    ?assertMatch("beamflame-" ++ _, File),
    ?assertEqual(".svg", filename:extension(File)),
    %% --format names the format whatever the extension
    {0, _} = run_cli(Config, ["record", Node, "--duration", "0.2", "--format", "folded",
                              "-o", out(Config, "x.png")]),
    {ok, Folded} = file:read_file(out(Config, "x.png")),
    ?assertMatch({_, _}, binary:match(Folded, <<" ">>)),
    nothing_left(Config).

%% The test node is connected to the peer under its own name: the command line taking
%% that name is refused by the peer, and told so (not "the cookie is wrong").
name_clash_is_reported_as_one(Config) ->
    Node = ?config(node, Config),
    pong = net_adm:ping(Node),
    Own = hd(string:split(atom_to_list(node()), "@")),
    {2, Text} = run_cli(Config, ["record", atom_to_list(Node), "--sname", Own,
                                 "--duration", "0.2", "-o", out(Config, "clash.svg")]),
    ct:pal("~s", [Text]),
    ?assert(contains(Text, "already has a node named")),
    ?assertNot(contains(Text, "cookie")),
    nothing_left(Config).

%% A server whose requests take 5 us: most looks find it at its receive. The command line
%% says so in one line and the SVG carries it under the title.
hint_is_printed_and_drawn(Config) ->
    Node = ?config(node, Config),
    erpc:call(Node, erlang, exit, [?config(split, Config), kill]),
    Pids = erpc:call(Node, bf_reqwork, start_raw, [5]),
    Out = out(Config, "hint.svg"),
    {Code, Text} = run_cli(Config, ["record", atom_to_list(Node), "--duration", "2",
                                    "--rate", "499", "-o", Out]),
    erpc:call(Node, bf_reqwork, stop, [Pids]),
    ct:pal("~b ~s", [Code, Text]),
    case Code of
        0 ->
            %% the note (most looks at a receive; on a loaded machine, missed ticks come
            %% first), and the same sentence under the SVG's title
            [_, Rest] = binary:split(Text, <<"beamflame: note: ">>),
            [Note | _] = binary:split(Rest, <<"\n">>),
            ?assert(contains(Note, "at a receive") orelse contains(Note, "too busy")),
            {ok, Svg} = file:read_file(Out),
            ?assert(contains(Svg, binary:part(Note, 0, 40)));
        3 ->
            %% not one sample caught in the work: the message says why
            ?assert(contains(Text, "at a receive"))
    end,
    nothing_left(Config).

%%% top, dump, list, several nodes ----------------------------------------------------------

tmux(Sock, Args) ->
    Exe = os:find_executable("tmux"),
    ?assert(is_list(Exe), "tmux is needed (scripts/install-deps.sh installs it)"),
    Port = open_port({spawn_executable, Exe}, [{args, ["-L", Sock | Args]}, binary,
                                               exit_status, stderr_to_stdout, use_stdio]),
    {_, Out} = wait_cli(Port),
    Out.

%% `top' in a real terminal (tmux): the workload's function shows within a few seconds,
%% `p' switches to the processes, `q' leaves with exit 0 and the pane as it was, and the
%% node is clean afterwards.
top_in_a_real_terminal(Config) ->
    top_in_tmux(Config, "q").

%% Ctrl-C leaves as q does: exit 0, the terminal as it was, the node clean.
top_ctrl_c_restores_the_terminal(Config) ->
    top_in_tmux(Config, "C-c").

top_in_tmux(Config, Leave) ->
    Node = atom_to_list(?config(node, Config)),
    Sock = "bf_ct_" ++ os:getpid(),
    Done = out(Config, "top-" ++ Leave ++ ".exit"),
    _ = file:delete(Done),
    Cmd = lists:flatten(io_lib:format(
            "echo BEFORE-TOP; env BEAMFLAME_COOKIE=~s ~s top ~s; echo EXIT=$? > ~s; sleep 60",
            [?config(cookie, Config), ?config(exe, Config), Node, Done])),
    _ = tmux(Sock, ["new-session", "-d", "-s", "bft", "-x", "160", "-y", "40", Cmd]),
    Pane = fun() -> tmux(Sock, ["capture-pane", "-p", "-t", "bft"]) end,
    try
        bf_test_util:wait_until(fun() -> contains(Pane(), "bf_workload:hot_a/1") end, 200,
                                fun() -> {pane, Pane()} end),
        ?assert(contains(Pane(), "beamflame top")),
        _ = tmux(Sock, ["send-keys", "-t", "bft", "p"]),
        bf_test_util:wait_until(fun() -> contains(Pane(), "SAMPLES%") end, 100,
                                fun() -> {pane, Pane()} end),
        _ = tmux(Sock, ["send-keys", "-t", "bft", Leave]),
        bf_test_util:wait_until(fun() -> filelib:is_regular(Done) end, 200,
                                fun() -> {pane, Pane()} end),
        {ok, Exit} = file:read_file(Done),
        ?assertEqual(<<"EXIT=0\n">>, Exit),
        %% the alternate screen is gone: the pane shows what was there before
        After = Pane(),
        ?assert(contains(After, "BEFORE-TOP"), After),
        ?assertNot(contains(After, "SAMPLES%"))
    after
        tmux(Sock, ["kill-server"])
    end,
    nothing_left(Config).

top_once_without_a_terminal(Config) ->
    Node = atom_to_list(?config(node, Config)),
    {0, Text} = run_cli(Config, ["top", Node, "--once"]),
    ct:pal("~s", [Text]),
    ?assert(contains(Text, "beamflame top")),
    ?assert(contains(Text, "bf_workload:hot_a/1")),
    ?assert(contains(Text, "OWN%")),
    {2, Bad} = run_cli(Config, ["top", Node, "--interval", "0"]),
    ?assert(contains(Bad, "--interval needs seconds")),
    nothing_left(Config).

dump_shows_a_process_in_its_receive(Config) ->
    NodeA = ?config(node, Config),
    {ok, _} = erpc:call(NodeA, gen_server, start, [{local, bf_dump_target}, bf_reqwork, 1, []]),
    {0, Text} = run_cli(Config, ["dump", atom_to_list(NodeA), "--name", "bf_dump_target"]),
    ct:pal("~s", [Text]),
    ?assert(contains(Text, "bf_dump_target (bf_reqwork:init/1)")),
    ?assert(contains(Text, "gen_server:loop/")),   % /7 up to OTP 28, /5 on 29
    ?assert(contains(Text, "waiting")),
    {0, Json} = run_cli(Config, ["dump", atom_to_list(NodeA), "--top", "5", "--format", "json",
                                 "--sort", "reductions"]),
    Decoded = decode_json(Json),
    ?assertMatch(#{<<"node">> := _, <<"processes">> := N, <<"shown">> := 5} when N > 5, Decoded),
    ?assertEqual(5, length(maps:get(<<"stacks">>, Decoded))),
    %% among the busiest by reductions: the workload, told by its pid as the node writes
    %% it (its stack at the moment of the dump may be between two calls of hot_a/1)
    SplitPid = erpc:call(NodeA, erlang, pid_to_list, [?config(split, Config)]),
    ?assert(contains(Json, "\"pid\": \"" ++ SplitPid ++ "\"")),
    {2, _} = run_cli(Config, ["dump", atom_to_list(NodeA), "--sort", "size"]),
    %% nothing is started: dump is one remote call
    ?assertNot(lists:keymember(beamflame, 1, erpc:call(NodeA, application,
                                                       which_applications, []))),
    nothing_left(Config).

%% OTP 27+ has a json module; on 25-26 the test reads the few fields it needs itself.
decode_json(Bin) ->
    case erlang:function_exported(json, decode, 1) orelse code:ensure_loaded(json) =:= {module, json} of
        true -> json:decode(Bin);
        false -> mini_json(Bin)
    end.

mini_json(Bin) ->
    Int = fun(Key) ->
                  {match, [V]} = re:run(Bin, "\"" ++ Key ++ "\": ([0-9]+)", [{capture, [1], binary}]),
                  binary_to_integer(V)
          end,
    {match, Currents} = re:run(Bin, "\"current_function\": \"([^\"]*)\"",
                               [global, {capture, [1], binary}]),
    #{<<"node">> => x, <<"processes">> => Int("processes"), <<"shown">> => Int("shown"),
      <<"stacks">> => [#{<<"current_function">> => C} || [C] <- Currents]}.

%% 100,000 idle processes: the dump stays small and quick (the cheap pass over every
%% process, stacks for the 100 shown).
dump_of_100k_processes_is_bounded(Config) ->
    NodeA = ?config(node, Config),
    Idle = erpc:call(NodeA, bf_workload, start_idle, [100000], 60000),
    T0 = erlang:monotonic_time(millisecond),
    {0, Text} = run_cli(Config, ["dump", atom_to_list(NodeA)]),
    Ms = erlang:monotonic_time(millisecond) - T0,
    ct:pal("dump of 100k processes: ~b ms, ~b bytes of output", [Ms, byte_size(Text)]),
    ?assert(contains(Text, "100 shown")),
    ?assert(contains(Text, "more (--top N shows more")),
    ?assert(byte_size(Text) < 200000),
    ?assert(Ms < 20000, Ms),
    erpc:call(NodeA, bf_workload, stop_idle, [Idle], 60000),
    nothing_left(Config).

list_shows_the_nodes_of_a_host(Config) ->
    Node = ?config(node, Config),
    {ok, Other, OtherNode} = peer:start(#{name => peer:random_name(bf_other_cookie),
                                          connection => standard_io,
                                          args => ["-setcookie", "not_the_same"]}),
    try
        {0, Text} = run_cli(Config, ["list"]),
        ct:pal("~s", [Text]),
        [Line] = [L || L <- binary:split(Text, <<"\n">>, [global]),
                       contains(L, atom_to_list(Node))],
        ?assert(contains(Line, erlang:system_info(otp_release))),
        [OtherLine] = [L || L <- binary:split(Text, <<"\n">>, [global]),
                            contains(L, atom_to_list(OtherNode))],
        ?assert(contains(OtherLine, "cookie was rejected")),
        %% this test node is there too
        ?assert(contains(Text, atom_to_list(node())))
    after
        peer:stop(Other)
    end.

%% Two nodes and one that does not exist: the two are written, each under its name; the
%% missing one is reported and sets the exit code.
cluster_with_a_node_down(Config) ->
    Node = ?config(node, Config),
    Cookie = ?config(cookie, Config),
    {ok, P2, Node2} = peer:start(#{name => peer:random_name(bf_rec2),
                                   args => ["-setcookie", Cookie, "-hidden"]}),
    try
        Out = out(Config, "cluster.folded"),
        {6, Text} = run_cli(Config, ["record", atom_to_list(Node), atom_to_list(Node2),
                                     "bf_no_such_node", "--duration", "0.5", "--states", "wall",
                                     "-o", Out]),
        ct:pal("~s", [Text]),
        ?assert(contains(Text, "bf_no_such_node")),
        ?assert(contains(Text, "2 of 3 nodes recorded")),
        {ok, Folded} = file:read_file(Out),
        Roots = lists:usort([hd(binary:split(L, <<";">>))
                             || L <- binary:split(Folded, <<"\n">>, [global]), L =/= <<>>]),
        ?assertEqual(lists:sort([atom_to_binary(Node), atom_to_binary(Node2)]), Roots),
        %% --cluster: the node and every node it is connected to (visible connections:
        %% two nodes that are not hidden)
        {ok, P3, Node3} = peer:start(#{name => peer:random_name(bf_rec3),
                                       args => ["-setcookie", Cookie]}),
        {ok, P4, Node4} = peer:start(#{name => peer:random_name(bf_rec4),
                                       args => ["-setcookie", Cookie]}),
        pong = erpc:call(Node3, net_adm, ping, [Node4]),
        {0, _} = run_cli(Config, ["record", atom_to_list(Node3), "--cluster", "--duration",
                                  "0.5", "--states", "wall", "-o", Out]),
        {ok, Folded2} = file:read_file(Out),
        ?assert(contains(Folded2, [atom_to_list(Node3), ";"])),
        ?assert(contains(Folded2, [atom_to_list(Node4), ";"])),
        peer:stop(P3),
        peer:stop(P4)
    after
        peer:stop(P2)
    end,
    nothing_left(Config).

%% A recording leaves no line in the target's log (the application's stop notice included).
a_run_logs_nothing_on_the_target(Config) ->
    NodeA = ?config(node, Config),
    ok = erpc:call(NodeA, bf_probe, collect_logs, []),
    {0, _} = run_cli(Config, ["record", atom_to_list(NodeA), "--duration", "0.3",
                              "-o", out(Config, "quiet.svg")]),
    nothing_left(Config),
    Logged = erpc:call(NodeA, bf_probe, logged, []),
    ct:pal("~p", [Logged]),
    ?assertEqual([], [E || E <- Logged, contains(iolist_to_binary(io_lib:format("~p", [E])),
                                                 "beamflame")]).

%% Native mode's top: one native run per interval, on a +JPperf map peer.
top_native_once(Config) ->
    Node = atom_to_list(?config(node, Config)),
    {0, Text} = run_cli(Config, ["top", Node, "--mode", "native", "--once"]),
    ct:pal("~s", [Text]),
    ?assert(contains(Text, "native: scheduler threads")),
    ?assert(contains(Text, "bf_workload:")),
    nothing_left(Config).
