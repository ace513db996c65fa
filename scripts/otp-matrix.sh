#!/usr/bin/env bash
# The OTP release matrix (`make test-otp`): every test layer of this tree, run inside bare
# Debian chroots of other releases, then one table of release x layer x result.
#
#   scripts/otp-matrix.sh                  the default releases (see SUITES)
#   scripts/otp-matrix.sh trixie           one of them
#   BEAMFLAME_CHROOTS=/dir scripts/...     where the prepared chroots are cached
#
# A chroot is made once with `debootstrap --variant=minbase SUITE` from this machine's own
# Debian archive, with only git, make and ca-certificates added (what a newcomer has), and
# kept under $BEAMFLAME_CHROOTS; the packages `make test` installs into it stay there, so a
# second run rebuilds nothing. Each run copies this working tree (no build output) into the
# chroot, mounts /proc, /sys, /dev and /dev/pts for the run only and unmounts them after,
# whatever happens. Nothing here ever copies or deletes a chroot that has a mount inside:
# a recursive delete through a bind-mounted /dev empties the host's /dev.
#
# Layers run one by one (C, EUnit, CT, ExUnit, then `make demo`, which must write its SVG;
# the browser layer stays on the host, which runs it in `make test`), so one failing layer
# does not hide the others; then `cross`
# (scripts/otp-cross.sh): the host's command line records the release's nodes, and the
# release's command line meets a host node. Exit status: 0 when every layer of every
# release passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# bookworm (OTP 25: the host's release, but bare: no host name in /etc/hosts), trixie (27),
# sid (29); the table reads each one's real release
SUITES=(${BEAMFLAME_OTP_SUITES:-bookworm trixie sid})
[ $# -gt 0 ] && SUITES=("$@")
CACHE=${BEAMFLAME_CHROOTS:-/var/cache/beamflame/chroots}
LAYERS=(test-c test-eunit test-ct test-elixir demo)
COLUMNS=(build "${LAYERS[@]}" cross)
BASE_PKGS=git,make,ca-certificates

log() { echo "otp-matrix: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "needs root (debootstrap, chroot and mount): run it as root or with sudo"
  exit 1
fi

# The mirror this machine installs from: the chroots come from the same archive.
mirror() {
  local m
  m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$m" ] || m=$(awk '/^deb / && $2 ~ /^http/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

mounted_inside() { # prints the mount points below $1 (none: nothing printed)
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts
}

unmount_all() {
  local dir=$1 m
  for m in $(mounted_inside "$dir" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# Makes $CACHE/$1 once: debootstrap into a temporary name, then rename (a half-made
# chroot is never taken for a ready one).
prepare() {
  local suite=$1 dir=$CACHE/$1
  if [ -f "$dir/.beamflame-ready" ]; then
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || return 1
  }
  mkdir -p "$CACHE"
  local tmp=$dir.tmp
  if [ -n "$(mounted_inside "$tmp")" ]; then
    log "$tmp has mounts inside: unmount them first (see /proc/mounts)"
    return 1
  fi
  if [ -e "$dir" ] && [ ! -f "$dir/.beamflame-ready" ]; then
    log "$dir exists but is not a prepared chroot: remove it by hand (check /proc/mounts first)"
    return 1
  fi
  rm -rf "$tmp"
  log "debootstrap $suite (minbase + $BASE_PKGS) from $(mirror) into $dir: a few minutes, once"
  debootstrap --variant=minbase --include="$BASE_PKGS" "$suite" "$tmp" "$(mirror)" \
    > "$CACHE/$suite.debootstrap.log" 2>&1 || {
    log "debootstrap $suite failed: see $CACHE/$suite.debootstrap.log"
    return 1
  }
  # sid's Release file is often past its Valid-Until on a snapshot mirror
  echo 'Acquire::Check-Valid-Until "false";' > "$tmp/etc/apt/apt.conf.d/99beamflame"
  # what a bare image has: no host name in /etc/hosts (the case ei must resolve itself)
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$tmp/etc/hosts"
  touch "$tmp/.beamflame-ready"
  mv "$tmp" "$dir"
}

mount_run() {
  local dir=$1 d
  for d in proc sys dev dev/pts; do
    mkdir -p "$dir/$d"
    mount --bind "/$d" "$dir/$d" || return 1
  done
  # the host's resolver, so apt reaches the archive
  cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
}

# Copies this tree, without build output, to $dir/build/beamflame (a fresh clone's view).
copy_tree() {
  local dir=$1
  rm -rf "$dir/build/beamflame"
  mkdir -p "$dir/build/beamflame"
  tar -C "$ROOT" --exclude=./_build --exclude=./c_src/build --exclude=./out \
      --exclude=./bench/out --exclude=node_modules --exclude=./deps \
      --exclude=./priv/beamflame --exclude=./priv/beamflame_nif.so \
      --exclude=./priv/beamflame_native -cf - . | tar -C "$dir/build/beamflame" -xf -
}

in_chroot() { # dir, command
  chroot "$1" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /build/beamflame && $2"
}

declare -A RESULT OTP
status=0
# the host's command line, for the cross-release column
[ -x priv/beamflame ] || make --no-print-directory build >/dev/null
for suite in "${SUITES[@]}"; do
  dir=$CACHE/$suite
  if ! prepare "$suite"; then
    for l in "${COLUMNS[@]}"; do RESULT[$suite,$l]="not run"; done
    RESULT[$suite,prepare]=failed
    status=1
    continue
  fi
  RESULT[$suite,prepare]=passed
  trap 'unmount_all "$dir"' EXIT
  if ! mount_run "$dir"; then
    unmount_all "$dir"
    log "cannot mount /proc, /sys, /dev into $dir"
    RESULT[$suite,prepare]=failed
    status=1
    continue
  fi
  copy_tree "$dir"
  logs=$ROOT/_build/otp-matrix/$suite
  mkdir -p "$logs"
  t0=$(date +%s)
  # `make build` installs what the chroot lacks (scripts/install-deps.sh), then compiles
  # with the strict profile: a warning on this release fails the build.
  log "$suite: make build (installs what is missing)"
  if in_chroot "$dir" "make build && make strict" > "$logs/build.log" 2>&1; then
    RESULT[$suite,build]=passed
    OTP[$suite]=$(in_chroot "$dir" "erl -noshell -eval 'io:put_chars(erlang:system_info(otp_release)), halt().'" 2>/dev/null)
    for l in "${LAYERS[@]}"; do
      log "$suite (OTP ${OTP[$suite]}): make $l"
      cmd="make --no-print-directory $l"
      # the README's main command must write its flame graph
      [ "$l" = demo ] && cmd="rm -rf out && $cmd && head -c 5 out/beamflame-demo.svg | grep -q '<?xml'"
      if in_chroot "$dir" "$cmd" > "$logs/$l.log" 2>&1; then
        RESULT[$suite,$l]=passed
      else
        RESULT[$suite,$l]=FAILED
        status=1
        log "$suite: $l failed, last lines of $logs/$l.log:"
        tail -n 30 "$logs/$l.log" >&2
      fi
    done
    log "$suite: cross-release recording"
    if bash scripts/otp-cross.sh "$dir" > "$logs/cross.log" 2>&1; then
      RESULT[$suite,cross]=passed
    else
      RESULT[$suite,cross]=FAILED
      status=1
      tail -n 30 "$logs/cross.log" >&2
    fi
  else
    RESULT[$suite,build]=FAILED
    status=1
    log "$suite: build failed, last lines of $logs/build.log:"
    tail -n 30 "$logs/build.log" >&2
    for l in "${LAYERS[@]}" cross; do RESULT[$suite,$l]="not run"; done
  fi
  RESULT[$suite,seconds]=$(( $(date +%s) - t0 ))
  unmount_all "$dir"
  trap - EXIT
done

echo
printf '%-8s %-5s' "release" "OTP"
for l in "${COLUMNS[@]}"; do printf ' %-12s' "$l"; done
printf ' %s\n' "seconds"
for suite in "${SUITES[@]}"; do
  printf '%-8s %-5s' "$suite" "${OTP[$suite]:-?}"
  for l in "${COLUMNS[@]}"; do printf ' %-12s' "${RESULT[$suite,$l]:-not run}"; done
  printf ' %s\n' "${RESULT[$suite,seconds]:-}"
done
exit $status
