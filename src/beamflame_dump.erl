%% @doc The stacks of a node's processes, now: what `beamflame dump' prints (py-spy's
%% `dump' for the BEAM).
%%
%% Bounded on any node. Every process (or the ones selected) is read cheaply first: its
%% memory or reductions, under the process's lock (no signal), kept as one {Key, Pid}
%% (~5 words: 100,000 processes in ~4 MB); queue lengths, which may need the process to
%% answer, by helpers. They are ranked and only the first `top' (default 100, at most
%% 10,000) are asked for their stacks, by helper processes that answer by a deadline: a
%% process holding a scheduler in a long NIF answers nothing until it returns
%% (erlang/otp#7801), so it is shown without a stack instead of stalling the dump. The
%% command line runs it under a 64 MiB heap cap (beamflame_remote:dump/1); measured on
%% 100,000 processes: 23 MB of heap at the end, more during its collections.
%%
%% Everything returned is plain data (binaries, integers, atoms) for the command line.
-module(beamflame_dump).
-export([dump/1, validate/1, busiest/2]).
-export([helper/2]).

-define(DEADLINE_MS, 2000).   % the stacks of the chosen processes, in all
-define(CHUNK, 16).           % processes asked by one helper
-define(MAX_TOP, 10000).

-type opts() :: #{processes => all | [pid() | atom()], top => pos_integer(),
                  sort => memory | reductions | message_queue_len}.

%% @doc Checks options (beamflame_options:table(dump)): `processes' (`all' or pids and
%% registered names), `top' (how many to show), `sort' (`memory', `reductions' or
%% `message_queue_len').
-spec validate(map()) -> {ok, opts()} | {error, {bad_option, atom(), term(), binary()}}.
validate(Opts) ->
    beamflame_options:validate(dump, Opts).

