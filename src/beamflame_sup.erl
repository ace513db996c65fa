%% @doc Top supervisor. Holds {@link beamflame_flags} (the owner of VM-wide flags that
%% profiling runs change) and every profiling run as a temporary child, so a run is
%% never an orphan: stopping the application stops every run, and each run undoes what
%% it changed.
-module(beamflame_sup).
-behaviour(supervisor).
-export([start_link/0, start_run/3, start_child/1, stop_child/1, init/1]).

-spec start_link() -> {ok, pid()} | ignore | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @doc Starts a run `Mod:start_link(Args...)` as a temporary child; `{ok, Pid, Info}'
%% when the run's start returns extra information.
-spec start_run(module(), atom(), [term()]) ->
          {ok, pid()} | {ok, pid(), term()} | {error, term()}.
start_run(Mod, Fun, Args) ->
    Spec = #{id => make_ref(), start => {Mod, Fun, Args}, restart => temporary,
             shutdown => 2000, type => worker, modules => [Mod]},
    case supervisor:start_child(?MODULE, Spec) of
        %% a start error comes wrapped with the child spec: callers want the reason
        {error, {Reason, Child}} when element(1, Child) =:= child -> {error, Reason};
        Other -> Other
    end.

%% @doc A named child (beamflame_continuous): started once, by its id.
-spec start_child(supervisor:child_spec()) -> {ok, pid()} | {error, term()}.
start_child(Spec) ->
    case supervisor:start_child(?MODULE, Spec) of
        {error, already_present} ->
            _ = supervisor:delete_child(?MODULE, maps:get(id, Spec)),
            start_child(Spec);
        {error, {Reason, Child}} when element(1, Child) =:= child -> {error, Reason};
        Other -> Other
    end.

%% @doc Stops a named child and forgets it; ok if there was none (or no supervisor).
-spec stop_child(term()) -> ok.
stop_child(Id) ->
    try
        _ = supervisor:terminate_child(?MODULE, Id),
        _ = supervisor:delete_child(?MODULE, Id),
        ok
    catch
        exit:_ -> ok
    end.

-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Flags = #{id => beamflame_flags, start => {beamflame_flags, start_link, []},
              restart => permanent, shutdown => 2000, type => worker,
              modules => [beamflame_flags]},
    {ok, {#{strategy => one_for_one, intensity => 5, period => 10}, [Flags]}}.
