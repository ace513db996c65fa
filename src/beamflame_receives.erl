%% @doc Where a module's code receives: the locations (function, arity, line) that a
%% process's stack trace shows while it waits in a `receive', read from the module's BEAM
%% file.
%%
%% Why: a running process asked for its stack answers at its next receive when its work is
%% short, so cpu sampling must know a receive point when it sees one (see
%% beamflame_sampler). Processes seen waiting teach most of them; a server that is never
%% idle never shows its own, and it is found here instead.
%%
%% How: the BEAM file's `Code' chunk is walked instruction by instruction (each opcode's
%% operand count from ?ARITIES, operands in the compact term format), keeping the function
%% (from `func_info') and the location of the last `line' instruction (its index into the
%% `Line' chunk). A waiting process's stack trace shows the location of its `loop_rec'
%% instruction (a `wait' jumps back to it; a receive without clauses waits at its
%% `wait_timeout'), which is the location of the last `line' before it in the code:
%% not always the `receive' keyword's line (gen_server:loop/7 on OTP 25: line 871 for a
%% `receive' at 880). Anything unexpected (an opcode past the table, a file that is not the
%% loaded code) gives no points, never a crash.
-module(beamflame_receives).
-export([points/1, points_of_binary/1]).

%% The operand count of each generic BEAM opcode, 1 to 191 (OTP 29's set; numbers and
%% counts never change between releases, new opcodes are added at the end).
-define(ARITIES,
        {1,3,0,2,3,2,2,3,2,4,5,2,3,2,3,2,1,1,0,0,0,0,2,1,1,2,4,4,4,4,4,4,4,4,4,4,4,3,3,3,3,3,
         3,3,2,2,2,2,2,2,2,2,2,2,2,2,2,3,3,3,1,2,1,2,3,3,3,3,3,2,1,1,0,1,1,3,2,2,2,5,5,5,4,2,1,
         1,2,2,5,5,5,2,1,0,1,2,2,4,4,4,4,3,1,2,1,1,1,2,6,3,5,1,2,2,3,5,7,7,7,5,3,2,2,5,6,2,2,2,
         2,1,3,4,0,8,6,2,6,5,4,5,4,5,4,3,3,3,3,3,0,1,1,7,1,5,5,2,3,3,4,0,0,2,2,2,3,4,3,2,2,4,3,
         1,2,1,1,1,6,3,0,1,5,3,2,4,6,2,4,3,6,3,5}).
-define(OP_FUNC_INFO, 2).
-define(OP_INT_CODE_END, 3).
-define(OP_LABEL, 1).
-define(OP_LOOP_REC, 23).
-define(OP_WAIT_TIMEOUT, 26).
-define(OP_LINE, 153).
-define(MAX_FILE, 16 * 1024 * 1024).

-type point() :: {atom(), arity(), pos_integer()}.
-export_type([point/0]).

%% @doc The receive points of a loaded module, from its object code on disk (the file it
%% was loaded from, else the one on the code path); `[]' when the file is missing, is not
%% the code that is loaded, or cannot be read.
-spec points(module()) -> [point()].
points(Module) when is_atom(Module) ->
    try
        Bin = object_code(Module),
        true = byte_size(Bin) =< ?MAX_FILE,
        {ok, {Module, MD5}} = beam_lib:md5(Bin),
        MD5 = Module:module_info(md5),
        points_of_binary(Bin)
    catch
        _:_ -> []
    end.

object_code(Module) ->
    case code:which(Module) of
        Path when is_list(Path) ->
            case file:read_file(Path) of
                {ok, Bin} -> Bin;
                {error, _} -> element(2, code:get_object_code(Module))
            end;
        _ ->
            {Module, Bin, _} = code:get_object_code(Module),
            Bin
    end.

%% @doc The receive points in a BEAM binary (`[]' if it cannot be read).
-spec points_of_binary(binary()) -> [point()].
points_of_binary(Bin) ->
    try
        {ok, {_, [{"Code", Code}, {"Line", Line}, {atoms, Atoms}]}} =
            beam_lib:chunks(Bin, ["Code", "Line", atoms]),
        <<Size:32, Rest/binary>> = Code,
        <<_Header:Size/binary, Instrs/binary>> = Rest,
        walk(Instrs, {none, none}, undefined, lines(Line), maps:from_list(Atoms), #{})
    catch
        _:_ -> []
    end.

%% Fun is {{Function, Arity} | none, the last label}.
walk(<<Op, Rest/binary>>, Fun, Loc, Lines, Atoms, Acc) when Op >= 1, Op =< tuple_size(?ARITIES) ->
    {Args, Rest1} = operands(element(Op, ?ARITIES), Rest, []),
    {FA, Label} = Fun,
    case {Op, Args} of
        {?OP_INT_CODE_END, _} ->
            lists:sort(maps:keys(Acc));
        {?OP_LABEL, [{u, N}]} ->
            walk(Rest1, {FA, N}, Loc, Lines, Atoms, Acc);
        {?OP_FUNC_INFO, [_, {a, F}, {u, A}]} ->
            walk(Rest1, {{maps:get(F, Atoms), A}, Label}, Loc, Lines, Atoms, Acc);
        {?OP_LINE, [{u, I}]} ->
            walk(Rest1, Fun, maps:get(I, Lines, undefined), Lines, Atoms, Acc);
        {?OP_LOOP_REC, _} when FA =/= none, is_integer(Loc) ->
            walk(Rest1, Fun, Loc, Lines, Atoms, point(FA, Loc, Acc));
        {?OP_WAIT_TIMEOUT, [{f, Label}, _]} when FA =/= none, is_integer(Loc) ->
            %% a receive with no clauses (`receive after T'): it waits on its own label
            walk(Rest1, Fun, Loc, Lines, Atoms, point(FA, Loc, Acc));
        _ ->
            walk(Rest1, Fun, Loc, Lines, Atoms, Acc)
    end;
walk(<<>>, _, _, _, _, Acc) ->
    lists:sort(maps:keys(Acc));
walk(_, _, _, _, _, _) ->
    error(unknown_opcode).

point({F, A}, Line, Acc) ->
    Acc#{{F, A, Line} => true}.

operands(0, R, Acc) ->
    {lists:reverse(Acc), R};
operands(N, R, Acc) ->
    {T, R1} = term(R),
    operands(N - 1, R1, [T | Acc]).

%% One operand in the compact term format: the tag in the low 3 bits; tag 7 is an
%% extended one (list, float register, allocation list, literal, typed register).
term(<<B, R/binary>>) when B band 7 =:= 7 ->
    case B bsr 4 of
        1 -> {{u, N}, R1} = term(R), {L, R2} = operands(N, R1, []), {{list, L}, R2};
        2 -> {V, R1} = term(R), {{fr, V}, R1};
        3 -> {{u, N}, R1} = term(R), {L, R2} = operands(2 * N, R1, []), {{alloc, L}, R2};
        4 -> {V, R1} = term(R), {{literal, V}, R1};
        5 -> {V, R1} = term(R), {T, R2} = term(R1), {{typed, V, T}, R2}
    end;
term(<<B, R/binary>>) ->
    {V, R1} = value(B, R),
    {{element((B band 7) + 1, {u, i, a, x, y, f, h}), V}, R1}.

value(B, R) when B band 8 =:= 0 ->
    {B bsr 4, R};
value(B, <<N, R/binary>>) when B band 16 =:= 0 ->
    {((B band 2#11100000) bsl 3) bor N, R};
value(B, R) ->
    {Len, R1} = case B bsr 5 of
                    7 -> {{u, L}, Rx} = term(R), {L + 9, Rx};
                    L -> {L + 2, R}
                end,
    <<V:Len/signed-unit:8, R2/binary>> = R1,
    {V, R2}.

%% The `Line' chunk's items: line numbers (tag i) numbered from 1, file changes (tag a)
%% in between; index 0 is "no location".
lines(<<_Version:32, _Flags:32, _Instrs:32, _Items:32, _Names:32, Items/binary>>) ->
    items(Items, 1, #{}).

items(<<>>, _, Acc) ->
    Acc;
items(R, I, Acc) ->
    case term(R) of
        {{i, L}, R1} -> items(R1, I + 1, Acc#{I => L});
        {{a, _}, R1} -> items(R1, I, Acc);
        _ -> Acc
    end.
