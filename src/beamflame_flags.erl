%% @doc Owner of the VM-wide flags that profiling runs change (today: `backtrace_depth').
%%
%% A run asks for a depth with {@link hold_backtrace_depth/1}; the server monitors it. The
%% flag is the largest depth any live run asked for, never lower than the value found
%% before the first run; when the last run releases it, or dies, the original value is
%% restored. So concurrent runs cannot restore each other's changes, and a killed run
%% leaves nothing behind. If this server itself dies, its terminate/2 restores the flag.
-module(beamflame_flags).
-behaviour(gen_server).
-export([start_link/0, hold_backtrace_depth/1, release/0, holders/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-record(state, {original = undefined :: undefined | non_neg_integer(),
                holders = #{} :: #{pid() => {reference(), pos_integer()}}}).

-spec start_link() -> {ok, pid()} | ignore | {error, term()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Raises `backtrace_depth' to at least `Depth' for as long as the caller lives or
%% until it calls {@link release/0}.
-spec hold_backtrace_depth(pos_integer()) -> ok.
hold_backtrace_depth(Depth) when is_integer(Depth), Depth > 0 ->
    gen_server:call(?MODULE, {hold, self(), Depth}, infinity).

-spec release() -> ok.
release() ->
    gen_server:call(?MODULE, {release, self()}, infinity).

%% @doc Pids holding a flag (for tests and diagnostics).
-spec holders() -> [pid()].
holders() ->
    gen_server:call(?MODULE, holders, infinity).

-spec init([]) -> {ok, #state{}}.
init([]) ->
    process_flag(trap_exit, true),
    {ok, #state{}}.

-spec handle_call(term(), gen_server:from(), #state{}) -> {reply, term(), #state{}}.
handle_call({hold, Pid, Depth}, _From, S = #state{holders = H}) ->
    S1 = case S#state.original of
             undefined -> S#state{original = erlang:system_flag(backtrace_depth, 8),
                                  holders = H};
             _ -> S
         end,
    H1 = case maps:find(Pid, H) of
             {ok, {Ref, _}} -> H#{Pid => {Ref, Depth}};
             error -> H#{Pid => {erlang:monitor(process, Pid), Depth}}
         end,
    {reply, ok, apply_depth(S1#state{holders = H1})};
handle_call({release, Pid}, _From, S) ->
    {reply, ok, drop(Pid, S)};
handle_call(holders, _From, S) ->
    {reply, maps:keys(S#state.holders), S};
handle_call(_Other, _From, S) ->
    {reply, {error, unknown_call}, S}.

-spec handle_cast(term(), #state{}) -> {noreply, #state{}}.
handle_cast(_Msg, S) ->
    {noreply, S}.

-spec handle_info(term(), #state{}) -> {noreply, #state{}}.
handle_info({'DOWN', _Ref, process, Pid, _}, S) ->
    {noreply, drop(Pid, S)};
handle_info(_Msg, S) ->
    {noreply, S}.

-spec terminate(term(), #state{}) -> ok.
terminate(_Reason, #state{original = undefined}) ->
    ok;
terminate(_Reason, #state{original = Original}) ->
    _ = erlang:system_flag(backtrace_depth, Original),
    ok.

drop(Pid, S = #state{holders = H}) ->
    case maps:take(Pid, H) of
        {{Ref, _}, H1} ->
            erlang:demonitor(Ref, [flush]),
            apply_depth(S#state{holders = H1});
        error ->
            S
    end.

apply_depth(S = #state{original = Original, holders = H}) when map_size(H) =:= 0 ->
    _ = erlang:system_flag(backtrace_depth, Original),
    S#state{original = undefined};
apply_depth(S = #state{original = Original, holders = H}) ->
    Want = lists:max([D || {_, D} <- maps:values(H)]),
    _ = erlang:system_flag(backtrace_depth, max(Want, Original)),
    S.
