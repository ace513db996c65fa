%% @doc Native mode: stacks of this node's scheduler threads, C frames and JIT-compiled
%% Erlang frames together, sampled by a separate port program (`priv/beamflame_native')
%% with ptrace: it stops each scheduler thread for a few microseconds per sample, copies
%% its registers and the top of its stack, lets it go, and unwinds the copy.
%%
%% The port program is owned by the calling process: it ends at the duration, when the
%% port closes (the caller died: stdin EOF), or on a signal, detaching every thread; if
%% it is killed outright the kernel detaches them. A node started with `+JPperf map' (or
%% `true') gives full stacks; without it, C frames only, and the profile says so
%% (`capability' in {@link beamflame:info/1}).
-module(beamflame_native).
-export([validate/1, run/1, start_link/3]).
-export([init/4]).

-type opts() :: #{duration => pos_integer(), rate => pos_integer(), dirty => boolean(),
                  idle => boolean()}.
-export_type([opts/0]).

-define(MARGIN_MS, 10000).

%% @doc Options with their defaults (beamflame_options:table(native)).
-spec validate(term()) -> {ok, opts()} | {error, term()}.
validate(Opts) ->
    beamflame_options:validate(native, Opts).

%% @doc Samples this node; returns a profile whose stacks start with the thread name.
-spec run(opts()) -> {ok, beamflame_nif:profile()} | {error, term()}.
run(Opts) ->
    Ref = make_ref(),
    {Pid, Mon} = spawn_monitor(?MODULE, init, [none, Opts, self(), Ref]),
    receive
        {Ref, Result} ->
            erlang:demonitor(Mon, [flush]),
            Result;
        {'DOWN', Mon, process, Pid, Reason} ->
            {error, {native_run_failed, Reason}}
    end.

%% @doc A run for a session ({@link beamflame_remote}): answers `{Ref, Result}' to
%% `Caller' when done; `finish' ends it early (what was sampled is kept); `{progress,
%% From, Tag}' is answered with the elapsed time and the ticks so far. It stops the port
%% program when the caller dies.
-spec start_link(opts(), pid(), reference()) -> {ok, pid()}.
start_link(Opts, Caller, Ref) ->
    proc_lib:start_link(?MODULE, init, [self(), Opts, Caller, Ref]).

%% The port is owned by this process: if it dies the port closes, and the port program
%% (stdin EOF) detaches and exits.
-spec init(pid() | none, opts(), pid(), reference()) -> ok.
init(Parent, Opts, Caller, Ref) ->
    Parent =:= none orelse proc_lib:init_ack(Parent, {ok, self()}),
    CMon = erlang:monitor(process, Caller),
    Result = case executable() of
                 {ok, Exe, Cleanup} ->
                     try sample(Exe, Opts, CMon) after Cleanup() end;
                 {error, _} = E ->
                     E
             end,
    Caller ! {Ref, Result},
    ok.

%% The port program: in priv/, else (beamflame was pushed here by attach) the copy
%% attach left in memory, written to a fresh private directory for this run.
executable() ->
    Exe = filename:join(priv_dir(), "beamflame_native"),
    case {filelib:is_regular(Exe), persistent_term:get({beamflame_native, exe}, none)} of
        {true, _} ->
            {ok, Exe, fun() -> ok end};
        {false, none} ->
            {error, {no_port_program, Exe, "rebuild beamflame (make build)"}};
        {false, Bin} ->
            case beamflame_attach:private_file("beamflame-native-", "beamflame_native", Bin,
                                               8#700) of
                {ok, _Path, _Cleanup} = Ok ->
                    Ok;
                {error, Dir, R} ->
                    {error, {cannot_write_port_program, Dir, R,
                             "set TMPDIR to a writable directory that allows executables"}}
            end
    end.

sample(Exe, Opts = #{duration := D, rate := R}, CMon) ->
    Args = ["--port", "--pid", os:getpid(), "--rate", integer_to_list(R),
            "--duration", integer_to_list(D)]
        ++ ["--dirty" || maps:get(dirty, Opts)] ++ ["--no-idle" || not maps:get(idle, Opts)],
    try open_port({spawn_executable, Exe}, [{args, Args}, {packet, 4}, binary, exit_status,
                                            use_stdio]) of
        Port ->
            {os_pid, OsPid} = erlang:port_info(Port, os_pid),
            _ = beamflame_nif:allow_ptracer(OsPid),
            true = port_command(Port, <<"go">>),
            collect(Port, #{mon => CMon, rate => R, started => now_ms(),
                            deadline => now_ms() + D + ?MARGIN_MS})
    catch
        error:Reason -> {error, {cannot_start, Exe, Reason}}
    end.

collect(Port, S = #{mon := CMon, deadline := Deadline}) ->
    receive
        {Port, {data, Bin}} ->
            wait_exit(Port),
            case binary_to_term(Bin) of  % our own program: its atoms are ours
                {ok, Folded, Info} ->
                    Elapsed = now_ms() - maps:get(started, S),
                    profile(Folded, Info#{duration_ms => Elapsed, rate => maps:get(rate, S),
                                          started_at => erlang:system_time(millisecond)
                                                        - Elapsed});
                {error, ptrace, Why} -> {error, {ptrace_not_permitted, Why}};
                {error, Kind, Why} -> {error, {Kind, Why}}
            end;
        {Port, {exit_status, St}} ->
            {error, {port_program_exited, St}};
        finish ->
            %% any packet tells the program to stop sampling and answer with what it has
            close_quietly(fun() -> port_command(Port, <<"stop">>) end),
            collect(Port, S);
        {progress, From, Tag} ->
            E = now_ms() - maps:get(started, S),
            From ! {Tag, #{elapsed_ms => E, samples => E * maps:get(rate, S) div 1000}},
            collect(Port, S);
        {'DOWN', CMon, process, _, _} ->
            close_quietly(Port),
            exit(normal)
    after max(0, Deadline - now_ms()) ->
        close_quietly(Port),
        {error, {timeout, "the native sampler did not finish in time; it was stopped"}}
    end.

now_ms() ->
    erlang:monotonic_time(millisecond).

wait_exit(Port) ->
    receive {Port, {exit_status, _}} -> ok after 5000 -> close_quietly(Port) end.

%% A port that is already gone is not an error here (OTP 29 deprecates `catch Expr').
close_quietly(Port) when is_port(Port) ->
    close_quietly(fun() -> port_close(Port) end);
close_quietly(F) ->
    try F() of _ -> ok catch error:_ -> ok end.

profile(Folded, Info) ->
    case beamflame:read_folded(Folded) of
        {ok, P, _} ->
            Meta = (maps:remove(samples, Info))#{mode => native, node => node(),
                                                 roots => thread,
                                                 thread_samples => maps:get(samples, Info, 0)},
            ok = beamflame_nif:set_meta(P, maps:merge(Meta, hint(Meta))),
            {ok, P};
        {error, _} = E ->
            E
    end.

%% A reduced capability (no perf map or no frame pointers) is said where the graph is
%% shown: the command line prints it, SVGs carry it as their subtitle.
hint(#{capability := <<"reduced", _/binary>> = Capability}) ->
    #{hint => <<"native mode ", Capability/binary>>};
hint(_) ->
    #{}.

priv_dir() ->
    case code:priv_dir(beamflame) of
        {error, bad_name} ->
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        Dir ->
            Dir
    end.
