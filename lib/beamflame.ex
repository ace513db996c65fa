defmodule Beamflame do
  @moduledoc """
  Flame graphs of a live BEAM node, from iex, Livebook or your own code.

  A thin facade over the Erlang module `:beamflame` (the profiling itself is Erlang and C):
  keyword options map one to one onto its option maps, profiles come back as
  `Beamflame.Profile` structs that print compactly, and frame names read the Elixir way
  (`MyApp.Repo.all/2`).

  ## Modes

    * `sample/1`: stacks of the node's processes, sampled at a rate (no VM flags; cheap).
    * `trace/2`, `capture/2`, `trace_process/2`: exact call stacks of one call, of the next
      calls of a function, or of a process, weighted in microseconds.
    * `native/1`: the scheduler threads themselves, C frames and JIT-compiled Erlang frames
      in one stack (a port program with ptrace; whole Erlang chains on a node started
      with `+JPperf map`).

  Every local mode returns a `Beamflame.Profile`; render it with `svg/2`, `html/2`,
  `speedscope/2`, `folded/1` or `write!/3`.

  ## Other nodes

  `sample/2`, `native/2`, `trace/3` and `capture/3` take a node first: beamflame is loaded there if it
  lacks it (over a hidden connection; see `attach/1`), the run happens there, and what comes
  back is a map of binaries (`:folded`, `:svg`, `:html`) and an `:info` map, ready for
  `Kino.HTML` or `File.write!/2`. A run on another node is owned by the caller: if the
  caller dies or the connection drops, the node undoes everything the run set.

  ## Example

      iex> svg = Beamflame.svg("main;work 3\\nmain;idle 1\\n", title: "demo")
      iex> binary_part(svg, 0, 5)
      "<?xml"
  """

  alias Beamflame.Profile

  @typedoc "A node's name, e.g. `:\"app@host\"`."
  @type node_name :: node()
  @typedoc "A profile, or folded text (`frame;frame;frame count` lines)."
  @type source :: Profile.t() | iodata()

  @doc """
  Samples the stacks of this node's processes.

  Options: the sample table of docs/options.md (`:beamflame_options.table(:sample)`:
  `duration:`, `rate:`, `processes:`, `states:`, `group:` and the caps; a bad one is
  `{:error, {:bad_option, key, value, expected}}`). `info/1` has a `:hint` when the graph
  cannot be trusted as it is (most looks found processes at a receive, missed ticks).
  """
  @spec sample(keyword()) :: {:ok, Profile.t()} | {:error, term()}
  def sample(opts \\ []) when is_list(opts) do
    :beamflame.sample(Map.new(opts)) |> wrap()
  end

  @doc """
  Samples another node (loading beamflame there if needed) and returns
  `%{folded: binary, svg: binary, html: binary, info: map, truncated: boolean}`.
  """
  @spec sample(node_name(), keyword()) :: {:ok, map()} | {:error, term()}
  def sample(node, opts) when is_atom(node) and is_list(opts) do
    :beamflame.sample(node, Map.new(opts))
  end

  @doc """
  Samples this node's scheduler threads: C frames (BIFs, NIFs, the garbage collector, the
  scheduler loop) and the Erlang functions above them, rooted at the thread's name
  (`1_scheduler`, ...). `info/1`'s `:capability` says what the node could give: whole
  Erlang chains need `+JPperf map` at VM start.

  Options: the native table of docs/options.md (`duration:`, `rate:`, `dirty:`, `idle:`).
  """
  @spec native(keyword()) :: {:ok, Profile.t()} | {:error, term()}
  def native(opts \\ []) when is_list(opts) do
    :beamflame.native(Map.new(opts)) |> wrap()
  end

  @doc "`native/1` on another node (loading beamflame there if needed): a map of binaries."
  @spec native(node_name(), keyword()) :: {:ok, map()} | {:error, term()}
  def native(node, opts) when is_atom(node) and is_list(opts) do
    :beamflame.native(node, Map.new(opts))
  end

  @doc """
  Runs `fun` (or `{module, function, args}`) with call tracing and returns its value and
  a profile of exact stacks in microseconds. An exception from the call is re-raised after
  the tracing is undone.

  Options: the trace table of docs/options.md (`spawn:`, `follow:`, `modules:`,
  `timeout:`, `weight:`, `recursion:`, `tail_calls:`, the caps, ...).
  """
  @spec trace((-> any()) | {module(), atom(), list()}, keyword()) ::
          {:ok, any(), Profile.t()} | {:error, term()}
  def trace(fun_or_mfa, opts \\ []) when is_list(opts) do
    case :beamflame.trace(fun_or_mfa, Map.new(opts)) do
      {:ok, value, ref} -> {:ok, value, Profile.new(ref)}
      {:error, _} = error -> error
    end
  end

  @doc """
  Traces `{module, function, args}` on another node; returns its value with the binaries:
  `%{value: term, folded: binary, svg: binary, html: binary, info: map}`.
  """
  @spec trace(node_name(), {module(), atom(), list()}, keyword()) ::
          {:ok, map()} | {:error, term()}
  def trace(node, {_, _, _} = mfa, opts) when is_atom(node) and is_list(opts) do
    :beamflame.trace(node, mfa, Map.new(opts))
  end

  @doc """
  Traces the next `calls:` (default 1) calls of `{module, function, arity}` made by any
  process, waiting up to `timeout:` ms (default 60 000). One profile per call.
  """
  @spec capture(mfa(), keyword()) :: {:ok, [Profile.t()]} | {:error, term()}
  def capture({_, _, _} = mfa, opts \\ []) when is_list(opts) do
    {calls, opts} = Keyword.pop(opts, :calls, 1)

    case :beamflame.capture(mfa, calls, Map.new(opts)) do
      {:ok, refs} -> {:ok, Enum.map(refs, &Profile.new/1)}
      {:error, _} = error -> error
    end
  end

  @doc "`capture/2` on another node: one map of binaries per captured call."
  @spec capture(node_name(), mfa(), keyword()) :: {:ok, [map()]} | {:error, term()}
  def capture(node, {_, _, _} = mfa, opts) when is_atom(node) and is_list(opts) do
    {calls, opts} = Keyword.pop(opts, :calls, 1)
    :beamflame.capture(node, mfa, calls, Map.new(opts))
  end

  @doc "Traces what an existing local process does for `duration:` ms (default 5000)."
  @spec trace_process(pid(), keyword()) :: {:ok, Profile.t()} | {:error, term()}
  def trace_process(pid, opts \\ []) when is_pid(pid) and is_list(opts) do
    :beamflame.trace_process(pid, Map.new(opts)) |> wrap()
  end

  @doc """
  Samples several nodes at once and merges them under root frames named after the nodes;
  a failing node is reported in the status map and does not lose the others.
  """
  @spec sample_cluster([node_name()], keyword()) ::
          {:ok, Profile.t(), %{node_name() => :ok | {:error, term()}}} | {:error, term()}
  def sample_cluster(nodes, opts \\ []) when is_list(nodes) and is_list(opts) do
    case :beamflame.sample_cluster(nodes, Map.new(opts)) do
      {:ok, ref, status} -> {:ok, Profile.new(ref), status}
      {:error, _} = error -> error
    end
  end

  @doc """
  Loads beamflame into a node that lacks it, over a hidden connection (OTP release, NIF
  version, architecture and word size checked first). Idempotent.
  """
  @spec attach(node_name()) :: :ok | {:error, term()}
  defdelegate attach(node), to: :beamflame

  @doc "Removes from a node what `attach/1` loaded there."
  @spec detach(node_name()) :: :ok | {:error, term()}
  defdelegate detach(node), to: :beamflame

  @doc "The profile as folded stacks (`frame;frame;frame count` lines, sorted)."
  @spec folded(Profile.t()) :: binary()
  def folded(%Profile{ref: ref}), do: :beamflame.folded(ref)

  @doc """
  An interactive SVG flame graph of a profile or of folded text.

  Options: `title:`, `subtitle:`, `count_name:`, `width:`, `min_width:` (pixels, or
  `{:percent, p}`), `frame_height:`, `font_size:`, `palette:` (`:hot` or `:beam`),
  `inverted:`, `reverse:`, `flamechart:`, `interactive:`, `max_frames:`.
  """
  @spec svg(source(), keyword()) :: binary() | {:error, term()}
  def svg(source, opts \\ []), do: :beamflame.svg(unwrap(source), Map.new(opts))

  @doc "The same graph in a self-contained HTML page (for `Kino.HTML`, which runs scripts)."
  @spec html(source(), keyword()) :: binary() | {:error, term()}
  def html(source, opts \\ []), do: :beamflame.html(unwrap(source), Map.new(opts))

  @doc "The profile as speedscope JSON (https://www.speedscope.app)."
  @spec speedscope(source(), keyword()) :: binary() | {:error, term()}
  def speedscope(source, opts \\ []), do: :beamflame.speedscope(unwrap(source), Map.new(opts))

  @doc """
  A differential flame graph: widths from `after`, red where a frame grew, blue where it
  shrank. Extra options: `normalize:` (compare shares), `format:` (`:svg` or `:html`).
  """
  @spec diff(source(), source(), keyword()) :: binary() | {:error, term()}
  def diff(before, after_, opts \\ []) do
    :beamflame.diff(unwrap(before), unwrap(after_), Map.new(opts))
  end

  @doc """
  The profile (or folded text) as pprof: a gzipped profile.proto for `go tool pprof`,
  Pyroscope or Parca.
  """
  @spec pprof(source()) :: binary() | {:error, term()}
  def pprof(source), do: :beamflame.pprof(unwrap(source))

  @doc """
  Starts always-on profiling of this node (or of `node`): a low-rate sampler owned by the
  node's beamflame application, kept in slices under a memory cap. Options: the continuous
  table of docs/options.md (`rate:`, `slice:`, `keep:`, `max_bytes:`, `push:`, ...).
  """
  @spec continuous(keyword()) :: :ok | {:error, term()}
  def continuous(opts \\ []) when is_list(opts), do: :beamflame.continuous(Map.new(opts))

  @spec continuous(node_name(), keyword()) :: :ok | {:error, term()}
  def continuous(node, opts) when is_atom(node) and is_list(opts),
    do: :beamflame.continuous(node, Map.new(opts))

  @doc "Ends always-on profiling (on this node, or on `node`)."
  @spec continuous_stop(node_name() | nil) :: :ok | {:error, term()}
  def continuous_stop(node \\ nil)
  def continuous_stop(nil), do: :beamflame.continuous_stop()
  def continuous_stop(node), do: :beamflame.continuous_stop(node)

  @doc "What always-on profiling holds: rate, window, memory, slices, drops."
  @spec continuous_info(node_name() | nil) :: map() | {:error, term()}
  def continuous_info(node \\ nil)
  def continuous_info(nil), do: :beamflame.continuous_info()
  def continuous_info(node), do: :beamflame.continuous_info(node)

  @doc """
  A window of always-on profiling as an ordinary profile: `last: seconds`, or `from:` and
  `to:` (`System.system_time(:second)` or `{{y, m, d}, {h, mi, s}}` UTC). On another node:
  a map of binaries.
  """
  @spec history(keyword()) :: {:ok, Profile.t()} | {:error, term()}
  def history(window) when is_list(window), do: :beamflame.history(Map.new(window)) |> wrap()

  @spec history(node_name(), keyword()) :: {:ok, map()} | {:error, term()}
  def history(node, window) when is_atom(node) and is_list(window),
    do: :beamflame.history(node, Map.new(window))

  @doc """
  Writes a profile to `path` in the format its extension names (`.svg`, `.html`, `.json`,
  `.folded`, `.pb.gz`); raises on failure. Returns `path`.
  """
  @spec write!(Profile.t(), Path.t(), keyword()) :: Path.t()
  def write!(%Profile{ref: ref}, path, opts \\ []) do
    case :beamflame.write(ref, path, Map.new(opts)) do
      :ok -> path
      {:error, reason} -> raise ArgumentError, "beamflame: cannot write #{path}: #{inspect(reason)}"
    end
  end

  @doc "What a profile holds: mode, duration, samples, stacks, drops, the run's counters."
  @spec info(Profile.t()) :: map()
  def info(%Profile{ref: ref}), do: :beamflame.info(ref)

  @doc "Reads folded text from any tool (perf, eflambe, beamflame) into a profile."
  @spec read_folded(iodata()) :: {:ok, Profile.t(), map()} | {:error, term()}
  def read_folded(text) do
    case :beamflame.read_folded(text) do
      {:ok, ref, report} -> {:ok, Profile.new(ref), report}
      {:error, _} = error -> error
    end
  end

  defp wrap({:ok, ref}) when is_reference(ref), do: {:ok, Profile.new(ref)}
  defp wrap({:error, _} = error), do: error

  defp unwrap(%Profile{ref: ref}), do: ref
  defp unwrap(folded), do: folded
end
