%% Native mode on real nodes (peers started with and without +JPperf map), sampled by the
%% real port program with real ptrace: the Erlang chain of a busy loop, C frames of a BIF,
%% the reduced profile without +JPperf, and a port program killed mid-run leaving the
%% node running.
-module(beamflame_native_SUITE).
-include_lib("common_test/include/ct.hrl").
-include_lib("stdlib/include/assert.hrl").
%% A scheduler thread's name: `1_scheduler' on OTP 25-26, `erts_sched_1' from 27.
-define(SCHED, "^([0-9]+_scheduler|erts_sched_[0-9]+)").
-export([all/0, init_per_suite/1, end_per_suite/1]).
-export([erlang_chain_with_perf_map/1, bif_shows_c_frames/1, reduced_without_perf_map/1,
         frame_pointers_without_map/1, generated_names_agree_across_modes/1,
         killing_the_sampler_leaves_the_node_running/1, bad_options/1,
         a_second_tracer_is_refused_by_name/1, a_sleeping_scheduler_is_not_stopped_again/1,
         code_loaded_during_the_run_is_named/1, a_stale_perf_map_is_not_used/1]).
-export([on_peer/2]).

all() ->
    [erlang_chain_with_perf_map, bif_shows_c_frames, reduced_without_perf_map,
     frame_pointers_without_map, generated_names_agree_across_modes,
     killing_the_sampler_leaves_the_node_running, bad_options,
     a_second_tracer_is_refused_by_name, a_sleeping_scheduler_is_not_stopped_again,
     code_loaded_during_the_run_is_named, a_stale_perf_map_is_not_used].

init_per_suite(Config) ->
    ok = bf_test_util:distributed(),
    [{cookie, atom_to_list(erlang:get_cookie())} | Config].

end_per_suite(_Config) ->
    ok.

start(Config, Extra) ->
    Ebin = filename:dirname(code:which(beamflame)),
    Test = filename:dirname(code:which(bf_nativework)),
    {ok, Peer, Node} = peer:start_link(#{name => peer:random_name(bf_nat),
                                         args => Extra ++ ["-pa", Ebin, "-pa", Test,
                                                           "-setcookie", ?config(cookie, Config)]}),
    %% beamflame's modules loaded (JIT-compiled) before anything is measured: their
    %% loading is C work on a scheduler, and a slow moment once put it in a sampling window
    %% (a sid run saw 22 Erlang samples of 149 busy ones)
    _ = erpc:call(Node, application, load, [beamflame]),
    {ok, Mods} = erpc:call(Node, application, get_key, [beamflame, modules]),
    _ = [{module, M} = erpc:call(Node, code, ensure_loaded, [M]) || M <- Mods],
    {Peer, Node}.

on_peer(sample, [Opts]) ->
    {ok, P} = beamflame:sample(Opts),
    {ok, beamflame:folded(P)};
on_peer(trace, [Call]) ->
    {ok, _, P} = beamflame:trace(Call, #{}),
    {ok, beamflame:folded(P)};
on_peer(native_with_late_module, [Opts, DelayMs]) ->
    %% a module compiled and loaded while the run goes on, then run
    _ = spawn(fun() ->
                      timer:sleep(DelayMs),
                      Forms = [begin
                                   {ok, T, _} = erl_scan:string(F),
                                   {ok, Form} = erl_parse:parse_form(T),
                                   Form
                               end || F <- ["-module(bf_late_mod).", "-export([spin/1]).",
                                            "spin(N) when N > 100000000 -> spin(0); "
                                            "spin(N) -> spin(N + 1)."]],
                      {ok, bf_late_mod, Bin} = compile:forms(Forms),
                      {module, bf_late_mod} = code:load_binary(bf_late_mod, "bf_late_mod.erl", Bin),
                      bf_late_mod:spin(0)
              end),
    on_peer(native, [Opts]);
on_peer(native, [Opts]) ->
    case beamflame:native(Opts) of
        {ok, P} -> {ok, beamflame:folded(P), beamflame:info(P)};
        Other -> Other
    end.

lines(Folded) ->
    binary:split(Folded, <<"\n">>, [global, trim_all]).

%% A folded line's count.
weight(Line) ->
    binary_to_integer(lists:last(binary:split(Line, <<" ">>, [global]))).

erlang_chain_with_perf_map(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "map"]),
    _ = erpc:call(Node, bf_nativework, start_chain, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 1500}]]),
    ?assertMatch(#{mode := native, capability := <<"full", _/binary>>}, Info),
    %% a full capability needs no hint
    ?assertNot(maps:is_key(hint, Info)),
    Chain = [L || L <- lines(Folded),
                  binary:match(L, <<"bf_nativework:a/0;bf_nativework:b/0;bf_nativework:c/1">>)
                      =/= nomatch],
    ct:log("~b of ~b stacks show the chain; ~p", [length(Chain), length(lines(Folded)), Info]),
    ?assert(length(Chain) > 0),
    %% most stacks with Erlang functions reach the process's first frame
    #{erlang_samples := Erl, complete_chains := Complete} = Info,
    ?assert(Erl > 50),
    ?assert(Complete > Erl * 0.8, {complete, Complete, 'of', Erl}),
    %% every stack starts with a scheduler thread's name (as the release names them)
    ?assert(lists:all(fun(L) -> re:run(L, ?SCHED ";") =/= nomatch end, lines(Folded))),
    peer:stop(Peer).

%% A scheduler asleep in the same system call as at its last sample is counted with that
%% sample's stack, not stopped (and woken) again: on a node with one busy scheduler of
%% two, most idle samples are reused, each still a scheduler's [idle] stack with frames
%% under it, and the busy one is still sampled in its work. The stop time per sample is
%% reported (its median).
a_sleeping_scheduler_is_not_stopped_again(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "map", "+S", "2"]),
    _ = erpc:call(Node, bf_nativework, start_chain, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 2000}]]),
    #{idle_samples := Idle, idle_reused := Reused, stopped_us_median := Held} = Info,
    ct:log("idle ~b, reused ~b, held median ~b us; ~p", [Idle, Reused, Held, Info]),
    ?assert(Idle > 50, {idle, Idle}),
    ?assert(Reused >= Idle div 2, {reused, Reused, 'of', Idle}),
    ?assert(Held > 0),
    IdleLines = [L || L <- lines(Folded), binary:match(L, <<";[idle];">>) =/= nomatch],
    ?assertEqual(Idle, lists:sum([weight(L) || L <- IdleLines])),
    ?assert(lists:all(fun(L) -> re:run(L, ?SCHED ";\\[idle\\];[^ ]+ [0-9]+$") =/= nomatch end,
                      IdleLines)),
    ?assert(lists:any(fun(L) -> binary:match(L, <<"bf_nativework:c/1">>) =/= nomatch end,
                      lines(Folded))),
    peer:stop(Peer).

bif_shows_c_frames(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "map"]),
    _ = erpc:call(Node, bf_nativework, start_bif, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 1500}]]),
    %% one stack: the scheduler, the Erlang function, the JIT's BIF glue, the BIF in C, zlib.
    %% The BIF is named where beam.smp exports it (Debian's 25 and 27); Debian's 29 exports
    %% 290 functions, so there it is its .eh_frame start, beam.smp+0x...
    Bif = case exported(Node, "crc32_2") of
              true -> "crc32_[12]";
              false -> "beam\\.smp\\+0x[0-9a-f]+"
          end,
    Full = [L || L <- lines(Folded),
                 re:run(L, ?SCHED ";bf_nativework:crc_loop/1;global::call_[a-z_]*bif"
                           "_shared;.*" ++ Bif ++ ";.*libz[^;]*\\+0x[0-9a-f]+ [0-9]+$") =/= nomatch],
    Samples = lists:sum([binary_to_integer(lists:last(binary:split(L, <<" ">>, [global])))
                         || L <- Full]),
    ct:log("~b samples in the BIF with the Erlang caller above them; ~p", [Samples, Info]),
    ?assert(Samples > 0),
    peer:stop(Peer).

%% Without +JPperf: no frame pointers, no perf map. The JIT's debugger list still names
%% the innermost Erlang function; no caller is claimed; the profile says how to get more.
reduced_without_perf_map(Config) ->
    {Peer, Node} = start(Config, []),
    _ = erpc:call(Node, bf_nativework, start_chain, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 1000}]]),
    ct:log("~p~n~s", [Info, Folded]),
    #{capability := Cap} = Info,
    ?assertMatch({_, _}, binary:match(Cap, <<"+JPperf map">>)),
    ?assertMatch(<<"reduced", _/binary>>, Cap),
    %% ... and says it where the graph is shown (the command line's note, the subtitle)
    #{hint := Hint} = Info,
    ?assertMatch({_, _}, binary:match(Hint, <<"+JPperf map">>)),
    ?assertMatch(#{jit_names := debugger_list, frame_pointers := false}, Info),
    ?assert(lists:any(fun(L) -> re:run(L, ?SCHED ";bf_nativework:c/1 ") =/= nomatch
                      end, lines(Folded))),
    ?assertEqual([], [L || L <- lines(Folded),
                           re:run(L, "bf_nativework:.*;bf_nativework:") =/= nomatch]),
    peer:stop(Peer).

%% Without a perf map the names come from the JIT's debugger list, which grows as code
%% loads and changes under a lock the port program cannot take: a miss in JIT memory walks
%% it again (read once at the start, code loaded later stayed `[jit 0x...]'; an OTP 29
%% run once had no names at all, likely a start that caught the list mid-change).
code_loaded_during_the_run_is_named(Config) ->
    {Peer, Node} = start(Config, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer,
                                   [native_with_late_module, [#{duration => 2000}, 300]]),
    ct:log("~p~n~s", [Info, Folded]),
    Count = fun(Re) -> lists:sum([weight(L) || L <- lines(Folded), re:run(L, Re) =/= nomatch]) end,
    Named = Count(";bf_late_mod:spin/1 "),
    Unnamed = Count("\\[jit 0x"),
    %% (how many depends on how soon the peer compiles the module: 43-77 seen)
    ?assert(Named >= 20, {named, Named, unnamed, Unnamed}),
    ?assert(Unnamed * 10 =< Named, {named, Named, unnamed, Unnamed}),
    peer:stop(Peer).

%% A node started with +JPperf map leaves /tmp/perf-PID.map behind; a later process with
%% the same pid must not be named from it (seen in the matrix: a reduced node reported
%% `jit_names => perf_map'). A map older than the process is ignored.
a_stale_perf_map_is_not_used(Config) ->
    {Peer, Node} = start(Config, []),
    Map = "/tmp/perf-" ++ erpc:call(Node, os, getpid, []) ++ ".map",
    ok = file:write_file(Map, <<"1000 7ffffffff000 $bogus:stale/0\n">>),
    Old = calendar:gregorian_seconds_to_datetime(
            calendar:datetime_to_gregorian_seconds(calendar:universal_time()) - 3600),
    ok = file:change_time(Map, erlang:universaltime_to_localtime(Old)),
    try
        _ = erpc:call(Node, bf_nativework, start_chain, []),
        {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 500}]]),
        ct:log("~p~n~s", [Info, Folded]),
        ?assertMatch(#{jit_names := debugger_list}, Info),
        ?assertEqual(nomatch, binary:match(Folded, <<"bogus">>))
    after
        file:delete(Map),
        peer:stop(Peer)
    end.

%% OTP 26+: `+JPperf fp' gives frame pointers without a perf map. The names come from the
%% JIT's debugger list, the frame layout from erts_frame_layout (27) or the list's emulator
%% record (29, where beam.smp exports neither): whole chains all the same.
frame_pointers_without_map(Config) ->
    case erlang:system_info(otp_release) of
        "25" -> {skip, "+JPperf fp is OTP 26+"};
        _ -> frame_pointers_without_map_26(Config)
    end.

frame_pointers_without_map_26(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "fp"]),
    _ = erpc:call(Node, bf_nativework, start_chain, []),
    {ok, Folded, Info} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 1500}]]),
    ct:log("~p", [Info]),
    ?assertMatch(#{jit_names := debugger_list, frame_pointers := true,
                   capability := <<"full", _/binary>>}, Info),
    ?assertNotEqual(symbol_missing, maps:get(frame_layout_from, Info, symbol_missing)),
    ?assert(lists:any(fun(L) -> binary:match(L, <<"bf_nativework:a/0;bf_nativework:b/0;"
                                                  "bf_nativework:c/1">>) =/= nomatch
                      end, lines(Folded))),
    #{erlang_samples := Erl, complete_chains := Complete} = Info,
    ?assert(Complete > Erl * 0.8, {complete, Complete, 'of', Erl}),
    peer:stop(Peer).

