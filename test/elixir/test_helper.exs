# The :distributed tests need this node to be alive: run them as the README's test command
# does, `elixir --sname beamflame_ex -S mix test`. Without a name they are excluded, and
# the summary says so.
if Node.alive?() do
  ExUnit.start()
else
  IO.puts(:stderr, "beamflame: not a distributed node: excluding :distributed tests " <>
                     "(run `elixir --sname beamflame_ex -S mix test` to include them)")
  ExUnit.start(exclude: [:distributed])
end
