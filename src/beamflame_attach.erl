%% @doc Loading beamflame into a running node that lacks it, and removing it again.
%%
%% {@link attach/1} connects hidden (a hidden connection never joins the target's
%% cluster), checks that this build can run there (OTP release, NIF version, architecture,
%% word size: each mismatch is its own error), and pushes the object code of every
%% beamflame module and the NIF library: the library is written to a private (0700)
%% temporary directory on the target, loaded, and deleted. Only modules the target
%% already has are called remotely (erlang, code, file, application, persistent_term).
%% A node that already runs the same beamflame version is left alone; a different
%% version is refused, never replaced under a running session. {@link detach/1} removes
%% what attach pushed (and only that).
-module(beamflame_attach).
-export([attach/1, load/1, detach/1, facts/0, install/3, install/4, private_file/4]).

-define(CALL_TIMEOUT, 15000).
-define(PUSHED, {beamflame_attach, pushed}).  % marker on the target: we loaded it

%% @doc What a node must match to run this build.
-spec facts() -> #{atom() => term()}.
facts() ->
    #{otp_release => erlang:system_info(otp_release),
      nif_version => erlang:system_info(nif_version),
      system_architecture => erlang:system_info(system_architecture),
      wordsize => erlang:system_info({wordsize, external})}.

%% @doc Loads beamflame into `Node' and starts its application there.
-spec attach(node()) -> ok | {error, term()}.
attach(Node) when is_atom(Node) ->
    attach(Node, true).

%% @doc Loads beamflame into `Node' without starting its application: the remote entry
%% points (beamflame:sample/2 and the like) start it for their run and stop it after, so
%% an implicit attach leaves no process behind.
-spec load(node()) -> ok | {error, term()}.
load(Node) when is_atom(Node) ->
    attach(Node, false).

attach(Node, Start) ->
    case connect(Node) of
        ok ->
            case compatible(Node) of
                {ok, How} -> ensure_loaded(Node, How, Start);
                {error, _} = E -> E
            end;
        {error, _} = E ->
            E
    end.

-spec detach(node()) -> ok | {error, term()}.
detach(Node) when is_atom(Node) ->
    case connect(Node) of
        ok ->
            case rpc(Node, persistent_term, get, [?PUSHED, false]) of
                true -> unload(Node);
                false -> {error, {not_attached, Node, "beamflame was not loaded there by attach/1"}};
                {badrpc, R} -> {error, {badrpc, Node, R}}
            end;
        {error, _} = E ->
            E
    end.

connect(Node) when Node =:= node() ->
    ok;
connect(Node) ->
    case node() of
        nonode@nohost ->
            {error, {not_distributed, "this node is not distributed: start it with -sname or "
                                      "-name (or net_kernel:start/2)"}};
        _ ->
            case net_kernel:hidden_connect_node(Node) of
                true -> ok;
                _ -> {error, {unreachable, Node,
                              "cannot connect: check the node name, that epmd runs on its host, "
                              "and the cookie (erlang:set_cookie(Node, Cookie))"}}
            end
    end.

