%% @doc The NIF library: the profile resource and the C renderers. Not an API: call
%% {@link beamflame}. Each function that can take long on large input has a `_dirty'
%% twin that runs on a dirty CPU scheduler; the wrappers at the bottom choose by size.
-module(beamflame_nif).
-export([allow_ptracer/1]).
-export([new/1, add_samples/2, add_weights/2, copy_stacks/3, set_meta/2, info/1,
         folded/1, folded_dirty/1, render/2, render_dirty/2, render_diff_dirty/3,
         parse_folded/2, parse_folded_dirty/2, pprof/2, pprof_dirty/2]).
-export([render_folded/1, render_graph/2, render_pprof/2, read_folded/2]).
%% erl_tracer callbacks (called by ERTS) and the trace session (beamflame_trace)
-export([enabled/3, trace/5, trace_session/1, trace_control/2, trace_seed/3, trace_status/1,
         trace_result_dirty/2]).
-on_load(init/0).

%% Above these sizes the work goes to a dirty scheduler (a 2,000-stack render takes
%% about 1 ms here; 64 KiB of folded text parses in well under 1 ms).
-define(DIRTY_STACKS, 2000).
-define(DIRTY_BYTES, 65536).
-define(STUB, erlang:nif_error({not_loaded, [{module, ?MODULE}, {line, ?LINE}]})).

-type profile() :: reference().
-type session() :: reference().
-export_type([profile/0, session/0]).

-spec init() -> ok | {error, term()}.
init() ->
    %% beamflame_attach pushes the library to nodes that lack beamflame and names the
    %% (temporary) file here before loading this module.
    Path = case persistent_term:get({?MODULE, path}, undefined) of
               undefined -> filename:join(priv_dir(), "beamflame_nif");
               Pushed -> Pushed
           end,
    erlang:load_nif(Path, 0).

priv_dir() ->
    case code:priv_dir(beamflame) of
        {error, bad_name} ->
            filename:join([filename:dirname(filename:dirname(code:which(?MODULE))), "priv"]);
        Dir ->
            Dir
    end.

%% @doc erl_tracer: whether the session wants an event (`trace', `discard'; `remove' for
%% `trace_status' once it stopped).
-spec enabled(atom(), term(), pid() | port()) -> trace | discard | remove.
enabled(_Tag, _State, _Tracee) -> ?STUB.
%% @doc erl_tracer: one event, folded into the session's stacks in C.
-spec trace(atom(), term(), pid() | port(), term(), map()) -> ok.
trace(_Tag, _State, _Tracee, _Term, _Opts) -> ?STUB.
-spec trace_session(map()) -> {ok, session()} | {error, enomem}.
trace_session(_Opts) -> ?STUB.
-spec trace_control(session(), activate | deactivate | stop) -> ok.
trace_control(_S, _What) -> ?STUB.
-spec trace_seed(session(), pid(), [mfa()]) -> ok | {error, enomem}.
trace_seed(_S, _Pid, _Frames) -> ?STUB.
-spec trace_status(session()) -> map().
trace_status(_S) -> ?STUB.
-spec trace_result_dirty(session(), non_neg_integer()) ->
          {ok, profile()} | {error, no_such_capture | enomem}.
trace_result_dirty(_S, _Index) -> ?STUB.

%% @doc Lets native mode's port program (this OS pid) ptrace the node under Yama.
-spec allow_ptracer(pos_integer()) -> ok | {error, einval}.
allow_ptracer(_OsPid) -> ?STUB.

-spec new(map()) -> {ok, profile()} | {error, enomem}.
new(_Caps) -> ?STUB.
-spec add_samples(profile(), [{term(), list(), non_neg_integer()}]) ->
          [non_neg_integer() | dropped].
add_samples(_P, _Samples) -> ?STUB.
-spec add_weights(profile(), [{non_neg_integer(), non_neg_integer()}]) -> ok.
add_weights(_P, _Weights) -> ?STUB.
-spec copy_stacks(profile(), profile(), [non_neg_integer()]) ->
          [non_neg_integer() | dropped].
copy_stacks(_From, _To, _Ids) -> ?STUB.
-spec set_meta(profile(), map()) -> ok.
set_meta(_P, _Meta) -> ?STUB.
-spec info(profile()) -> map().
info(_P) -> ?STUB.
-spec folded(profile()) -> {ok, binary()} | {error, enomem}.
folded(_P) -> ?STUB.
-spec folded_dirty(profile()) -> {ok, binary()} | {error, enomem}.
folded_dirty(_P) -> ?STUB.
%% Opts: the SVG options plus `format' (svg | html | speedscope).
-spec render(profile(), map()) -> {ok, binary()} | {error, term()}.
render(_P, _Opts) -> ?STUB.
-spec render_dirty(profile(), map()) -> {ok, binary()} | {error, term()}.
render_dirty(_P, _Opts) -> ?STUB.
%% Always on a dirty scheduler: it copies and merges two profiles.
-spec render_diff_dirty(profile(), profile(), map()) -> {ok, binary()} | {error, term()}.
render_diff_dirty(_Before, _After, _Opts) -> ?STUB.
-spec pprof(profile(), map()) -> {ok, binary()} | {error, enomem}.
pprof(_P, _Opts) -> ?STUB.
-spec pprof_dirty(profile(), map()) -> {ok, binary()} | {error, enomem}.
pprof_dirty(_P, _Opts) -> ?STUB.
-spec parse_folded(iodata(), map()) -> {ok, profile(), map()} | {error, enomem}.
parse_folded(_Bin, _Caps) -> ?STUB.
-spec parse_folded_dirty(iodata(), map()) -> {ok, profile(), map()} | {error, enomem}.
parse_folded_dirty(_Bin, _Caps) -> ?STUB.

%% @doc folded/1 on a normal or dirty scheduler depending on the profile's size.
-spec render_folded(profile()) -> {ok, binary()} | {error, enomem}.
render_folded(P) ->
    case big(P) of
        true -> folded_dirty(P);
        false -> folded(P)
    end.

-spec render_graph(profile(), map()) -> {ok, binary()} | {error, term()}.
render_graph(P, Opts) ->
    case big(P) of
        true -> render_dirty(P, Opts);
        false -> render(P, Opts)
    end.

-spec render_pprof(profile(), map()) -> {ok, binary()} | {error, term()}.
render_pprof(P, Opts) ->
    case big(P) of
        true -> pprof_dirty(P, Opts);
        false -> pprof(P, Opts)
    end.

-spec read_folded(iodata(), map()) -> {ok, profile(), map()} | {error, enomem}.
read_folded(Data, Caps) ->
    case iolist_size(Data) > ?DIRTY_BYTES of
        true -> parse_folded_dirty(Data, Caps);
        false -> parse_folded(Data, Caps)
    end.

big(P) ->
    maps:get(stacks, info(P)) > ?DIRTY_STACKS.
