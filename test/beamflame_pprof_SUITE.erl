%% pprof output read by Go's own reader (`go tool pprof', Debian's golang-go): for every
%% mode, the same stacks with the same counts as the folded output of the same profile,
%% the sample types and period the mode has, root frames as labels, hostile frame names,
%% and the command line's .pb.gz files.
-module(beamflame_pprof_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").

-export([all/0, init_per_suite/1, end_per_suite/1, init_per_testcase/2, end_per_testcase/2]).
-export([sample_mode/1, trace_mode/1, native_mode/1, cluster_roots_are_labels/1,
         hostile_names/1, command_line_writes_pprof/1]).
-export([on_peer/2]).

all() ->
    [sample_mode, trace_mode, native_mode, cluster_roots_are_labels, hostile_names,
     command_line_writes_pprof].

init_per_suite(Config) ->
    Go = os:find_executable("go"),
    ?assertNotEqual(false, Go),   % installed by scripts/install-deps.sh (golang-go)
    ok = bf_test_util:distributed(),
    [{go, Go} | Config].

end_per_suite(_Config) ->
    ok.

init_per_testcase(Case, Config) ->
    Args = case Case of native_mode -> ["+JPperf", "map"]; _ -> [] end,
    %% this node's cookie, whatever an earlier suite set it to
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_pprof),
                                         args => Args ++ ["-setcookie",
                                                          atom_to_list(erlang:get_cookie()),
                                                          "-pa" | code:get_path()]}),
    ok = bf_probe:push(Node),
    [{peer, Peer}, {node, Node} | Config].

end_per_testcase(_Case, Config) ->
    catch peer:stop(?config(peer, Config)),
    ok.

%% Runs a recording on the peer; its pprof and folded texts come back.
on_peer(F, Args) ->
    {ok, _} = application:ensure_all_started(beamflame),
    P = case apply(beamflame, F, Args) of
            {ok, _Value, Prof} -> Prof;
            {ok, Prof} -> Prof
        end,
    {beamflame:pprof(P), beamflame:folded(P), beamflame:info(P)}.

record(Config, F, Args) ->
    erpc:call(?config(node, Config), ?MODULE, on_peer, [F, Args], 60000).

file(Config, Name, Bin) ->
    Path = filename:join(?config(priv_dir, Config), Name),
    ok = file:write_file(Path, Bin),
    Path.

