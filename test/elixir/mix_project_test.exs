defmodule Beamflame.MixProjectTest do
  # An Elixir user's path: a fresh mix project with beamflame as a path dependency;
  # `mix compile` builds beamflame, C parts included, and the app can profile itself.
  use ExUnit.Case, async: false
  @moduletag timeout: 600_000

  test "a mix project with beamflame as a path dependency compiles and profiles" do
    repo = Path.expand("../..", __DIR__)
    dir = Path.join(System.tmp_dir!(), "beamflame_mix_#{System.unique_integer([:positive])}")
    File.mkdir_p!(Path.join(dir, "lib"))
    on_exit(fn -> File.rm_rf!(dir) end)

    File.write!(Path.join(dir, "mix.exs"), """
    defmodule Shop.MixProject do
      use Mix.Project
      def project, do: [app: :shop, version: "0.1.0", deps: [{:beamflame, path: #{inspect(repo)}}]]
      def application, do: [extra_applications: [:logger]]
    end
    """)

    File.write!(Path.join(dir, "lib/shop.ex"), """
    defmodule Shop do
      def checkout(n), do: Enum.map(1..n, &price/1) |> Enum.sum()
      def price(i), do: rem(i * 7919, 101)
    end
    """)

    env = [{"MIX_ENV", "dev"}]
    {out, status} = System.cmd("mix", ["compile"], cd: dir, env: env, stderr_to_stdout: true)
    assert status == 0, out

    script = """
    {:ok, _, p} = Beamflame.trace(fn -> Shop.checkout(200) end, weight: :calls)
    IO.puts(Beamflame.folded(p))
    """

    {out, status} = System.cmd("mix", ["run", "-e", script], cd: dir, env: env, stderr_to_stdout: true)
    assert status == 0, out
    assert out =~ ";Shop.checkout/1;Enum.map/2;"
    assert out =~ "Shop.price/1"
  end
end
