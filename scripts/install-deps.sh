#!/usr/bin/env bash
# Installs, from Debian's package archive, whatever beamflame needs to build and test that
# is not already installed; does nothing (and needs no network) when everything is present.
# Called by `make demo`, `make test` and `.ci/run`. Needs root or sudo only when something
# is missing. Works on Debian 12 (bookworm), 13 (trixie) and sid, and says what it installs.
set -euo pipefail

# Build and run: compiler, Erlang/OTP with headers and erl_interface, rebar3, libunwind
# (native mode), Criterion (C unit tests), Elixir (facade). Browser tests: Debian's
# Chromium (driven by playwright-core from npm; no browser is downloaded). Fuzzing:
# clang with its libFuzzer runtime (see clang_rt below). `beamflame top` is tested in a
# real terminal: tmux. pprof output: zlib (gzip), and Go's own reader (`go tool pprof`,
# golang-go) in the tests.
PACKAGES=(
  build-essential pkg-config
  erlang-nox erlang-dev rebar3
  libunwind-dev libcriterion-dev zlib1g-dev
  golang-go
  elixir
  chromium
  clang
  tmux
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# libFuzzer's runtime ships per clang major version (Debian 12: clang 14 and
# libclang-rt-14-dev; 13: 19; sid: newer), so it is chosen by the clang this machine has,
# or else by the one the archive's `clang` package depends on.
clang_rt() {
  local v=""
  if command -v clang >/dev/null 2>&1; then
    v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
  fi
  if [ -z "$v" ]; then
    v=$(apt-cache depends clang 2>/dev/null |
        sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
  fi
  if [ -n "$v" ]; then echo "libclang-rt-$v-dev"; fi
}

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
rt=$(clang_rt)
if [ -n "$rt" ] && ! installed "$rt"; then missing+=("$rt"); fi

# Node.js and npm (browser tests): any install will do; Debian's if there is none.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

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
echo "install-deps: reading the package lists of $(. /etc/os-release && echo "$PRETTY_NAME")" >&2
$SUDO apt-get update -qq
# Without package lists clang's version could not be asked above: ask again now.
if [ -z "$rt" ]; then
  rt=$(clang_rt)
  if [ -n "$rt" ]; then missing+=("$rt"); fi
fi
if [ -z "$rt" ]; then
  echo "install-deps: the archive offers no clang-N package: fuzzing (make -C c_src fuzz) will not build" >&2
fi
echo "install-deps: installing missing Debian packages: ${missing[*]}" >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
