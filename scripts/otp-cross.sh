#!/usr/bin/env bash
# Cross-release recording, run by scripts/otp-matrix.sh for one prepared chroot (mounted,
# tree built inside at /build/beamflame): the chroot's nodes share this machine's network
# and epmd, so no VM is needed.
#
#   1. the host's command line (built on the host's OTP) records a node of the chroot's
#      release in sample mode and in trace mode, as it records any production node;
#   2. the command line built in the chroot meets a node of the host's release: with a
#      recording, or with the refusal that names the build needed (exit 9).
#
#   scripts/otp-cross.sh CHROOT_DIR            exit 0 when every check passed
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$1
cookie="bfx$RANDOM$RANDOM"
tmp=$(mktemp -d)
fail=0
guest="bfx_guest_$$"
host_node="bfx_host_$$"

in_chroot() {
  chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"
}

# A node that keeps calling lists:sort/1 (trace mode captures it) and burns CPU.
WORK='spawn(fun L() -> _ = lists:sort([3,1,2]), timer:sleep(2), L() end), spawn(fun B() -> _ = lists:seq(1, 2000), B() end)'

cleanup() {
  in_chroot "erl -sname bfx_stop_$$ -setcookie $cookie -noshell -eval 'rpc:call(list_to_atom(\"$guest@\" ++ net_adm:localhost()), init, stop, []), halt().'" >/dev/null 2>&1 || true
  erl -sname "bfx_stop2_$$" -setcookie "$cookie" -noshell \
    -eval "rpc:call(list_to_atom(\"$host_node@\" ++ net_adm:localhost()), init, stop, []), halt()." >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

check() { # name, command...
  local name=$1; shift
  if "$@" >"$tmp/$name.log" 2>&1; then
    echo "otp-cross: $name: passed" >&2
  else
    echo "otp-cross: $name: FAILED" >&2
    tail -n 20 "$tmp/$name.log" >&2
    fail=1
  fi
}

host=$(hostname -s)
in_chroot "erl -sname $guest -setcookie $cookie -noshell -detached -eval '$WORK'"
erl -sname "$host_node" -setcookie "$cookie" -noshell -detached -eval "$WORK"
sleep 2

record_guest_sample() {
  BEAMFLAME_COOKIE=$cookie priv/beamflame record "$guest@$host" --duration 1 -o "$tmp/s.folded" &&
    grep -q "lists:" "$tmp/s.folded"
}
record_guest_trace() {
  BEAMFLAME_COOKIE=$cookie priv/beamflame record "$guest@$host" --mode trace \
    --call lists:sort/1 --calls 1 --duration 10 -o "$tmp/t.folded" &&
    grep -q "lists:sort/1" "$tmp/t.folded"
}
# A newer command line and an older node: a recording, or exit 9 naming the build needed.
record_host_from_guest() {
  local rc=0
  in_chroot "cd ${BEAMFLAME_TREE:-/build/beamflame} && BEAMFLAME_COOKIE=$cookie priv/beamflame record $host_node@$host --duration 1 -o /tmp/bfx.folded" || rc=$?
  case $rc in
    0) grep -q "lists:" "$dir/tmp/bfx.folded" ;;
    9) grep -q "built with OTP" "$tmp/record_host_from_guest.log" ;;
    *) return 1 ;;
  esac
}

check record_guest_sample record_guest_sample
check record_guest_trace record_guest_trace
check record_host_from_guest record_host_from_guest
cat "$tmp/record_host_from_guest.log" >&2
exit $fail
