%% Benchmark: time from asking to record on a node to the recording having started, on a
%% node that never loaded beamflame (connect + checks + code and NIF push + start) and on
%% one that has it (connect + checks only). Both in the same run, on fresh peers.
%% Output: attach_time: fresh_ms=... attached_ms=... first_sample_ms=... runs=...
%%
%% Then the command line (`beamflame record`, an ei C node): from command start to
%% recording started, as it reports it, on a fresh node and on one that has beamflame;
%% baseline in the same run: starting `erl -hidden' just to connect to the node and halt
%% (what reaching a node from a shell costs without beamflame).
%% Output: record_start: runs=... cli_fresh_ms=... cli_attached_ms=... erl_connect_ms=...
-module(attach_time).
-export([main/0]).

-define(RUNS, 5).

main() ->
    _ = os:cmd("epmd -daemon"),
    {ok, _} = net_kernel:start([list_to_atom("bf_bench_" ++ os:getpid()), shortnames]),
    erlang:set_cookie(bfbench),
    Rows = [one() || _ <- lists:seq(1, ?RUNS)],
    Med = fun(I) -> lists:nth((?RUNS + 1) div 2, lists:sort([element(I, R) || R <- Rows])) end,
    io:format("attach_time: runs=~b fresh_ms=~.1f attached_ms=~.1f first_sample_ms=~.1f "
              "(medians; first_sample = attach on a fresh node + a 1 ms remote sample)~n",
              [?RUNS, Med(1), Med(2), Med(3)]),
    Cli = [cli() || _ <- lists:seq(1, ?RUNS)],
    CMed = fun(I) -> lists:nth((?RUNS + 1) div 2, lists:sort([element(I, R) || R <- Cli])) end,
    io:format("record_start: runs=~b cli_fresh_ms=~.1f cli_attached_ms=~.1f erl_connect_ms=~.1f "
              "fresh_vs_erl=~.3f attached_vs_erl=~.3f (medians)~n",
              [?RUNS, CMed(1), CMed(2), CMed(3), CMed(1) / CMed(3), CMed(2) / CMed(3)]),
    halt(0).

cli() ->
    {ok, P, N} = peer:start_link(#{name => peer:random_name(bf_c), args => ["-setcookie", "bfbench", "-hidden"]}),
    Fresh = started_ms(N),
    Attached = started_ms(N),
    Erl = os:find_executable("erl"),
    T0 = erlang:monotonic_time(microsecond),
    {0, _} = run(Erl, ["-sname", "bf_conn_" ++ os:getpid(), "-hidden", "-setcookie", "bfbench",
                       "-noshell", "-eval",
                       "true = net_kernel:hidden_connect_node('" ++ atom_to_list(N) ++ "'), halt()."]),
    Connect = (erlang:monotonic_time(microsecond) - T0) / 1000,
    peer:stop(P),
    {Fresh, Attached, Connect}.

%% "recording started after X ms", as the command line measures it from its own start.
started_ms(Node) ->
    Exe = filename:join(code:priv_dir(beamflame), "beamflame"),
    {_, Out} = run(Exe, ["record", atom_to_list(Node), "--duration", "0.01", "--quiet",
                         "-o", "/dev/null", "--format", "folded"]),
    {match, [Ms]} = re:run(Out, "recording started after ([0-9.]+) ms",
                           [{capture, all_but_first, list}]),
    list_to_float(Ms).

run(Exe, Args) ->
    Port = open_port({spawn_executable, Exe},
                     [{args, Args}, {env, [{"BEAMFLAME_COOKIE", "bfbench"}]}, binary,
                      exit_status, stderr_to_stdout]),
    collect(Port, []).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, [D | Acc]);
        {Port, {exit_status, S}} -> {S, iolist_to_binary(lists:reverse(Acc))}
    after 60000 -> error(timeout)
    end.

one() ->
    {ok, P1, N1} = peer:start_link(#{name => peer:random_name(bf_b), args => ["-setcookie", "bfbench", "-hidden"]}),
    {ok, P2, N2} = peer:start_link(#{name => peer:random_name(bf_b), args => ["-setcookie", "bfbench", "-hidden"]}),
    true = net_kernel:hidden_connect_node(N1),
    true = net_kernel:hidden_connect_node(N2),
    {Fresh, ok} = timer:tc(fun() -> beamflame:attach(N1) end),
    {Again, ok} = timer:tc(fun() -> beamflame:attach(N1) end),
    {First, {ok, _}} = timer:tc(fun() -> beamflame:sample(N2, #{duration => 1}) end),
    peer:stop(P1),
    peer:stop(P2),
    {Fresh / 1000, Again / 1000, First / 1000}.
