defmodule Beamflame.NotebookTest do
  # Runs notebooks/beamflame.livemd as written: its Elixir cells, in order, in an
  # `elixir --sname ... --hidden` process (what Livebook's standalone runtime is), against a
  # real target node that never loaded beamflame (the demo shop: a gen_server and two
  # clients). Only two things differ from Livebook: the setup cell (Mix.install) is not
  # run, beamflame being on the code path already; and Kino is the stand-in below, which
  # checks what each call receives and prints a line the test reads.
  use ExUnit.Case, async: false
  @moduletag timeout: 300_000

  @kino_stand_in ~S'''
  defmodule Kino.HTML do
    def new(html) do
      true = is_binary(html) and String.contains?(html, "<svg")
      IO.puts("KINO HTML #{byte_size(html)} demo_shop=#{String.contains?(html, "demo_shop:")}")
      %{kino: :html}
    end
  end

  defmodule Kino.Image do
    def new("<?xml" <> _ = svg, :svg), do: (IO.puts("KINO IMAGE #{byte_size(svg)}"); %{kino: :image})
  end

  defmodule Kino.Download do
    def new(fun, opts) do
      data = fun.()
      true = is_binary(data)
      IO.puts("KINO DOWNLOAD #{opts[:filename]} #{byte_size(data)}")
      %{kino: :download}
    end
  end

  defmodule Kino.Input do
    def text(label, opts), do: %{label: label, default: Keyword.fetch!(opts, :default)}
    def read(%{default: value}), do: value
  end
  '''

  test "the notebook's cells run in order against a real node" do
    repo = Path.expand("../..", __DIR__)
    tmp = Path.join(System.tmp_dir!(), "beamflame_nb_#{System.unique_integer([:positive])}")
    File.mkdir_p!(tmp)
    on_exit(fn -> File.rm_rf!(tmp) end)

    # the target: the demo shop, without beamflame (with +JPperf map, for native mode)
    {:ok, :demo_shop} =
      :compile.file(String.to_charlist(Path.join(repo, "demo/demo_shop.erl")),
                    outdir: String.to_charlist(tmp))
    name = "bf_nb_target_#{System.unique_integer([:positive])}"
    cookie = "nbcookie#{System.unique_integer([:positive])}"
    port = Port.open({:spawn_executable, System.find_executable("erl")},
                     [:binary, :exit_status,
                      args: ["+JPperf", "map", "-sname", name, "-setcookie", cookie,
                             "-noshell", "-pa", tmp,
                             "-eval", "ok = demo_shop:start()."]])
    {:os_pid, os_pid} = Port.info(port, :os_pid)
    on_exit(fn -> System.cmd("kill", [Integer.to_string(os_pid)]) end)
    wait_registered(name, 100)
    [_, host] = String.split(Atom.to_string(node()), "@")

    # the notebook's cells, setup cell aside
    cells =
      Regex.scan(~r/```elixir\n(.*?)```/s, File.read!(Path.join(repo, "notebooks/beamflame.livemd")),
                 capture: :all_but_first)
      |> Enum.map(&hd/1)
      |> Enum.reject(&String.contains?(&1, "Mix.install"))

    assert length(cells) >= 8
    script = Path.join(tmp, "notebook.exs")
    File.write!(script, [@kino_stand_in, "\n", Enum.join(cells, "\n"), "\nIO.puts(\"NOTEBOOK DONE\")\n"])

    ebin = :code.which(:beamflame) |> to_string() |> Path.dirname()
    {out, status} =
      System.cmd("elixir", ["--sname", "bf_nb_#{System.unique_integer([:positive])}", "--hidden",
                            "-pa", ebin, script],
                 env: [{"LB_APP_NODE", "#{name}@#{host}"}, {"LB_APP_COOKIE", cookie}],
                 stderr_to_stdout: true)

    assert status == 0, out
    assert out =~ "NOTEBOOK DONE"
    html = Regex.scan(~r/KINO HTML \d+ demo_shop=(\w+)/, out, capture: :all_but_first)
    assert length(html) == 5, out
    # the sampled and the diffed graphs show the shop's code (the captured calls are the
    # clients' gen_server:call/3, whose work happens in the server process)
    assert hd(html) == ["true"] and List.last(html) == ["true"], out
    assert out =~ "KINO IMAGE"
    assert out =~ "KINO DOWNLOAD flame.svg"
    assert out =~ "3 calls traced"
    assert out =~ "full: C frames and the Erlang call chain"
  end

  defp wait_registered(_name, 0), do: flunk("the target node did not register with epmd")

  defp wait_registered(name, n) do
    {names, _} = System.cmd("epmd", ["-names"])

    if String.contains?(names, "name #{name} ") do
      :ok
    else
      Process.sleep(100)
      wait_registered(name, n - 1)
    end
  end
end
