%% @doc The options of every mode, in one table each: key, type (with its range), default
%% and one line of help. Everything else is derived from these tables: the validation of
%% beamflame_sampler, beamflame_native, beamflame_trace, beamflame_dump and the renderers
%% (validate/2), the error for a bad option (one shape everywhere: `{bad_option, Key,
%% Value, Expected}', Expected a sentence made from the type), and the option tables of
%% docs/options.md (markdown/1; `make options-doc' rewrites them, and a test fails when the
%% file and the tables differ). The command line's mode options (`c_src/cli/bf_cli_args.c',
%% `bf_mode_opts') carry the same keys, ranges and help: a test compares its `--help' with
%% these tables line by line.
%%
%% Types: `{int, Lo, Hi}' (`infinity' for no upper bound), `{number, Lo, Hi}', `{enum,
%% Atoms}', `boolean', `text' (a string or binary, kept as UTF-8) and `{custom, Name,
%% Expected}', checked by the owning module's function (see custom/3).
-module(beamflame_options).
-export([table/1, validate/2, markdown/1, expected/1, modes/0, doc/0]).

-type type() :: {int, integer(), integer() | infinity} | {number, number(), number()}
              | {enum, [atom()]} | boolean | text | {custom, atom(), string()}.
-type row() :: {atom(), type(), term(), string()}.
-export_type([row/0]).

-define(PROCESSES, "all, or a non-empty list of pids, registered names and initial calls "
                   "{Module, Function, Arity} (an OTP behaviour's: its callback module's "
                   "init/1, e.g. {my_server, init, 1})").

%% @doc The modes that have a table.
-spec modes() -> [atom()].
modes() ->
    [sample, native, trace, capture, process, render, diff, dump, continuous].

%% @doc The table of `Mode': `{Key, Type, Default, Help}' rows, in the order documented.
-spec table(atom()) -> [row()].
table(sample) ->
    [{duration, {int, 1, 3600000}, 5000, "milliseconds to sample"},
     {rate, {int, 1, 1000}, 99, "ticks per second (Hz), each jittered by up to a quarter "
                                "period so they do not beat with periodic work"},
     {processes, {custom, processes, ?PROCESSES}, all, "which processes to sample"},
     {states, {enum, [cpu, wall, all]}, cpu,
      "cpu: processes executing at the tick (their waits left out); wall, or all: every "
      "process, waiting ones where they wait"},
     {group, {enum, [none, process, name]}, none,
      "a root frame per process (process: its name, else initial call and pid) or per "
      "registered name or initial call (name)"},
     {max_stacks, {int, 1, 10000000}, 100000, "distinct stacks kept; more are dropped, counted"},
     {max_depth, {int, 2, 64}, 64, "frames kept per stack, from the root (ERTS gives at "
                                   "most 64)"},
     {max_bytes, {int, 65536, 4294967296}, 67108864, "bytes the profile may use"}];
table(native) ->
    [{duration, {int, 1, 3600000}, 5000, "milliseconds to sample"},
     {rate, {int, 1, 1000}, 99, "samples per second (Hz) of each scheduler thread"},
     {dirty, boolean, false, "also the dirty scheduler threads"},
     {idle, boolean, true, "idle schedulers as an [idle] frame (false: left out)"}];
table(trace) ->
    [{spawn, boolean, false, "run the call in a fresh process"} | trace_common(timeout)];
table(capture) ->
    trace_common(timeout);
table(process) ->
    trace_common(duration);
table(render) ->
    [{title, text, <<"Flame Graph">>, "the title"},
     {subtitle, text, <<>>, "a line under the title (default: the profile's hint)"},
     {count_name, text, <<"samples">>, "what a sample is called (us, calls for traces)"},
     {width, {number, 21, 100000}, 1200, "pixels"},
     {min_width, {custom, min_width, "pixels (0 or more), or {percent, 0..100}"}, 0.1,
      "frames narrower than this are left out"},
     {frame_height, {number, 2, 1000}, 16, "pixels"},
     {font_size, {number, 1, 200}, 12, "pixels"},
     {palette, {enum, [hot, beam]}, hot, "hot: flamegraph.pl's colours; beam: by kind of "
                                         "frame (Erlang, C, kernel)"},
     {inverted, boolean, false, "an icicle graph (roots at the top)"},
     {reverse, boolean, false, "stacks reversed (leaves as roots)"},
     {flamechart, boolean, false, "stacks in time order, not merged"},
     {interactive, boolean, true, "zoom, search and tooltips (SVG script)"},
     {max_frames, {int, 0, infinity}, 30000, "frames drawn at most, widest first (0: no "
                                             "limit)"}];
table(diff) ->
    table(render) ++
        [{normalize, boolean, false, "scale the first profile to the second's total and "
                                     "compare shares (false: compare counts)"},
         {format, {enum, [svg, html]}, svg, "the output"}];
