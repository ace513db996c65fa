defmodule Beamflame.Profile do
  @moduledoc """
  A profile: a handle to merged stacks held in C on the node that made it (freed when no
  longer referenced). It prints as its mode, duration, size and heaviest leaf frames.
  """
  @enforce_keys [:ref]
  defstruct [:ref]

  @type t :: %__MODULE__{ref: reference()}

  @doc false
  def new(ref) when is_reference(ref), do: %__MODULE__{ref: ref}

  @doc "The `n` leaf frames with the most weight, as `{frame, weight}`."
  @spec top(t(), pos_integer()) :: [{String.t(), non_neg_integer()}]
  def top(%__MODULE__{ref: ref}, n \\ 3) do
    ref
    |> :beamflame.folded()
    |> String.split("\n", trim: true)
    |> Enum.reduce(%{}, fn line, acc ->
      case :binary.split(line, " ", [:global]) |> Enum.split(-1) do
        {stack, [count]} ->
          leaf = stack |> Enum.join(" ") |> String.split(";") |> List.last()
          Map.update(acc, leaf, String.to_integer(count), &(&1 + String.to_integer(count)))

        _ ->
          acc
      end
    end)
    |> Enum.sort_by(fn {_, w} -> -w end)
    |> Enum.take(n)
  end

  defimpl Inspect do
    # above this many stacks, listing the top frames would read a large folded text
    @max_listed 50_000

    def inspect(%Beamflame.Profile{ref: ref} = p, _opts) do
      info = :beamflame.info(ref)
      unit = if info[:unit] in [:us, :calls], do: Atom.to_string(info[:unit]), else: "samples"

      top =
        if info[:stacks] <= @max_listed do
          p |> Beamflame.Profile.top(3) |> Enum.map_join(", ", fn {f, w} -> "#{f} (#{w})" end)
        else
          "(too many stacks to list)"
        end

      mode = info[:mode] || :folded
      duration = if info[:duration_ms], do: " #{info[:duration_ms]} ms,", else: ""

      "#Beamflame.Profile<#{mode},#{duration} #{info[:weight]} #{unit}, " <>
        "#{info[:stacks]} stacks; top: #{top}>"
    end
  end
end