%% @doc `{ok, Total, Shown}': how many processes were considered, and the first `top' of
%% them by `sort', each `{Pid, Name, InitialCall, Status, QueueLen, Memory, Reductions,
%% CurrentFunction, Stack}' (texts as binaries; Stack a list of frame texts, innermost
%% first; `no_answer' when the process did not answer in time).
-spec dump(opts()) -> {ok, non_neg_integer(), [tuple()]}.
dump(#{processes := Which, top := Top, sort := Sort}) ->
    Self = self(),
    Pids = case Which of
               all -> [P || P <- erlang:processes(), P =/= Self];
               L -> lists:usort([P || P <- [resolve(X) || X <- L], is_pid(P)])
           end,
    %% one small {Key, Pid} per process (~5 words: 100k processes in ~4 MB); queue lengths
    %% are read by helpers (they may need the process itself to answer)
    Keyed = case Sort of
                message_queue_len ->
                    Q = read_all(Pids, [message_queue_len]),
                    [{N, P} || {P, [{message_queue_len, N}]} <- maps:to_list(Q)];
                _ ->
                    [{K, P} || P <- Pids, {_, K} <- [erlang:process_info(P, Sort)]]
            end,
    Chosen = lists:sublist(lists:reverse(lists:sort(Keyed)), Top),
    Cheap = [{P, I} || {_, P} <- Chosen,
                       I <- [erlang:process_info(P, [status, reductions, memory,
                                                     registered_name])],
                       I =/= undefined],
    Read = read_all([P || {P, _} <- Cheap],
                    [message_queue_len, current_stacktrace, initial_call, dictionary]),
    Rows = [row(P, I, maps:get(P, Read, no_answer)) || {P, I} <- Cheap],
    {ok, length(Keyed), Rows}.

%% @doc The N processes that ran most since `Prev' (a map pid => reductions from the last
%% call; empty the first time: then since they started), as dump's rows with the
%% reductions since then and no stack; and the map for the next call. For a live view:
%% one cheap read of every process, the rest for N of them, by helpers (300 ms deadline).
-spec busiest(#{pid() => non_neg_integer()}, pos_integer()) ->
          {[tuple()], #{pid() => non_neg_integer()}}.
busiest(Prev, N) ->
    Self = self(),
    Now = maps:from_list([{P, R} || P <- erlang:processes(), P =/= Self,
                                    {reductions, R} <- [erlang:process_info(P, reductions)]]),
    %% the first call has no baseline: ranked by their reductions so far, told as -1
    First = map_size(Prev) =:= 0,
    Delta = [{P, R - maps:get(P, Prev, 0)} || {P, R} <- maps:to_list(Now)],
    Top = lists:sublist(lists:reverse(lists:keysort(2, Delta)), N),
    Read = read_all([P || {P, _} <- Top],
                    [status, memory, registered_name, message_queue_len, current_stacktrace,
                     initial_call, dictionary], 300),
    Rows = [begin
                Info = maps:get(P, Read, no_answer),
                Cheap = case Info of
                            no_answer -> [{status, unknown}, {memory, 0}, {registered_name, []}];
                            _ -> Info
                        end,
                {Pid, Name, Init, Status, QLen, Mem, _, Current, _} = row(P, Cheap, Info),
                {Pid, Name, Init, Status, QLen, Mem, case First of true -> -1; false -> D end,
                 Current, []}
            end || {P, D} <- Top],
    {Rows, Now}.

resolve(P) when is_pid(P) -> P;
resolve(Name) -> whereis(Name).

%% Items of the chosen processes, by helpers with one deadline: #{Pid => Info}.
read_all(Pids, Items) ->
    read_all(Pids, Items, ?DEADLINE_MS).

read_all(Pids, Items, Ms) ->
    Self = self(),
    Ref = make_ref(),
    Helpers = [spawn(?MODULE, helper, [Self, {Ref, Chunk, Items}])
               || Chunk <- beamflame_sampler:chunks(Pids, ?CHUNK)],
    Deadline = erlang:monotonic_time(millisecond) + Ms,
    Read = gather(Ref, length(Pids), Deadline, #{}),
    [exit(H, kill) || H <- Helpers],
    Read.

%% Answers come one per process (a dead one answers `undefined').
gather(_Ref, 0, _Deadline, Acc) ->
    Acc;
gather(Ref, N, Deadline, Acc) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Ref, _P, undefined} -> gather(Ref, N - 1, Deadline, Acc);
        {Ref, P, Info} -> gather(Ref, N - 1, Deadline, Acc#{P => Info})
    after Left ->
        Acc
    end.

%% @private Reads one chunk, answering process by process: one that answers nothing (in a
%% long NIF) holds back only the rest of its chunk.
-spec helper(pid(), {reference(), [pid()], [atom()]}) -> ok.
helper(Parent, {Ref, Pids, Items}) ->
    lists:foreach(fun(P) -> Parent ! {Ref, P, erlang:process_info(P, Items)} end, Pids),
    ok.


row(P, Cheap, Read) ->
    Name = case proplists:get_value(registered_name, Cheap) of
               [] -> <<>>;
               R -> atom_to_binary(R, utf8)
           end,
    {QLen, Init, Current, Stack} =
        case Read of
            no_answer ->
                {-1, <<>>, <<>>, no_answer};
            Info ->
                St = proplists:get_value(current_stacktrace, Info, []),
                {proplists:get_value(message_queue_len, Info, 0),
                 initial_call(Info), case St of [F | _] -> mfa(F); [] -> <<>> end,
                 [frame(F) || F <- St]}
        end,
    {list_to_binary(pid_to_list(P)), Name, Init, proplists:get_value(status, Cheap),
     QLen, proplists:get_value(memory, Cheap, 0), proplists:get_value(reductions, Cheap, 0),
     Current, Stack}.

initial_call(Info) ->
    Call = case proplists:get_value(initial_call, Info) of
               {proc_lib, init_p, 5} ->
                   case lists:keyfind('$initial_call', 1, proplists:get_value(dictionary, Info, [])) of
                       {_, MFA} -> MFA;
                       false -> {proc_lib, init_p, 5}
                   end;
               MFA -> MFA
           end,
    case Call of
        {erlang, apply, 2} -> <<>>;   % spawned from a fun: its stack says more
        {M, F, A} -> mfa({M, F, A, []});
        _ -> <<>>
    end.

mfa({M, F, A, _}) ->
    Arity = case A of
                N when is_integer(N) -> N;
                Args when is_list(Args) -> length(Args)
            end,
    unicode:characters_to_binary(io_lib:format("~ts:~ts/~b", [module_name(M), F, Arity])).

frame({_, _, _, Loc} = F) ->
    case {proplists:get_value(file, Loc), proplists:get_value(line, Loc)} of
        {File, Line} when is_list(File), is_integer(Line) ->
            unicode:characters_to_binary([mfa(F), io_lib:format(" (~ts:~b)", [File, Line])]);
        _ ->
            mfa(F)
    end.

%% Elixir modules read as Elixir writes them.
module_name(M) ->
    case atom_to_binary(M, utf8) of
        <<"Elixir.", Rest/binary>> -> Rest;
        Bin -> Bin
    end.