table(continuous) ->
    [{rate, {int, 1, 1000}, 10, "ticks per second (Hz): low enough to be always on (0.3% "
                                "of a core on 10k processes; 19 Hz: 0.5%)"},
     {slice, {int, 1, 3600}, 10, "seconds per slice: each its own stack table, the "
                                 "resolution of history/1"},
     {keep, {int, 1, 604800}, 1800, "seconds of slices kept"},
     {max_bytes, {int, 1048576, 17179869184}, 33554432,
      "bytes for every slice kept and the one recorded: the oldest go first, counted"},
     {states, {enum, [cpu, wall, all]}, cpu, "as for sample"},
     {group, {enum, [none, process, name]}, none, "as for sample"},
     {processes, {custom, processes, ?PROCESSES}, all, "which processes to sample"},
     {max_stacks, {int, 1, 10000000}, 100000, "distinct stacks per slice"},
     {max_depth, {int, 2, 64}, 64, "frames kept per stack"},
     {push, {custom, push, "none, or #{url => \"http(s)://host:4040\", app => Name, "
                           "labels => #{Key => Value}, timeout => Ms, queue => Slices}"},
      none, "each finished slice POSTed to Pyroscope's /ingest as pprof"}];
table(dump) ->
    [{processes, {custom, dump_processes, "all, or a list of pids and registered names"}, all,
      "which processes"},
     {top, {int, 1, 10000}, 100, "how many to show"},
     {sort, {enum, [memory, reductions, message_queue_len]}, memory, "the heaviest first by"}].

trace_common(Limit) ->
    [{follow, boolean, false, "also trace the processes they spawn"},
     {modules, {custom, modules, "all, or a non-empty list of module names"}, all,
      "the modules whose calls are traced"},
     case Limit of
         timeout -> {timeout, {int, 1, 86400000}, 60000,
                     "milliseconds of tracing at most; the profile holds what was recorded"};
         duration -> {duration, {int, 1, 86400000}, 5000, "milliseconds to trace the process"}
     end,
     {max_events, {int, 1, 1000000000}, 10000000, "events at most; then the tracing stops"},
     {sleep, {enum, [auto, true, false]}, auto,
      "a sleep frame for time spent descheduled (auto: where the release makes it safe)"},
     {names, {enum, [beamflame, eflambe]}, beamflame, "frame names (eflambe: Module:fun/Arity)"},
     {weight, {enum, [time, calls]}, time, "microseconds of wall time, or calls entered"},
     {recursion, {enum, [fold, keep]}, fold, "recursion drawn at its first occurrence, or "
                                             "every level"},
     {tail_calls, {enum, [drop, keep]}, drop, "a frame that tail-called is dropped (the VM's "
                                              "view), or kept under its callee"},
     {max_stacks, {int, 1, 10000000}, 100000, "distinct stacks kept; more are dropped, counted"},
     {max_depth, {int, 2, 4096}, 1024, "frames per stack; deeper calls are followed and drawn "
                                       "under one [truncated] frame"},
     {max_bytes, {int, 65536, 4294967296}, 268435456, "bytes the profile may use"},
     {max_procs, {int, 1, 100000}, 10000, "processes traced at most"}].

%% @doc `Opts' checked against the table of `Mode', with every default filled in; the
%% first bad option is the error.
-spec validate(atom(), term()) -> {ok, map()} | {error, {bad_option, atom(), term(), binary()}}.
validate(Mode, Opts) when is_map(Opts) ->
    Table = table(Mode),
    try
        {ok, maps:fold(fun(K, V, Acc) -> Acc#{K => check(Mode, Table, K, V)} end,
                       maps:from_list([{K, D} || {K, _, D, _} <- Table]), Opts)}
    catch
        throw:{bad_option, _, _, _} = E -> {error, E}
    end;
validate(_Mode, Other) ->
    {error, {bad_option, options, Other, <<"a map of options, e.g. #{duration => 5000}">>}}.

check(Mode, Table, K, V) ->
    case lists:keyfind(K, 1, Table) of
        {K, Type, _, _} ->
            case ok(Type, V) of
                {true, Value} -> Value;
                false -> throw({bad_option, K, V, expected(Type)})
            end;
        false ->
            throw({bad_option, K, V, unicode:characters_to_binary(
                                       ["one of the options of ", atom_to_list(Mode), ": ",
                                        lists:join(", ", [atom_to_list(X) || {X, _, _, _} <- Table])])})
    end.