%% One spelling for compiler-generated functions in every mode: the comprehension and the
%% fun of bf_nativework:crunch/1 read `bf_nativework:crunch/1-lc$^N/1-0' and
%% `bf_nativework:crunch/1-fun-0' in native mode (the JIT writes them quoted, with their
%% arity), sample mode and trace mode.
generated_names_agree_across_modes(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "map"]),
    _ = erpc:call(Node, bf_nativework, start_lc, []),
    {ok, Native, _} = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 1000}]]),
    {ok, Sampled} = erpc:call(Node, ?MODULE, on_peer, [sample, [#{duration => 1000}]]),
    {ok, Traced} = erpc:call(Node, ?MODULE, on_peer, [trace, [{bf_nativework, crunch, [10]}]]),
    Names = fun(Folded) ->
                    lists:usort([N || {match, [N]} <- [re:run(L, "(bf_nativework:crunch/1-[^; ]*)",
                                                              [{capture, all_but_first, binary}])
                                                       || L <- binary:split(Folded, <<"\n">>, [global])]])
            end,
    ct:log("native ~p~nsample ~p~ntrace ~p", [Names(Native), Names(Sampled), Names(Traced)]),
    %% the compiler numbers the comprehension ($^N): whatever it is, all modes agree
    [Lc] = [N || N <- Names(Traced), re:run(N, "-lc\\$\\^[0-9]+/1-0$") =/= nomatch],
    [?assert(lists:member(Lc, Names(F)), {Mode, Lc, Names(F)})
     || {Mode, F} <- [{native, Native}, {sample, Sampled}]],
    ?assert(lists:member(<<"bf_nativework:crunch/1-fun-0">>, Names(Traced))),
    %% nothing quoted, no arity after a generated name, in any mode
    [?assertEqual(nomatch, re:run(F, "'|-0/[0-9]")) || F <- [Native, Sampled, Traced]],
    peer:stop(Peer).

killing_the_sampler_leaves_the_node_running(Config) ->
    {Peer, Node} = start(Config, ["+JPperf", "map"]),
    _ = erpc:call(Node, bf_nativework, start_chain, []),
    Counter = erpc:call(Node, bf_nativework, counter, []),
    OsPid = erpc:call(Node, os, getpid, []),
    _ = erpc:call(Node, erlang, spawn, [beamflame, native, [#{duration => 60000}]]),
    Find = fun() -> string:trim(os:cmd("pgrep -f 'beamflame_native --port --pid " ++ OsPid ++ " '")) end,
    bf_test_util:wait_until(fun() -> Find() =/= "" end),
    timer:sleep(300),
    [] = os:cmd("kill -9 " ++ Find()),
    bf_test_util:wait_until(fun() -> Find() =:= "" end),
    %% the schedulers run: the counter keeps counting, calls are answered
    N1 = count(Node, Counter),
    timer:sleep(200),
    ?assert(count(Node, Counter) > N1),
    %% no thread is left stopped (state t) or traced
    Tasks = os:cmd("cat /proc/" ++ OsPid ++ "/task/*/stat | awk '{print $3}' | sort | uniq -c"),
    ct:log("thread states: ~s", [Tasks]),
    ?assertEqual(nomatch, string:find(Tasks, " t\n")),
    TracerPids = os:cmd("grep -h TracerPid /proc/" ++ OsPid ++ "/task/*/status | sort -u"),
    ?assertEqual("TracerPid:\t0", string:trim(TracerPids)),
    peer:stop(Peer).

%% Whether the node's beam.smp exports the function Name (nm is the oracle).
exported(Node, Name) ->
    Beam = erpc:call(Node, os, cmd, ["readlink /proc/" ++ erpc:call(Node, os, getpid, []) ++ "/exe"]),
    string:trim(os:cmd("nm -D --defined-only " ++ string:trim(Beam) ++ " | awk '$3==\"" ++ Name
                       ++ "\"' | wc -l")) =/= "0".

count(Node, Counter) ->
    erpc:call(Node, fun() -> ok end) =:= ok orelse error(node_gone),
    Counter ! {get, self()},
    receive {count, N} -> N after 5000 -> error(counter_silent) end.

bad_options(_Config) ->
    ?assertMatch({error, {bad_option, rate, 0, _}}, beamflame:native(#{rate => 0})),
    ?assertMatch({error, {bad_option, bogus, 1, _}}, beamflame:native(#{bogus => 1})).

%% A thread another tracer holds cannot be seized: the refusal names the holder (here a
%% first native run's sampler, the real port program with real ptrace) instead of a
%% generic "run as root".
a_second_tracer_is_refused_by_name(Config) ->
    {Peer, Node} = start(Config, []),
    Self = self(),
    _ = spawn_link(fun() ->
                           Self ! {first, erpc:call(Node, ?MODULE, on_peer,
                                                    [native, [#{duration => 4000}]])}
                   end),
    timer:sleep(1000),
    Second = erpc:call(Node, ?MODULE, on_peer, [native, [#{duration => 300}]]),
    ct:log("~p", [Second]),
    ?assertMatch({error, {ptrace_not_permitted, _}}, Second),
    {error, {ptrace_not_permitted, Why}} = Second,
    ?assertMatch({_, _}, binary:match(iolist_to_binary(Why), <<"already traced by pid">>)),
    receive {first, First} -> ?assertMatch({ok, _, _}, First) after 15000 -> error(first) end,
    peer:stop(Peer).
