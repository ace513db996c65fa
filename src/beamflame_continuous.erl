%% @doc Always-on profiling: a low-rate sampler whose profile is cut into slices (one
%% aggregated stack table per `slice' seconds), kept for `keep' seconds under a hard
%% memory cap, and merged back into an ordinary profile for any window (history/1).
%%
%% Ownership: the server is a child of beamflame_sup, owned by the node's beamflame
%% application, not by whoever started it: an operator who disconnects leaves it
%% running. It ends with stop/0 or with the application; its sampler (a beamflame_sampler
%% run in continuous mode, also under the supervisor) monitors it and undoes what it set
%% (backtrace_depth) when it goes.
%%
%% Memory: each slice's table may use at most a quarter of `max_bytes'; the oldest slices
%% go first so that the slices kept and the one being recorded stay under `max_bytes'
%% (counted in `dropped'); slices older than `keep' are let go (`expired'). Memory follows
%% the distinct stacks per slice, never the sample count.
%%
%% Cost: that of the sampler at the rate (default 10 Hz): see bench/README.md. A node too
%% busy for a tick skips it (`missed_ticks' in each slice's info), nothing queues.
%%
%% Push (option `push'): each completed slice goes, as pprof, to a Pyroscope server's
%% /ingest from a process of its own (beamflame_push): a bounded queue, retries with
%% backoff, timeouts, drops counted; the sampler never waits for it.
-module(beamflame_continuous).
-behaviour(gen_server).
-export([start/1, stop/0, info/0, history/1, window/1]).
-export([start_link/1, init/1, handle_continue/2, handle_call/3, handle_cast/2, handle_info/2,
         terminate/2]).

-define(SERVER, ?MODULE).
-define(MAX_SLICES, 100000).

-record(c, {opts :: map(),
            sampler :: pid() | undefined,
            ref :: reference(),
            mon :: reference() | undefined,
            slices = queue:new() :: queue:queue(map()),  % oldest first
            n = 0 :: non_neg_integer(),       % slices kept (queue:len/1 walks the queue)
            bytes = 0 :: non_neg_integer(),   % of the slices kept
            cap :: pos_integer(),             % one slice's table at most
            dropped = 0 :: non_neg_integer(), % slices let go for max_bytes
            expired = 0 :: non_neg_integer(), % slices older than keep
            samples = 0 :: non_neg_integer(),
            restarts = 0 :: non_neg_integer(),
            current_from :: integer(),        % system time (ms) the current slice began
            started :: integer(),
            pusher = none :: pid() | none}).

%% @doc Starts continuous profiling on this node (options: beamflame_options:table
%% (continuous)). `{error, {already_running, Why}}' if it runs: stop/0 it first.
-spec start(map()) -> ok | {error, term()}.
start(Opts0) ->
    case beamflame_options:validate(continuous, Opts0) of
        {ok, Opts} ->
            case whereis(?SERVER) of
                undefined ->
                    case beamflame_sup:start_child(#{id => ?SERVER,
                                                     start => {?MODULE, start_link, [Opts]},
                                                     restart => temporary, shutdown => 5000,
                                                     type => worker, modules => [?MODULE]}) of
                        {ok, _} -> ok;
                        {error, {already_started, _}} -> already_running();
                        {error, _} = E -> E
                    end;
                _ ->
                    already_running()
            end;
        {error, _} = E ->
            E
    end.

already_running() ->
    {error, {already_running, <<"continuous profiling already runs on this node: stop it "
                                "first (beamflame:continuous_stop/0, or beamflame continuous "
                                "stop NODE)">>}}.

%% @doc Ends continuous profiling (its slices are freed). `ok' when it was not running.
-spec stop() -> ok.
stop() ->
    _ = beamflame_sup:stop_child(?SERVER),
    ok.

%% @doc Rate, window, memory used, slices kept, drops; `#{running => false}' when off.
-spec info() -> map().
info() ->
    case whereis(?SERVER) of
        undefined -> #{running => false};
        Pid -> try gen_server:call(Pid, info, 10000) catch exit:_ -> #{running => false} end
    end.

%% @doc The profile of a window: `#{last => Seconds}' or `#{from => T1, to => T2}' (times
%% as erlang:system_time(second) or calendar datetimes, UTC). Every slice overlapping the
%% window is merged whole (the resolution is the slice), the one being recorded included.
-spec history(map()) -> {ok, beamflame_nif:profile()} | {error, term()}.
history(Window0) ->
    case {window(Window0), whereis(?SERVER)} of
        {{error, _} = E, _} ->
            E;
        {_, undefined} ->
            {error, {not_running, <<"continuous profiling is not running on this node: "
                                    "start it with beamflame:continuous/1">>}};
        {{ok, From, To}, Pid} ->
            case gen_server:call(Pid, {history, From, To}, 30000) of
                {ok, Profiles, Current, Meta} -> merge(Profiles, Current, Meta, From, To);
                {error, _} = E -> E
            end
    end.