ok({int, Lo, Hi}, V) when is_integer(V), V >= Lo, (Hi =:= infinity orelse V =< Hi) -> {true, V};
ok({number, Lo, Hi}, V) when is_number(V), V >= Lo, V =< Hi -> {true, V};
ok({enum, L}, V) -> lists:member(V, L) andalso {true, V};
ok(boolean, V) -> is_boolean(V) andalso {true, V};
ok(text, V) ->
    try unicode:characters_to_binary(V) of
        B when is_binary(B) -> {true, B};
        _ -> false
    catch
        error:_ -> false
    end;
ok({custom, Name, _}, V) -> custom(Name, V);
ok(_, _) -> false.

%% The types a table names that are not one of the plain ones.
custom(processes, all) -> {true, all};
custom(processes, [_ | _] = L) -> lists:all(fun selector/1, L) andalso {true, L};
custom(dump_processes, all) -> {true, all};
custom(dump_processes, [_ | _] = L) ->
    lists:all(fun(P) -> is_pid(P) orelse is_atom(P) end, L) andalso {true, L};
custom(modules, all) -> {true, all};
custom(modules, [_ | _] = L) -> lists:all(fun is_atom/1, L) andalso {true, L};
custom(min_width, V) when is_number(V), V >= 0 -> {true, V};
custom(min_width, {percent, P} = V) when is_number(P), P >= 0, P =< 100 -> {true, V};
custom(push, none) -> {true, none};
custom(push, M) when is_map(M) ->
    case beamflame_push:check(M) of
        {ok, Push} -> {true, Push};
        error -> false
    end;
custom(_, _) -> false.

selector(P) when is_pid(P); is_atom(P) -> true;
selector({M, F, A}) when is_atom(M), is_atom(F), is_integer(A), A >= 0, A =< 255 -> true;
selector(_) -> false.

%% @doc What a type accepts, as the sentence a bad option's error carries.
-spec expected(type()) -> binary().
expected(Type) ->
    unicode:characters_to_binary(expected_text(Type)).

expected_text({int, Lo, infinity}) -> io_lib:format("an integer, ~b or more", [Lo]);
expected_text({int, Lo, Hi}) -> io_lib:format("an integer, ~b..~b", [Lo, Hi]);
expected_text({number, Lo, Hi}) -> io_lib:format("a number, ~s..~s", [num(Lo), num(Hi)]);
expected_text({enum, L}) -> ["one of ", lists:join(", ", [atom_to_list(A) || A <- L])];
expected_text(boolean) -> "true or false";
expected_text(text) -> "text (a string or a binary)";
expected_text({custom, _, Text}) -> Text.

num(N) when is_integer(N) -> integer_to_list(N);
num(N) -> float_to_list(N, [short]).

%% @doc The table of `Mode' as a markdown table (docs/options.md holds one per mode).
-spec markdown(atom()) -> binary().
markdown(Mode) ->
    Rows = [["| `", atom_to_list(K), "` | ", escape(expected(T)), " | ", default(D), " | ",
             escape(H), " |\n"] || {K, T, D, H} <- table(Mode)],
    unicode:characters_to_binary(["| option | accepts | default | what |\n",
                                  "|---|---|---|---|\n" | Rows]).

default(<<>>) -> "(none)";
default(B) when is_binary(B) -> ["`\"", B, "\"`"];
default(D) -> ["`", io_lib:format("~p", [D]), "`"].

escape(Text) ->
    string:replace(unicode:characters_to_list(Text), "|", "\\|", all).

%% @doc docs/options.md: every table, with what each is for (`make options-doc' writes
%% it; a test fails when the file differs).
-spec doc() -> binary().
doc() ->
    Sections = [{sample, "beamflame:sample/1,2, sample_cluster/2; `beamflame record` (default mode)"},
                {native, "beamflame:native/1,2; `beamflame record --mode native`"},
                {trace, "beamflame:trace/2,3 (a call you make)"},
                {capture, "beamflame:capture/3,4 (the next calls of a function); `beamflame "
                          "record --mode trace`"},
                {process, "beamflame:trace_process/2 (what a running process does)"},
                {render, "beamflame:svg/2, html/2, speedscope/2, write/3; `beamflame svg`"},
                {diff, "beamflame:diff/3; `beamflame diff`"},
                {dump, "beamflame_remote:dump/1; `beamflame dump`"},
                {continuous, "beamflame:continuous/1,2; `beamflame continuous start`"}],
    unicode:characters_to_binary(
      ["# Options\n\n",
       "Every option of every mode, generated from `src/beamflame_options.erl` (`make "
       "options-doc`;\na test fails when this file and the tables differ). The command "
       "line's flags for them carry\nthe same ranges, defaults and help (`beamflame help`, "
       "checked by the same tests). A bad\noption is always `{error, {bad_option, Key, "
       "Value, Expected}}`, and the command line prints\nthe same text with exit code 2.\n"
       | [["\n## ", atom_to_list(M), "\n\n", For, "\n\n", markdown(M)] || {M, For} <- Sections]]).
