# beamflame as a Mix project, for Elixir users: add it as a path or git dependency and
# `mix compile` builds the C parts (make -C c_src, the same build rebar3 runs), the Erlang
# sources in src/ and the Elixir facade in lib/. No Hex package is needed.
defmodule Beamflame.MixProject do
  use Mix.Project

  # the version lives in one place: src/beamflame.app.src
  {:ok, [{:application, :beamflame, app}]} =
    :file.consult(Path.join(__DIR__, "src/beamflame.app.src"))

  @version to_string(app[:vsn])

  def project do
    [
      app: :beamflame,
      version: @version,
      elixir: "~> 1.14",
      compilers: [:beamflame_c] ++ Mix.compilers(),
      erlc_paths: ["src"],
      elixirc_paths: ["lib"],
      test_paths: ["test/elixir"],
      # apart from rebar3's _build/default and _build/test
      build_path: "_build/mix",
      deps: [],
      docs: [main: "Beamflame"]
    ]
  end

  def application do
    [mod: {:beamflame_app, []}, registered: [:beamflame_sup, :beamflame_flags],
     extra_applications: []]
  end
end

defmodule Mix.Tasks.Compile.BeamflameC do
  @shortdoc "Builds beamflame's C parts (NIF library, command line) with make"
  @moduledoc "Runs `make -C c_src` in beamflame's directory; the results land in priv/."
  use Mix.Task.Compiler

  @impl true
  def run(_args) do
    dir = Path.join(Path.dirname(__ENV__.file), "c_src")

    case System.cmd("make", ["-C", dir, "--no-print-directory"], stderr_to_stdout: true) do
      {_, 0} ->
        {:ok, []}

      {out, status} ->
        Mix.shell().error(out)
        Mix.raise("beamflame: make -C #{dir} failed (exit #{status}); " <>
                    "install build-essential, erlang-dev and pkg-config")
    end
  end
end