%% @doc A window as {ok, FromMs, ToMs} (system time, milliseconds), or the error naming
%% what would do.
-spec window(term()) -> {ok, integer(), integer()} | {error, term()}.
window(#{last := S}) when is_integer(S), S > 0 ->
    Now = erlang:system_time(millisecond),
    {ok, Now - S * 1000, Now};
window(#{from := F, to := T} = W) when map_size(W) =:= 2 ->
    case {to_ms(F), to_ms(T)} of
        {From, To} when is_integer(From), is_integer(To), From < To -> {ok, From, To};
        _ -> bad_window(W)
    end;
window(W) ->
    bad_window(W).

bad_window(W) ->
    {error, {bad_option, window, W, <<"#{last => Seconds} or #{from => T1, to => T2}, "
                                      "T1 < T2, as erlang:system_time(second) or "
                                      "{{Y, M, D}, {H, Mi, S}} (UTC)">>}}.

to_ms(T) when is_integer(T), T > 0 ->
    T * 1000;
to_ms({{_, _, _}, {_, _, _}} = DT) ->
    try (calendar:datetime_to_gregorian_seconds(DT) - 62167219200) * 1000
    catch error:_ -> bad
    end;
to_ms(_) ->
    bad.

%% The window's slices as one profile (folded texts merged; in the caller, not in the
%% server, so a big window never holds the server up).
merge(Profiles, Current, Meta, From, To) ->
    Texts = [beamflame:folded(P) || P <- Profiles] ++ [Current || is_binary(Current)],
    case beamflame:read_folded(Texts) of
        {ok, P, _} ->
            Started = case Meta of #{first := F} -> F; _ -> From end,
            %% folded lines are not samples: the merged weight is the sample count
            #{weight := Samples} = beamflame:info(P),
            ok = beamflame_nif:set_meta(P, (maps:remove(first, Meta))#{
                                              merged_samples => Samples,
                                              mode => sample, node => node(),
                                              window => {From div 1000, To div 1000},
                                              started_at => Started,
                                              duration_ms => max(0, min(To, erlang:system_time(millisecond)) - Started)}),
            {ok, P};
        {error, _} = E ->
            E
    end.

%%% The server ---------------------------------------------------------------------------

-spec start_link(map()) -> {ok, pid()} | {error, term()}.
start_link(Opts) ->
    gen_server:start_link({local, ?SERVER}, ?MODULE, Opts, []).

