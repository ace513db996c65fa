%% @doc Pushes continuous profiling's slices to Grafana Pyroscope: each finished slice,
%% as pprof, POSTed to `URL/ingest?name=App{labels}&from=..&until=..&format=pprof' (the
%% body the gzipped profile.proto). One process, linked to beamflame_continuous, so the
%% sampler never waits on the network:
%% <ul>
%% <li>a bounded queue (`queue' slices, default 16): when it is full the oldest slice is
%%   dropped (counted);</li>
%% <li>each request has a timeout (`timeout' ms, default 10000: connect, send and the
%%   answer each); a failure or a non-2xx status is retried after 1, 2 and 4 s, then the
%%   slice is dropped (counted);</li>
%% <li>https URLs use TLS with the system's CA certificates and the host name checked
%%   (the `ssl' application is started for it).</li>
%% </ul>
%% A label `node' (this node's name) is added unless given. A minimal HTTP/1.1 client on
%% gen_tcp and ssl: no inets started on the node.
-module(beamflame_push).
-export([check/1, start_link/2, info/1]).
-export([init/2]).

-define(BACKOFF_MS, [1000, 2000, 4000]).

%% @doc The push option checked and normalized; `error' if it is not one.
-spec check(map()) -> {ok, map()} | error.
check(M) ->
    try
        Url = unicode:characters_to_list(maps:get(url, M)),
        #{scheme := Scheme, host := Host} = U = uri_string:parse(Url),
        {Sch, DefPort} = case string:lowercase(Scheme) of
                             "http" -> {http, 80};
                             "https" -> {https, 443}
                         end,
        App = unicode:characters_to_binary(maps:get(app, M)),
        true = byte_size(App) > 0,
        Labels = maps:fold(fun(K, V, Acc) ->
                                   Acc#{text(K) => text(V)}
                           end, #{}, maps:get(labels, M, #{})),
        Timeout = maps:get(timeout, M, 10000),
        true = is_integer(Timeout) andalso Timeout >= 100 andalso Timeout =< 120000,
        Queue = maps:get(queue, M, 16),
        true = is_integer(Queue) andalso Queue >= 1 andalso Queue =< 1000,
        [] = maps:keys(maps:without([url, app, labels, timeout, queue], M)),
        Path = string:trim(maps:get(path, U, ""), trailing, "/"),
        {ok, #{url => list_to_binary(Url), scheme => Sch, host => Host,
               port => maps:get(port, U, DefPort), path => Path ++ "/ingest", app => App,
               labels => maps:merge(#{<<"node">> => atom_to_binary(node(), utf8)}, Labels),
               timeout => Timeout, queue => Queue}}
    catch
        _:_ -> error
    end.

text(A) when is_atom(A) -> atom_to_binary(A, utf8);
text(T) -> unicode:characters_to_binary(T).

%% @doc Starts the pusher, linked to the caller (beamflame_continuous).
-spec start_link(map(), map()) -> pid().
start_link(Push, Opts) ->
    proc_lib:spawn_link(?MODULE, init, [Push, Opts]).

%% @doc Its counters: sent, failed attempts, dropped slices, queued, the last error.
-spec info(pid()) -> map().
info(Pid) ->
    Tag = make_ref(),
    Pid ! {info, self(), Tag},
    receive {Tag, Info} -> Info after 5000 -> #{answering => false} end.

-record(p, {push :: map(), rate :: pos_integer(),
            queue = queue:new() :: queue:queue(),
            attempt = 0 :: non_neg_integer(),  % of the head slice
            next_at :: integer(),              % monotonic ms: no request before
            stats = #{sent => 0, failed => 0, dropped => 0, last_error => none}}).

-spec init(map(), map()) -> no_return().
init(Push, #{rate := Rate}) ->
    loop(#p{push = Push, rate = Rate, next_at = now_ms()}).

loop(P) ->
    Wait = case queue:is_empty(P#p.queue) of
               true -> infinity;
               false -> min(max(0, P#p.next_at - now_ms()), 60000)
           end,
    receive
        {slice, From, To, Profile} ->
            loop(enqueue({From, To, Profile}, P));
        {info, From, Tag} ->
            From ! {Tag, (P#p.stats)#{queued => queue:len(P#p.queue),
                                      url => maps:get(url, P#p.push)}},
            loop(P)
    after Wait ->
        loop(send_head(P))
    end.

enqueue(Item, P = #p{queue = Q, push = #{queue := Max}}) ->
    case queue:len(Q) >= Max of
        true -> enqueue(Item, bump(dropped, (drop_head(P))));
        false -> P#p{queue = queue:in(Item, Q)}
    end.

drop_head(P = #p{queue = Q}) ->
    P#p{queue = queue:drop(Q), attempt = 0, next_at = now_ms()}.

send_head(P = #p{queue = Q, push = Push, attempt = N}) ->
    {value, {From, To, Profile}} = queue:peek(Q),
    case post(Push, query(Push, From, To, P#p.rate), beamflame:pprof(Profile)) of
        ok ->
            bump(sent, drop_head(P));
        {error, Why} ->
            P1 = bump(failed, P),
            P2 = P1#p{stats = (P1#p.stats)#{last_error => Why}},
            case lists:nth(N + 1, ?BACKOFF_MS ++ [drop]) of
                drop -> bump(dropped, drop_head(P2));
                Ms -> P2#p{attempt = N + 1, next_at = now_ms() + Ms}
            end
    end.

bump(Key, P = #p{stats = S}) ->
    P#p{stats = S#{Key => maps:get(Key, S) + 1}}.

query(#{app := App, labels := Labels}, From, To, Rate) ->
    Pairs = [[K, $=, V] || {K, V} <- lists:sort(maps:to_list(Labels))],
    Name = iolist_to_binary([App, ${, lists:join($,, Pairs), $}]),
    uri_string:compose_query([{"name", Name}, {"from", integer_to_list(From div 1000)},
                              {"until", integer_to_list(max(From div 1000 + 1, To div 1000))},
                              {"format", "pprof"}, {"sampleRate", integer_to_list(Rate)},
                              {"spyName", "beamflame"}, {"units", "samples"},
                              {"aggregationType", "sum"}]).

%% One POST; ok for a 2xx answer.
post(#{scheme := Scheme, host := Host, port := Port, path := Path, timeout := T}, Query, Body) ->
    Vsn = case application:get_key(beamflame, vsn) of {ok, V} -> V; _ -> "?" end,
    Req = [<<"POST ">>, Path, $?, Query, <<" HTTP/1.1\r\nHost: ">>, Host, $:,
           integer_to_list(Port), <<"\r\nUser-Agent: beamflame/">>, Vsn,
           <<"\r\nContent-Type: application/octet-stream\r\nContent-Length: ">>,
           integer_to_list(byte_size(Body)), <<"\r\nConnection: close\r\n\r\n">>, Body],
    case connect(Scheme, Host, Port, T) of
        {ok, Mod, Sock} ->
            try Mod:send(Sock, Req) of
                ok -> status(Mod, Sock, T, <<>>);
                {error, R} -> {error, {send, R}}
            after
                Mod:close(Sock)
            end;
        {error, R} ->
            {error, {connect, R}}
    end.

connect(http, Host, Port, T) ->
    case gen_tcp:connect(Host, Port, [binary, {active, false}, {packet, raw}], T) of
        {ok, S} -> {ok, gen_tcp, S};
        E -> E
    end;
connect(https, Host, Port, T) ->
    _ = application:ensure_all_started(ssl),
    Opts = [binary, {active, false}, {packet, raw}, {verify, verify_peer},
            {cacerts, public_key:cacerts_get()}, {server_name_indication, Host},
            {customize_hostname_check,
             [{match_fun, public_key:pkix_verify_hostname_match_fun(https)}]}],
    case ssl:connect(Host, Port, Opts, T) of
        {ok, S} -> {ok, ssl, S};
        E -> E
    end.

%% The answer's status line: 2xx is ok.
status(Mod, Sock, T, Acc) ->
    case binary:match(Acc, <<"\r\n">>) of
        {At, _} ->
            case binary:part(Acc, 0, At) of
                <<"HTTP/1.", _, " ", Code:3/binary, _/binary>> ->
                    case binary_to_integer(Code) of
                        C when C >= 200, C < 300 -> ok;
                        C -> {error, {status, C}}
                    end;
                Line ->
                    {error, {bad_answer, Line}}
            end;
        nomatch when byte_size(Acc) > 8192 ->
            {error, {bad_answer, binary:part(Acc, 0, 64)}};
        nomatch ->
            case Mod:recv(Sock, 0, T) of
                {ok, More} -> status(Mod, Sock, T, <<Acc/binary, More/binary>>);
                {error, R} -> {error, {recv, R}}
            end
    end.

now_ms() ->
    erlang:monotonic_time(millisecond).