%% `go tool pprof' on a file with the given flags: its standard output.
go(Config, Flags, File) ->
    %% a cache of its own and no toolchain download: chroots have no HOME, no network
    Env = ["GOCACHE=", filename:join(?config(priv_dir, Config), "gocache"),
           " GOTOOLCHAIN=local GOFLAGS= "],
    Cmd = lists:flatten([Env, ?config(go, Config), " tool pprof ", Flags, " ", File,
                         " 2>/dev/null"]),
    os:cmd(Cmd).

%% -raw: each sample's stack (root first, names from the locations) with its value of
%% the default sample type (marked [dflt], else the last, as pprof reads it), merged.
go_stacks(Config, File) ->
    Lines = string:split(go(Config, "-raw", File), "\n", all),
    {_, [_, Types | Rest]} = lists:splitwith(fun(L) -> L =/= "Samples:" end, Lines),
    TypeList = string:lexemes(Types, " "),
    Index = case [I || {I, T} <- lists:zip(lists:seq(1, length(TypeList)), TypeList),
                       lists:suffix("[dflt]", T)] of
                [I] -> I;
                [] -> length(TypeList)
            end,
    {SampleLines, [_ | LocLines]} = lists:splitwith(fun(L) -> L =/= "Locations" end, Rest),
    Names = maps:from_list(
              [{list_to_integer(Id), Name}
               || L <- LocLines,
                  %% " :LINE s=0" up to Go 1.22, " :LINE:COLUMN s=0()" after
                  {match, [Id, Name]} <- [re:run(L, "^ *([0-9]+): 0x[0-9a-f]+ M=[0-9]+ (.*) "
                                                    ":[0-9]+(:[0-9]+)? s=[0-9]+(\\(.*\\))?$",
                                                 [{capture, [1, 2], list}, unicode])]]),
    lists:foldl(fun(L, Acc) ->
                        case re:run(L, "^ *([0-9 ]+): ([0-9 ]+)$",
                                    [{capture, all_but_first, list}]) of
                            {match, [Vals, Locs]} ->
                                V = list_to_integer(lists:nth(Index, string:lexemes(Vals, " "))),
                                Key = lists:reverse([maps:get(list_to_integer(X), Names)
                                                     || X <- string:lexemes(Locs, " ")]),
                                maps:update_with(Key, fun(C) -> C + V end, V, Acc);
                            nomatch ->
                                Acc   % a label line, or the types' header
                        end
                end, #{}, SampleLines).

%% The folded text's stacks (escapes undone, as beamflame reads them), merged.
folded_stacks(Folded) ->
    Lines = [L || L <- string:split(unicode:characters_to_list(Folded), "\n", all), L =/= ""],
    lists:foldl(fun(L, Acc) ->
                        {match, [Stack, Count]} = re:run(L, "^(.*) ([0-9]+)$",
                                                         [{capture, all_but_first, list},
                                                          unicode]),
                        Key = [unescape(F) || F <- split_frames(Stack)],
                        N = list_to_integer(Count),
                        maps:update_with(Key, fun(C) -> C + N end, N, Acc)
                end, #{}, Lines).

split_frames(S) -> split_frames(S, [], []).
split_frames([], Cur, Acc) -> lists:reverse([lists:reverse(Cur) | Acc]);
split_frames([$\\, C | T], Cur, Acc) -> split_frames(T, [C, $\\ | Cur], Acc);
split_frames([$; | T], Cur, Acc) -> split_frames(T, [], [lists:reverse(Cur) | Acc]);
split_frames([C | T], Cur, Acc) -> split_frames(T, [C | Cur], Acc).

unescape([$\\, $\\ | T]) -> [$\\ | unescape(T)];
unescape([$\\, $; | T]) -> [$; | unescape(T)];
unescape([$\\, $n | T]) -> [$\n | unescape(T)];
unescape([$\\, $t | T]) -> [$\t | unescape(T)];
unescape([$\\, $x, A, B | T]) -> [list_to_integer([A, B], 16) | unescape(T)];
unescape([C | T]) -> [C | unescape(T)];
unescape([]) -> [].

same_stacks(Config, Name, Pprof, Folded) ->
    File = file(Config, Name, Pprof),
    Go = go_stacks(Config, File),
    Ours = folded_stacks(Folded),
    ?assert(map_size(Ours) > 0),
    ?assertEqual(lists:sum(maps:values(Ours)), lists:sum(maps:values(Go))),
    ?assertEqual(Ours, Go),
    File.

sample_mode(Config) ->
    _ = erpc:call(?config(node, Config), bf_workload, start_split, [3, 1]),
    {Pprof, Folded, _} = record(Config, sample, [#{duration => 1500, states => wall}]),
    File = same_stacks(Config, "sample.pb.gz", Pprof, Folded),
    Raw = go(Config, "-raw", File),
    ?assertNotEqual(nomatch, string:find(Raw, "PeriodType: wall nanoseconds")),
    ?assertNotEqual(nomatch, string:find(Raw, "Period: 10101010")),
    ?assertNotEqual(nomatch, string:find(Raw, "samples/count")),
    Top = go(Config, "-top", File),
    ?assertNotEqual(nomatch, string:find(Top, "bf_workload:")).

trace_mode(Config) ->
    {Pprof, Folded, #{unit := us}} = record(Config, trace, [{bf_workload, hot_a, [20]}, #{}]),
    %% the default view is the weight: microseconds, as in the folded output
    same_stacks(Config, "trace.pb.gz", Pprof, Folded),
    Raw = go(Config, "-raw", file(Config, "trace2.pb.gz", Pprof)),
    ?assertNotEqual(nomatch, string:find(Raw, "samples/count wall/microseconds[dflt]")),
    {Pprof2, Folded2, _} = record(Config, trace, [{bf_workload, hot_a, [5]},
                                                  #{weight => calls}]),
    same_stacks(Config, "calls.pb.gz", Pprof2, Folded2).

native_mode(Config) ->
    _ = erpc:call(?config(node, Config), bf_workload, start_busy, [1]),
    case record(Config, native, [#{duration => 1000}]) of
        {Pprof, Folded, #{thread_samples := N}} when N > 0 ->
            File = same_stacks(Config, "native.pb.gz", Pprof, Folded),
            ?assertNotEqual(nomatch, string:find(go(Config, "-tags", File), "thread"))
    end.

cluster_roots_are_labels(Config) ->
    {ok, Peer2, Node2} = peer:start_link(#{name => peer:random_name(bf_pprof),
                                           args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                    "-pa" | code:get_path()]}),
    Nodes = [?config(node, Config), Node2],
    {ok, P, _} = beamflame:sample_cluster(Nodes, #{duration => 500, states => wall}),
    peer:stop(Peer2),
    File = same_stacks(Config, "cluster.pb.gz", beamflame:pprof(P), beamflame:folded(P)),
    Tags = go(Config, "-tags", File),
    [?assertNotEqual(nomatch, string:find(Tags, atom_to_list(N))) || N <- Nodes],
    ?assertNotEqual(nomatch, string:find(Tags, "node:")).

hostile_names(Config) ->
    Folded = <<"root;we\\;ird;sp ace;caf\xc3\xa9 3\n"
               "root;tab\\there;<0.1.0>;\"quoted\" 4\n"
               "root;back\\\\slash 2\n">>,
    {ok, P, _} = beamflame:read_folded(Folded),
    same_stacks(Config, "hostile.pb.gz", beamflame:pprof(P), beamflame:folded(P)),
    ?assertMatch(<<31, 139, _/binary>>, beamflame:pprof(Folded)),   % folded text too
    ?assertMatch({error, {bad_argument, 42, _}}, beamflame:pprof(42)).

command_line_writes_pprof(Config) ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    In = file(Config, "in.folded", <<"main;a;b 10\nmain;a 5\n">>),
    Out = filename:join(?config(priv_dir, Config), "cli.pb.gz"),
    ?assertEqual("rc=0", os:cmd(Exe ++ " svg " ++ In ++ " -o " ++ Out ++
                                " 2>/dev/null; echo -n rc=$?")),
    ?assertEqual(#{["main", "a", "b"] => 10, ["main", "a"] => 5}, go_stacks(Config, Out)),
    %% a recording written as pprof: the period of the rate it ran at
    Node = atom_to_list(?config(node, Config)),
    Rec = filename:join(?config(priv_dir, Config), "rec.pb.gz"),
    Cookie = atom_to_list(erlang:get_cookie()),
    Res = os:cmd("BEAMFLAME_COOKIE=" ++ Cookie ++ " " ++ Exe ++ " record " ++ Node ++
                 " --duration 1 --states wall --rate 50 --quiet -o " ++ Rec ++ " 2>&1; echo rc=$?"),
    ?assertNotEqual(nomatch, string:find(Res, "rc=0")),
    Raw = go(Config, "-raw", Rec),
    ?assertNotEqual(nomatch, string:find(Raw, "PeriodType: wall nanoseconds")),
    ?assertNotEqual(nomatch, string:find(Raw, "Period: 20000000")).