-spec init(map()) -> {ok, #c{}, {continue, start_sampler}}.
init(Opts0 = #{max_bytes := Max}) ->
    process_flag(trap_exit, true),
    %% `all' is wall, as for sample mode: said once, for the sampler and the windows' meta
    Opts = case Opts0 of #{states := all} -> Opts0#{states := wall}; _ -> Opts0 end,
    Cap = max(65536, Max div 4),
    S0 = #c{opts = Opts, cap = Cap, ref = make_ref(), started = erlang:system_time(millisecond),
            current_from = erlang:system_time(millisecond)},
    Pusher = case maps:get(push, Opts) of
                 none -> none;
                 Push -> beamflame_push:start_link(Push, Opts)
             end,
    %% the sampler is the supervisor's child too: started once this init has returned
    %% (the supervisor is waiting for it)
    {ok, S0#c{pusher = Pusher}, {continue, start_sampler}}.

-spec handle_continue(start_sampler, #c{}) -> {noreply, #c{}} | {stop, term(), #c{}}.
handle_continue(start_sampler, S0) ->
    case start_sampler(S0) of
        {ok, S} -> {noreply, S};
        {error, Reason} -> {stop, {cannot_start, Reason}, S0}
    end.

start_sampler(S = #c{opts = Opts, cap = Cap, ref = Ref}) ->
    SOpts0 = maps:with([rate, processes, states, group, max_stacks, max_depth], Opts),
    SOpts = SOpts0#{duration => 3600000, max_bytes => min(Cap, 4294967296),
                    slice_ms => maps:get(slice, Opts) * 1000},
    case beamflame_sup:start_run(beamflame_sampler, start_link, [SOpts, self(), Ref]) of
        {ok, Pid} ->
            {ok, S#c{sampler = Pid, mon = erlang:monitor(process, Pid),
                     current_from = erlang:system_time(millisecond)}};
        {error, _} = E ->
            E
    end.

-spec handle_call(term(), gen_server:from(), #c{}) -> {reply, term(), #c{}}.
handle_call(info, _From, S) ->
    {reply, info_of(S), S};
handle_call({history, From, To}, _From, S = #c{slices = Slices}) ->
    In = [Sl || Sl = #{from := F, to := T} <- queue:to_list(Slices), F < To, T > From],
    Current = case To > S#c.current_from of
                  true -> peek(S);
                  false -> none
              end,
    First = case {In, Current} of
                {[#{from := F} | _], _} -> #{first => F};
                {[], Bin} when is_binary(Bin) -> #{first => S#c.current_from};
                _ -> #{}
            end,
    Opts = S#c.opts,
    Meta = First#{slices => length(In) + case Current of none -> 0; _ -> 1 end,
                  rate => maps:get(rate, Opts), group => maps:get(group, Opts),
                  states => maps:get(states, Opts)},
    Roots = case maps:get(group, Opts) of none -> #{}; _ -> #{roots => process} end,
    {reply, {ok, [P || #{profile := P} <- In], Current, maps:merge(Meta, Roots)}, S};
handle_call(_Other, _From, S) ->
    {reply, {error, unknown_call}, S}.

-spec handle_cast(term(), #c{}) -> {noreply, #c{}}.
handle_cast(_Msg, S) ->
    {noreply, S}.

-spec handle_info(term(), #c{}) -> {noreply, #c{}}.
handle_info({Ref, {slice, P}}, S = #c{ref = Ref}) ->
    {noreply, add_slice(P, S)};
handle_info({'DOWN', Mon, process, _, _Reason}, S = #c{mon = Mon}) ->
    %% the sampler died (a bug, or killed): go on with a new one after a pause
    erlang:send_after(1000, self(), restart),
    {noreply, S#c{sampler = undefined, mon = undefined}};
handle_info(restart, S = #c{sampler = undefined}) ->
    case start_sampler(S#c{restarts = S#c.restarts + 1}) of
        {ok, S1} -> {noreply, S1};
        {error, _} -> erlang:send_after(5000, self(), restart), {noreply, S}
    end;
handle_info({'EXIT', Pusher, _}, S = #c{pusher = Pusher}) ->
    {noreply, S#c{pusher = none}};
handle_info(_Other, S) ->
    {noreply, S}.

-spec terminate(term(), #c{}) -> ok.
terminate(_Reason, #c{sampler = Sampler, pusher = Pusher}) ->
    _ = is_pid(Pusher) andalso exit(Pusher, shutdown),
    case is_pid(Sampler) of
        true ->
            %% `finish' ends it (undoing what it set); killed if it does not go
            Mon = erlang:monitor(process, Sampler),
            Sampler ! finish,
            receive
                {'DOWN', Mon, process, _, _} -> ok
            after 3000 ->
                exit(Sampler, kill),
                receive {'DOWN', Mon, process, _, _} -> ok after 2000 -> ok end
            end;
        false ->
            ok
    end,
    ok.

%% A finished slice kept; the oldest let go past keep and max_bytes.
add_slice(P, S = #c{opts = #{keep := Keep, max_bytes := Max}}) ->
    #{bytes := Bytes, samples := N} = Info = beamflame:info(P),
    From = maps:get(started_at, Info, S#c.current_from),
    To = From + maps:get(duration_ms, Info, 0),
    Slice = #{from => From, to => To, profile => P, bytes => Bytes, samples => N},
    _ = is_pid(S#c.pusher) andalso (S#c.pusher ! {slice, From, To, P}),
    S1 = S#c{slices = queue:in(Slice, S#c.slices), n = S#c.n + 1, bytes = S#c.bytes + Bytes,
             samples = S#c.samples + N, current_from = To},
    Now = erlang:system_time(millisecond),
    {S2, Expired} = drop_oldest(fun(#{to := T}, _) -> T < Now - Keep * 1000 end, S1, 0),
    {S3, Dropped} = drop_oldest(fun(_, #c{bytes = B, cap = Cap, n = K}) ->
                                        B + Cap > Max orelse K > ?MAX_SLICES
                                end, S2, 0),
    S3#c{expired = S3#c.expired + Expired, dropped = S3#c.dropped + Dropped}.

%% Lets the oldest slices go while Pred(Oldest, State) holds; how many went.
drop_oldest(Pred, S = #c{slices = Q}, Gone) ->
    case queue:peek(Q) of
        {value, Oldest} ->
            case Pred(Oldest, S) of
                true ->
                    drop_oldest(Pred, S#c{slices = queue:drop(Q), n = S#c.n - 1,
                                          bytes = S#c.bytes - maps:get(bytes, Oldest)},
                                Gone + 1);
                false ->
                    {S, Gone}
            end;
        empty ->
            {S, Gone}
    end.

%% The slice being recorded, as folded text so far (none if the sampler does not answer).
peek(#c{sampler = Sampler}) when is_pid(Sampler) ->
    Tag = make_ref(),
    Sampler ! {peek, self(), Tag},
    receive
        {Tag, {Folded, _Stats}} -> Folded
    after 5000 ->
        none
    end;
peek(_S) ->
    none.

info_of(S = #c{opts = Opts, slices = Slices}) ->
    Push = case S#c.pusher of
               none -> #{};
               Pid -> #{push => beamflame_push:info(Pid)}
           end,
    Push#{running => true,
          rate => maps:get(rate, Opts), slice => maps:get(slice, Opts),
          keep => maps:get(keep, Opts), max_bytes => maps:get(max_bytes, Opts),
          states => maps:get(states, Opts), group => maps:get(group, Opts),
          memory => S#c.bytes, slice_cap => S#c.cap, slices => S#c.n,
          dropped => S#c.dropped, expired => S#c.expired, samples => S#c.samples,
          restarts => S#c.restarts, started_at => S#c.started div 1000,
          oldest => case queue:peek(Slices) of {value, #{from := F}} -> F div 1000; empty -> undefined end,
          newest => case queue:peek_r(Slices) of {value, #{to := T}} -> T div 1000; empty -> undefined end}.