%% Another release is fine where it can be done safely (the same rules as the command
%% line's c_src/cli/bf_compat.h): a newer node takes code and a NIF built here as they are
%% (OTP loads code two releases ahead, and the NIF loader takes an older minor version);
%% an older node with our NIF API gets beamflame compiled there from its abstract code when
%% it has the compiler application; anything else is refused naming the fix.
compatible(Node) ->
    Mine = facts(),
    case theirs(Node, maps:keys(Mine)) of
        {ok, Theirs} -> compatible(Mine, Theirs, Node);
        {error, _} = E -> E
    end.

theirs(Node, Keys) ->
    lists:foldl(fun(_, {error, _} = E) -> E;
                   (Key, {ok, Acc}) ->
                        Item = case Key of wordsize -> {wordsize, external}; _ -> Key end,
                        case rpc(Node, erlang, system_info, [Item]) of
                            {badrpc, R} -> {error, {badrpc, Node, R}};
                            V -> {ok, Acc#{Key => V}}
                        end
                end, {ok, #{}}, Keys).

compatible(Mine, Theirs, Node) ->
    Same = fun(K) -> maps:get(K, Mine) =:= maps:get(K, Theirs) end,
    Rel = fun(M) -> list_to_integer(maps:get(otp_release, M)) end,
    case {Same(system_architecture), Same(wordsize), nif_ok(Mine, Theirs)} of
        {false, _, _} -> mismatch(system_architecture, Mine, Theirs);
        {_, false, _} -> mismatch(wordsize, Mine, Theirs);
        {_, _, false} -> mismatch(nif_version, Mine, Theirs);
        _ ->
            %% BEAMFLAME_COMPILE_ON_NODE=1 takes the compile path on any release (tests)
            case Rel(Theirs) < Rel(Mine) orelse os:getenv("BEAMFLAME_COMPILE_ON_NODE") =:= "1" of
                false -> {ok, as_built};
                true ->
                    case rpc(Node, code, which, [compile]) of
                        Path when is_list(Path) -> {ok, compile};
                        _ -> mismatch(otp_release, Mine, Theirs)
                    end
            end
    end.

%% The node's NIF API must be ours or a later minor version of it.
nif_ok(#{nif_version := Mine}, #{nif_version := Theirs}) ->
    case {parse_nif(Mine), parse_nif(Theirs)} of
        {{Major, M1}, {Major, M2}} -> M2 >= M1;
        _ -> false
    end.

parse_nif(V) ->
    try [list_to_integer(X) || X <- string:split(V, ".")] of
        [Major, Minor] -> {Major, Minor};
        _ -> bad
    catch
        error:badarg -> bad
    end.

mismatch(Key, Mine, Theirs) ->
    {error, {mismatch, Key, maps:get(Key, Mine), maps:get(Key, Theirs), hint(Key, Mine, Theirs)}}.

hint(otp_release, _, #{otp_release := R}) ->
    "the node needs beamflame compiled there (code compiled on a newer OTP release does not "
    "load on an older one) and has no compiler application: build beamflame with OTP " ++ R ++
    ", or add the compiler application to the node's release";
hint(nif_version, _, #{otp_release := R}) ->
    "the node's VM refuses a NIF library built for a newer NIF API: use a beamflame built "
    "with OTP " ++ R ++ " or older";
hint(system_architecture, _, _) ->
    "the target runs on another architecture: build beamflame there";
hint(wordsize, _, _) ->
    "the target's word size differs: build beamflame for it".

ensure_loaded(Node, How, Start) ->
    {ok, Vsn} = local_vsn(),
    case rpc(Node, application, get_key, [beamflame, vsn]) of
        {ok, Vsn} ->
            start(Node, Start);
        {ok, Other} ->
            {error, {version_mismatch, Vsn, Other,
                     "the node runs another beamflame version; it is not replaced under a "
                     "running session (detach it first if attach/1 loaded it)"}};
        undefined ->
            case rpc(Node, code, is_loaded, [beamflame]) of
                false -> push(Node, How, Start);
                {file, _} -> start(Node, Start);
                {badrpc, R} -> {error, {badrpc, Node, R}}
            end;
        {badrpc, R} ->
            {error, {badrpc, Node, R}}
    end.

local_vsn() ->
    _ = application:load(beamflame),
    application:get_key(beamflame, vsn).

start(Node, true) ->
    case rpc(Node, application, ensure_all_started, [beamflame]) of
        {ok, _} -> ok;
        Other -> {error, {cannot_start, Node, Other}}
    end;
start(Node, false) ->
    case rpc(Node, application, load, [beamflame]) of
        ok -> ok;
        {error, {already_loaded, beamflame}} -> ok;
        Other -> {error, {cannot_load, Node, Other}}
    end.

%% Pushes this module alone, then has it install the rest on the target (the same path the
%% command line takes): one remote call carries the code, the library and the app file.
push(Node, How, Start) ->
    case beams(Node, How) of
        {ok, Beams} ->
            case push(Node, Beams, proplists:get_value(?MODULE, Beams), Start) of
                {error, {cannot_load, _, {error, badfile}}} when How =:= as_built ->
                    %% a newer node refused code of this release (OTP 29 refuses some of
                    %% OTP 25's binary matching): compile it there, if it can
                    case rpc(Node, code, which, [compile]) of
                        Path when is_list(Path) -> push(Node, compile, Start);
                        _ -> push(Node, Beams, proplists:get_value(?MODULE, Beams), Start)
                    end;
                Result ->
                    Result
            end;
        {error, _} = E ->
            E
    end.

%% Object code as built here, or compiled on the (older) node from its abstract code.
beams(Node, How) ->
    {ok, Mods} = application:get_key(beamflame, modules),
    lists:foldl(fun(_, {error, _} = E) -> E;
                   (M, {ok, Acc}) ->
                        {M, Bin, _} = code:get_object_code(M),
                        case beam_for(Node, How, M, Bin) of
                            {ok, B} -> {ok, [{M, B} | Acc]};
                            {error, _} = E -> E
                        end
                end, {ok, []}, Mods).

beam_for(_Node, as_built, _M, Bin) ->
    {ok, Bin};
beam_for(Node, compile, M, Bin) ->
    {ok, {M, [{debug_info, {debug_info_v1, Backend, Meta}}]}} = beam_lib:chunks(Bin, [debug_info]),
    {ok, Forms} = Backend:debug_info(erlang_v1, M, Meta, []),
    case rpc(Node, compile, forms, [Forms, [binary, return_errors, report_errors]]) of
        {ok, M, Compiled} -> {ok, Compiled};
        {ok, M, Compiled, _Warnings} -> {ok, Compiled};
        Other -> {error, {cannot_compile_on_node, Node, M, Other}}
    end.

push(Node, Beams, Self, Start) ->
    {ok, So} = file:read_file(filename:join(code:priv_dir(beamflame), "beamflame_nif.so")),
    {ok, App} = file:read_file(filename:join(filename:dirname(code:which(beamflame)), "beamflame.app")),
    {ok, Exe} = file:read_file(filename:join(code:priv_dir(beamflame), "beamflame_native")),
    File = "beamflame-pushed/" ++ atom_to_list(?MODULE) ++ ".beam",
    case rpc(Node, code, load_binary, [?MODULE, File, Self]) of
        {module, ?MODULE} ->
            case rpc(Node, ?MODULE, install, [App, Beams, So, Exe]) of
                ok -> start(Node, Start);
                {error, _} = E -> _ = unload(Node), E;
                {badrpc, R} -> _ = unload(Node), {error, {push_failed, Node, R}}
            end;
        Error ->
            {error, {push_failed, Node, Error}}
    end.

%% @doc Runs on the target (pushed there first): writes the NIF library into a fresh
%% private (0700) directory, loads the modules (the stub loads the library from there),
%% deletes the library and its directory, and loads the application from the `.app' file's
%% text. On any failure, what was loaded is removed again.
-spec install(binary(), [{module(), binary()}], binary()) -> ok | {error, term()}.
install(AppFile, Beams, So) ->
    Result =
        case private_file("beamflame-", "beamflame_nif.so", So, 8#600) of
            {ok, SoPath, Cleanup} ->
                try
                    persistent_term:put({beamflame_nif, path}, filename:rootname(SoPath)),
                    lists:foreach(fun load_one/1, [B || {M, _} = B <- Beams, M =/= ?MODULE]),
                    load_app(AppFile)
                catch
                    throw:Reason -> {error, Reason}
                after
                    Cleanup()
                end;
            {error, Dir, R} ->
                {error, {cannot_write_library, Dir, R}}
        end,
    case Result of
        ok ->
            persistent_term:put(?PUSHED, true);
        _ ->
            _ = [begin _ = code:purge(M), _ = code:delete(M) end
                 || {M, _} <- Beams, M =/= ?MODULE],
            _ = persistent_term:erase({beamflame_nif, path}),
            Result
    end.

%% @doc {@link install/3}, and native mode's port program: kept in memory on the target
%% ({@link beamflame_native} writes it to a private directory for each run and deletes it
%% afterwards), so nothing of beamflame stays on the target's disk between runs.
-spec install(binary(), [{module(), binary()}], binary(), binary()) -> ok | {error, term()}.
install(AppFile, Beams, So, NativeExe) ->
    case install(AppFile, Beams, So) of
        ok -> persistent_term:put({beamflame_native, exe}, NativeExe);
        Error -> Error
    end.

%% @doc Writes Bytes as file Name (mode Mode) in a fresh private (0700) directory under
%% TMPDIR (else /tmp) named Prefix, the OS pid and unique numbers. Cleanup deletes both.
-spec private_file(string(), string(), binary(), non_neg_integer()) ->
          {ok, file:filename(), fun(() -> ok)} | {error, file:filename(), term()}.
private_file(Prefix, Name, Bytes, Mode) ->
    Tmp = case os:getenv("TMPDIR") of
              T when is_list(T), T =/= "" -> T;
              _ -> "/tmp"
          end,
    Dir = filename:join(Tmp, Prefix ++ os:getpid() ++ "-"
                             ++ integer_to_list(erlang:unique_integer([positive])) ++ "-"
                             ++ integer_to_list(rand:uniform(1 bsl 30))),
    Path = filename:join(Dir, Name),
    Cleanup = fun() -> _ = file:delete(Path), _ = file:del_dir(Dir), ok end,
    case file:make_dir(Dir) of
        ok ->
            Steps = [fun() -> file:change_mode(Dir, 8#700) end,
                     fun() -> file:write_file(Path, Bytes, [exclusive]) end,
                     fun() -> file:change_mode(Path, Mode) end],
            case lists:foldl(fun(Step, ok) -> Step(); (_, Error) -> Error end, ok, Steps) of
                ok -> {ok, Path, Cleanup};
                {error, R} -> Cleanup(), {error, Dir, R}
            end;
        {error, R} ->
            {error, Dir, R}
    end.

load_one({M, Bin}) ->
    case code:load_binary(M, "beamflame-pushed/" ++ atom_to_list(M) ++ ".beam", Bin) of
        {module, M} -> ok;
        Error -> throw({cannot_load, M, Error})
    end.

%% A Mix build lists `elixir' among the applications: a node without Elixir runs
%% beamflame all the same (no module it starts needs Elixir).
runnable_here({application, Name, Keys}) ->
    Apps = [A || A <- proplists:get_value(applications, Keys, [kernel, stdlib]),
                 A =:= kernel orelse A =:= stdlib orelse code:lib_dir(A) =/= {error, bad_name}],
    {application, Name, lists:keystore(applications, 1, Keys, {applications, Apps})}.

load_app(Text) ->
    Spec = try
               {ok, Toks, _} = erl_scan:string(unicode:characters_to_list(Text)),
               {ok, {application, beamflame, _} = S} = erl_parse:parse_term(Toks),
               S
           catch
               _:_ -> throw({bad_app_file, "the beamflame.app sent is not an application spec"})
           end,
    case application:load(runnable_here(Spec)) of
        ok -> ok;
        {error, {already_loaded, beamflame}} -> ok;
        Error -> throw({cannot_load_application, Error})
    end.

unload(Node) ->
    _ = rpc(Node, application, stop, [beamflame]),
    _ = rpc(Node, application, unload, [beamflame]),
    {ok, Mods} = application:get_key(beamflame, modules),
    _ = [begin
         _ = rpc(Node, code, purge, [M]),
         _ = rpc(Node, code, delete, [M]),
         _ = rpc(Node, code, purge, [M])
     end || M <- Mods],
    _ = rpc(Node, persistent_term, erase, [{beamflame_nif, path}]),
    _ = rpc(Node, persistent_term, erase, [{beamflame_native, exe}]),
    _ = rpc(Node, persistent_term, erase, [?PUSHED]),
    ok.

rpc(Node, M, F, A) ->
    try
        erpc:call(Node, M, F, A, ?CALL_TIMEOUT)
    catch
        error:{erpc, Reason} -> {badrpc, Reason};
        Class:Reason -> {badrpc, {Class, Reason}}
    end.
