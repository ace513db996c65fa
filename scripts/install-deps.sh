#!/usr/bin/env bash
# Installs, from Debian's package archive, whatever beamflame needs to build and test that
# is not already installed; does nothing (and needs no network) when everything is present.
# Called by `make demo`, `make test` and `.ci/run`. Needs root or sudo only when something
# is missing.
set -euo pipefail

# Build and run: compiler, Erlang/OTP with headers and erl_interface, rebar3, libunwind
# (native mode), Criterion (C unit tests), Elixir (facade). Browser tests: Debian's
# Chromium (driven by playwright-core from npm; no browser is downloaded). Fuzzing:
# clang with its libFuzzer runtime.
PACKAGES=(
  build-essential pkg-config
  erlang-nox erlang-dev rebar3
  libunwind-dev libcriterion-dev
  elixir
  chromium
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

# Node.js and npm (browser tests): any install will do; Debian's if there is none.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: need root to install ${missing[*]}: run as root or install them with apt-get" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
