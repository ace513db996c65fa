%% @doc Where trace mode sets its flags and patterns: a trace session of its own on OTP 27+,
%% the node's one (legacy) session before.
%%
%% On OTP 27 and later every flag and pattern lives in a session
%% (`trace:session_create/3'); sessions do not see each other, so beamflame traces the
%% same processes and functions as dbg, recon_trace or tprof without touching what they
%% set, and `destroy/1' undoes everything at once. The session is also destroyed by the
%% runtime when its handle is garbage collected, that is when the guard process that
%% holds it dies, however it dies (killed included).
%%
%% On OTP 25 and 26 there is one tracer per process and one set of patterns per function
%% (`erlang:trace/3', `erlang:trace_pattern/3'): the caller refuses processes that have a
%% tracer and skips functions that have patterns, and undoes its own one by one.
%%
%% Cost: each call is one BIF call; `new/1' on 27+ creates one session (a few µs).
-module(beamflame_tracing).
-export([sessions/0, new/1, is_session/1, destroy/1, process/4, function/4, info/3, owns/2,
         tracer/1]).

-export_type([t/0]).

%% trace:session() is opaque to us; OTP 25's dialyzer does not know the trace module.
-opaque t() :: {legacy, tracer()} | {session, term(), tracer()}.
-type tracer() :: {module(), term()}.

%% The `trace' module and its sessions exist from OTP 27.
-dialyzer({nowarn_function, [new/1, destroy/1, process/4, function/4, info/3]}).

%% @doc True when this node has trace sessions (OTP 27+).
-spec sessions() -> boolean().
sessions() ->
    _ = code:ensure_loaded(trace),
    erlang:function_exported(trace, session_create, 3).

%% @doc A place for the flags and patterns of the tracer `{Module, State}'.
-spec new(tracer()) -> t().
new({Mod, State} = Tracer) ->
    case sessions() of
        true -> {session, trace:session_create(beamflame, {Mod, State}, []), Tracer};
        false -> {legacy, Tracer}
    end.

%% @doc True when `T' is a trace session of its own (OTP 27+).
-spec is_session(t()) -> boolean().
is_session({session, _, _}) -> true;
is_session({legacy, _}) -> false.

%% @doc Undoes every flag and pattern set through `T' (27+: all at once; before: nothing
%% here, the caller removes its own). Idempotent.
-spec destroy(t()) -> ok.
destroy({session, S, _}) ->
    _ = trace:session_destroy(S),
    ok;
destroy({legacy, _}) ->
    ok.

%% @doc `erlang:trace/3' for `T'; `Flags' without the tracer, which `T' adds.
-spec process(t(), pid() | all | new, boolean(), [atom()]) -> non_neg_integer().
process({session, S, _}, Who, How, Flags) ->
    trace:process(S, Who, How, Flags);
process({legacy, {Mod, State}}, Who, true, Flags) ->
    erlang:trace(Who, true, Flags ++ [{tracer, Mod, State}]);
process({legacy, _}, Who, false, Flags) ->
    erlang:trace(Who, false, Flags).

%% @doc `erlang:trace_pattern/3' for `T'; `Flags' are `[local]', `[global]' or `[meta]'
%% (the meta tracer is `T''s tracer).
-spec function(t(), mfa() | {module(), '_', '_'} | on_load, term(), [atom()]) ->
          non_neg_integer().
function({session, S, _}, on_load, MS, Flags) ->
    trace:function(S, on_load, MS, Flags);
function({session, S, _}, MFA, MS, Flags) ->
    trace:function(S, MFA, MS, Flags);
function({legacy, {Mod, State}}, MFA, MS, [meta]) when MS =/= false ->
    erlang:trace_pattern(MFA, MS, [{meta, Mod, State}]);
function({legacy, _}, MFA, MS, Flags) ->
    erlang:trace_pattern(MFA, MS, Flags).

%% @doc `erlang:trace_info/2' as `T' sees it.
-spec info(t(), pid() | mfa() | on_load, atom()) -> term().
info({session, S, _}, What, Item) ->
    trace:info(S, What, Item);
info({legacy, _}, What, Item) ->
    erlang:trace_info(What, Item).

%% @doc True when `Pid' is traced through `T' (by this tracer).
-spec owns(t(), pid()) -> boolean().
owns(T = {session, _, _}, Pid) ->
    case info(T, Pid, flags) of
        {flags, [_ | _]} -> true;
        _ -> false
    end;
owns({legacy, Tracer}, Pid) ->
    erlang:trace_info(Pid, tracer) =:= {tracer, Tracer}.

%% @doc The match-spec term that turns tracing on for the caller with this tracer (the
%% `{trace, [], Enable}' action of a capture trigger).
-spec tracer(t()) -> [term()].
tracer({session, _, _}) ->
    [];
tracer({legacy, {Mod, State}}) ->
    [{const, {tracer, Mod, State}}].
