defmodule Beamflame.TestWork do
  @moduledoc false
  def fib(0), do: 0
  def fib(1), do: 1
  def fib(n), do: fib(n - 1) + fib(n - 2)

  def target(n), do: fib(n) + 1

  def calling(0), do: :ok
  def calling(n), do: (Process.sleep(20); target(5); calling(n - 1))

  def busy, do: (fib(15); busy())
end

defmodule BeamflameTest do
  use ExUnit.Case, async: false
  doctest Beamflame

  alias Beamflame.TestWork

  test "sample/1 returns a profile that prints compactly" do
    pid = spawn(&TestWork.busy/0)
    {:ok, profile} = Beamflame.sample(duration: 300, processes: [pid])
    Process.exit(pid, :kill)
    text = inspect(profile)
    assert text =~ ~r/^#Beamflame.Profile<sample, \d+ ms, \d+ samples, \d+ stacks; top: /
    assert text =~ "Beamflame.TestWork.fib/1"
    assert Beamflame.folded(profile) =~ "Beamflame.TestWork.busy/0"
    assert %{mode: :sample} = Beamflame.info(profile)
  end

  test "continuous/1, history/1 and pprof/1: a window of always-on profiling as pprof" do
    pid = spawn(&TestWork.busy/0)
    :ok = Beamflame.continuous(slice: 1, rate: 99)
    Process.sleep(2500)
    assert %{running: true, slices: slices} = Beamflame.continuous_info()
    assert slices >= 1
    {:ok, window} = Beamflame.history(last: 3)
    Process.exit(pid, :kill)
    assert Beamflame.folded(window) =~ "Beamflame.TestWork.fib/1"
    assert <<31, 139, _::binary>> = Beamflame.pprof(window)
    :ok = Beamflame.continuous_stop()
    assert %{running: false} = Beamflame.continuous_info()
  end

  test "native/1 samples the scheduler threads, Elixir frames named the Elixir way" do
    pid = spawn(&TestWork.busy/0)
    {:ok, profile} = Beamflame.native(duration: 500, idle: false)
    Process.exit(pid, :kill)
    assert inspect(profile) =~ ~r/^#Beamflame.Profile<native, /
    assert %{mode: :native, capability: capability} = Beamflame.info(profile)
    assert is_binary(capability)
    folded = Beamflame.folded(profile)
    assert folded =~ ~r/^(\d+_scheduler|erts_sched_\d+);/m
    assert folded =~ "Beamflame.TestWork.fib/1"
    assert {:error, {:bad_option, :rate, 0, _}} = Beamflame.native(rate: 0)
  end

  test "trace/2 runs the call and names Elixir frames the Elixir way" do
    {:ok, 5, profile} = Beamflame.trace(fn -> TestWork.fib(5) end, weight: :calls)
    folded = Beamflame.folded(profile)
    # recursion folds by default: fib(5)'s 15 calls are one frame
    assert folded =~ ";Beamflame.TestWork.fib/1 15\n"
    {:ok, 5, kept} = Beamflame.trace(fn -> TestWork.fib(5) end, weight: :calls, recursion: :keep)
    assert Beamflame.folded(kept) =~ ";Beamflame.TestWork.fib/1;Beamflame.TestWork.fib/1 "
    assert inspect(profile) =~ "calls"
    {:ok, 4, _} = Beamflame.trace({TestWork, :target, [4]})
    assert {:error, {:bad_option, :bogus, 1, _}} = Beamflame.trace(fn -> :ok end, bogus: 1)
  end

  test "trace/2 re-raises the call's exception" do
    assert_raise ArithmeticError, fn -> Beamflame.trace(fn -> 1 / Enum.count([]) end) end
  end

  test "capture/2 traces the next calls made by another process" do
    spawn(fn -> TestWork.calling(10) end)
    {:ok, [p1, p2]} = Beamflame.capture({TestWork, :target, 1}, calls: 2, timeout: 5000)
    for p <- [p1, p2], do: assert(Beamflame.folded(p) =~ "Beamflame.TestWork.target/1")
  end

  test "trace_process/2 traces an existing process" do
    pid = spawn(&TestWork.busy/0)
    {:ok, profile} = Beamflame.trace_process(pid, duration: 200)
    Process.exit(pid, :kill)
    assert Beamflame.folded(profile) =~ "Beamflame.TestWork.fib/1"
  end

  test "outputs: svg, html, speedscope, diff, write!, read_folded" do
    {:ok, before, %{malformed: 0}} = Beamflame.read_folded("a;b 2\na;c 2\n")
    {:ok, after_, _} = Beamflame.read_folded("a;b 1\na;c 5\n")
    assert "<?xml" <> _ = Beamflame.svg(after_, title: "t")
    assert Beamflame.html(after_) =~ "<html"
    assert Beamflame.speedscope(after_) =~ "speedscope"
    assert Beamflame.diff(before, after_, normalize: true) =~ "<svg"
    path = Path.join(System.tmp_dir!(), "beamflame_ex_#{System.unique_integer([:positive])}.folded")
    assert ^path = Beamflame.write!(after_, path)
    assert File.read!(path) == "a;b 1\na;c 5\n"
    File.rm!(path)
    assert_raise ArgumentError, fn -> Beamflame.write!(after_, "/nonexistent/x.svg") end
    assert {:error, {:bad_option, :width, 1, _}} = Beamflame.svg(after_, width: 1)
  end

  describe "another node" do
    @describetag :distributed

    setup do
      cookie = Atom.to_charlist(Node.get_cookie())
      name = :"bf_ex_#{System.unique_integer([:positive])}"
      # the node's own workload: a process calling lists:seq/2 every 20 ms
      work = ~c"spawn(fun F() -> lists:seq(1, 2000), timer:sleep(20), F() end)"
      args = [~c"-setcookie", cookie, ~c"-hidden", ~c"-eval", work]
      {:ok, peer, node} = :peer.start_link(%{name: name, args: args})
      on_exit(fn -> catch_exit(:peer.stop(peer)) end)
      %{node: node}
    end

    test "attach, sample, trace, capture, cluster, detach", %{node: node} do
      assert :erpc.call(node, :code, :is_loaded, [:beamflame]) == false
      assert :ok = Beamflame.attach(node)
      assert node in Node.list(:hidden)
      refute node in Node.list()
      {:ok, %{svg: svg, html: html, folded: _, info: %{mode: :sample}}} =
        Beamflame.sample(node, duration: 300, states: :wall)
      assert "<?xml" <> _ = svg
      assert html =~ "<html"
      {:ok, %{value: [1, 2, 3], folded: folded}} =
        Beamflame.trace(node, {:lists, :sort, [[3, 1, 2]]}, [])
      assert folded =~ "lists:sort/1"
      {:ok, [%{folded: cap}]} = Beamflame.capture(node, {:lists, :seq, 2}, calls: 1, timeout: 5000)
      assert cap =~ "lists:seq/2"
      {:ok, %{svg: nsvg, info: %{mode: :native}}} = Beamflame.native(node, duration: 300)
      assert "<?xml" <> _ = nsvg
      {:ok, merged, %{^node => :ok}} = Beamflame.sample_cluster([node], duration: 200, states: :wall)
      assert Beamflame.folded(merged) =~ Atom.to_string(node)
      assert :ok = Beamflame.detach(node)
      assert :erpc.call(node, :code, :is_loaded, [:beamflame]) == false
    end
  end
end
