#!/usr/bin/env bash
# Runs the cross-built controllers (bin/ARCH/controller, from
# `make firmware-bins`) under qemu-user and checks, for each architecture:
#   1. --version names the version and linux/ARCH;
#   2. on the simulated board with an admin password from the environment,
#      GET /api/v1/health answers 200 {"status":"ok"} within a bounded wait;
#   3. GET /api/v1/summary refuses a request without credentials (401) and
#      answers one with Basic admin:PASSWORD with the summary fields;
#   4. the simulated board mines: the embedded demo pool accepts a share
#      (hashing, Stratum and SQLite all work on the architecture);
#   5. SIGTERM stops it cleanly (exit status 0) within a bounded wait;
#   6. for arm64 (or the last arch given), the image's init script S90kiln
#      starts it, restarts it after kill -9, and stops it.
# The process is always killed, whatever fails. Ends with "N passed, N failed".
# Usage: scripts/firmware-qemu-test.sh [arm] [arm64]
# Environment: KILN_QEMU_WAIT (seconds to wait for the API and for a share,
# default 90), KILN_QEMU_STOP_WAIT (seconds to wait for the exit after
# SIGTERM, default 150: under emulation a simulated chip finishes the hashing
# step it is in before it sees the stop, which has taken up to two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm arm64)
wait_s=${KILN_QEMU_WAIT:-90}
stop_wait_s=${KILN_QEMU_STOP_WAIT:-150}
password="qemu-test-$$-pw"
passed=0
failed=0
pid=""
work=$(mktemp -d)

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  local f p
  for f in "$work"/init-*/run/supervise.pid "$work"/init-*/run/controller.pid; do
    p=$(cat "$f" 2>/dev/null || true)
    [ -z "$p" ] || kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "   ok   $1"; passed=$((passed + 1)); }
fail() { echo "   FAIL $1"; failed=$((failed + 1)); }

# qemu_for prints the qemu-user command and the cross sysroot for an arch.
qemu_for() {
  case $1 in
  arm) echo "qemu-arm /usr/arm-linux-gnueabihf" ;;
  arm64) echo "qemu-aarch64 /usr/aarch64-linux-gnu" ;;
  *) return 1 ;;
  esac
}

# http_get URL [curl options...] prints "STATUS BODY" (status 000 when the
# connection fails).
http_get() {
  local url=$1
  shift
  local body status
  body=$(mktemp -p "$work")
  status=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 "$@" "$url" || true)
  echo "$status $(tr -d '\n' <"$body")"
}

# wait_for_url reads the web UI's address from the log (the controller
# listens on port 0: no port clash with anything else on the machine).
wait_for_url() {
  local log=$1 deadline=$((SECONDS + wait_s)) url
  while [ $SECONDS -lt $deadline ]; do
    url=$(grep -o 'url=http://[0-9.:]*/' "$log" 2>/dev/null | head -n1 | cut -d= -f2 || true)
    if [ -n "$url" ]; then
      echo "${url%/}"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

# wait_healthy polls /api/v1/health until it answers 200 or time is up.
wait_healthy() {
  local base=$1 deadline=$((SECONDS + wait_s)) got
  while [ $SECONDS -lt $deadline ]; do
    got=$(http_get "$base/api/v1/health")
    if [ "${got%% *}" = 200 ]; then
      echo "$got"
      return 0
    fi
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "$got"
  return 1
}

# wait_share polls the summary until a share was accepted or time is up.
wait_share() {
  local base=$1 deadline=$((SECONDS + wait_s)) got
  while [ $SECONDS -lt $deadline ]; do
    got=$(http_get "$base/api/v1/summary" -u "admin:$password")
    if [[ $got =~ \"accepted\":[1-9] ]]; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

# stop_controller sends SIGTERM and waits (bounded) for a clean exit.
stop_controller() {
  local deadline=$((SECONDS + stop_wait_s)) rc=0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
    return 1
  fi
  wait "$pid" || rc=$?
  pid=""
  return "$rc"
}

check_arch() {
  local arch=$1 bin=bin/$1/controller qemu sysroot out base got
  echo "== $arch ($bin under qemu-user)"
  if ! read -r qemu sysroot < <(qemu_for "$arch"); then
    fail "$arch: unknown architecture"
    return
  fi
  if [ ! -x "$bin" ]; then
    fail "$arch: $bin missing (run make firmware-bins)"
    return
  fi
  command -v "$qemu" >/dev/null || { fail "$arch: $qemu not installed (scripts/deps.sh firmware)"; return; }

  out=$("$qemu" -L "$sysroot" "$bin" --version 2>&1 || true)
  if [[ $out =~ ^kiln\ controller\ [^\ ]+\ \(go[^,]*,\ linux/$arch\)$ ]]; then
    ok "$arch: --version: $out"
  else
    fail "$arch: --version printed: $out"
  fi

  local data=$work/$arch-data log=$work/$arch.log
  mkdir -p "$data"
  KILN_ADMIN_PASSWORD=$password "$qemu" -L "$sysroot" "$bin" --board sim --data "$data" \
    --http 127.0.0.1:0 --cgminer-api "" >"$log" 2>&1 &
  pid=$!
  local started=$SECONDS
  if ! base=$(wait_for_url "$log"); then
    fail "$arch: web UI did not start listening within ${wait_s}s; log:"
    tail -n 20 "$log"
    stop_controller || true
    return
  fi
  if got=$(wait_healthy "$base"); then
    if [[ $got =~ \"status\":\"ok\" ]]; then
      ok "$arch: health 200 after $((SECONDS - started))s: ${got#* }"
    else
      fail "$arch: health body: ${got#* }"
    fi
  else
    fail "$arch: health did not answer 200 within ${wait_s}s (last: $got)"
  fi

  got=$(http_get "$base/api/v1/summary")
  if [ "${got%% *}" = 401 ]; then
    ok "$arch: summary without credentials: 401"
  else
    fail "$arch: summary without credentials: ${got%% *} (want 401)"
  fi
  got=$(http_get "$base/api/v1/summary" -u "admin:$password")
  local field missing=""
  for field in accepted rejected stale hw_errors hashrate_hs active_pool; do
    [[ $got =~ \"$field\": ]] || missing+=" $field"
  done
  if [ "${got%% *}" = 200 ] && [ -z "$missing" ]; then
    ok "$arch: summary with Basic auth: 200, $(grep -o '"accepted":[0-9]*' <<<"$got"), $(grep -o '"active_pool":"[^"]*"' <<<"$got")"
  else
    fail "$arch: summary with Basic auth: ${got%% *}, missing:${missing:- none}"
  fi

  if wait_share "$base"; then
    ok "$arch: demo pool accepted a share $((SECONDS - started))s after start"
  else
    fail "$arch: no accepted share within ${wait_s}s"
  fi

  local stopping=$SECONDS
  if stop_controller; then
    ok "$arch: SIGTERM: clean exit after $((SECONDS - stopping))s"
  else
    fail "$arch: SIGTERM: no clean exit within ${stop_wait_s}s; log:"
    tail -n 20 "$log"
  fi
}

# free_port prints a TCP port nothing on 127.0.0.1 listens on.
free_port() {
  local _ p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# wait_pid_change waits until FILE holds a live pid other than OLD.
wait_pid_change() {
  local file=$1 old=$2 deadline=$((SECONDS + 30)) p
  while [ $SECONDS -lt $deadline ]; do
    p=$(cat "$file" 2>/dev/null || true)
    if [ -n "$p" ] && [ "$p" != "$old" ] && kill -0 "$p" 2>/dev/null; then
      echo "$p"
      return 0
    fi
    sleep 0.5
  done
  return 1
}

# check_init_script runs the image's init script (in BusyBox's shell when
# there is one, as on the image) on the emulated controller: start, a
# restart by the supervisor after kill -9, stop.
check_init_script() {
  local arch=$1 qemu sysroot port base sh=sh
  local script=buildroot/board/kiln/rootfs-overlay/etc/init.d/S90kiln
  read -r qemu sysroot < <(qemu_for "$arch") || { fail "$arch: init script: unknown architecture"; return; }
  command -v busybox >/dev/null && sh="busybox sh"
  echo "== $arch: $script under $sh"
  [ -x "bin/$arch/controller" ] || { fail "$arch: init script: bin/$arch/controller missing"; return; }
  local dir=$work/init-$arch
  mkdir -p "$dir/data" "$dir/run"
  port=$(free_port) || { fail "$arch: init script: no free port"; return; }
  base=http://127.0.0.1:$port
  # The wrapper execs qemu, so the pid the script records is the emulated
  # controller's.
  printf '#!/bin/sh\nexec %s -L %s %s "$@"\n' "$qemu" "$sysroot" "$PWD/bin/$arch/controller" >"$dir/controller"
  chmod +x "$dir/controller"
  cat >"$dir/controller.conf" <<EOF
KILN_DATA=$dir/data
KILN_DATA_MOUNT=no
KILN_HTTP=127.0.0.1:$port
KILN_CGMINER_API=""
KILN_BOARD=sim
KILN_ADMIN_PASSWORD=$password
KILN_RESTART_DELAY=1
KILN_STOP_WAIT=$stop_wait_s
EOF
  local -a env=(env KILN_BIN="$dir/controller" KILN_CONF="$dir/controller.conf" KILN_RUN="$dir/run")
  local started=$SECONDS got first second sup
  # shellcheck disable=SC2086
  "${env[@]}" $sh "$script" start >/dev/null || fail "$arch: init start: exit status $?"
  if got=$(wait_healthy "$base") && [ -s "$dir/run/controller.pid" ]; then
    ok "$arch: init start: health 200 after $((SECONDS - started))s"
  else
    fail "$arch: init start: health ${got%% *}; log:"
    tail -n 20 "$dir/run/controller.log" 2>/dev/null
  fi
  first=$(cat "$dir/run/controller.pid" 2>/dev/null || true)
  if [ -n "$first" ] && kill -KILL "$first" 2>/dev/null &&
    second=$(wait_pid_change "$dir/run/controller.pid" "$first") &&
    got=$(wait_healthy "$base"); then
    ok "$arch: init supervise: killed controller $first restarted as $second, health 200"
  else
    fail "$arch: init supervise: no restart after kill -9 (pid ${first:-none})"
  fi
  sup=$(cat "$dir/run/supervise.pid" 2>/dev/null || true)
  second=$(cat "$dir/run/controller.pid" 2>/dev/null || true)
  # shellcheck disable=SC2086
  "${env[@]}" $sh "$script" stop >/dev/null || fail "$arch: init stop: exit status $?"
  if { [ -z "$sup" ] || ! kill -0 "$sup" 2>/dev/null; } &&
    { [ -z "$second" ] || ! kill -0 "$second" 2>/dev/null; } &&
    [ "$(http_get "$base/api/v1/health" | cut -d' ' -f1)" = 000 ] &&
    [ ! -e "$dir/run/supervise.pid" ]; then
    ok "$arch: init stop: supervisor and controller gone, port closed"
  else
    fail "$arch: init stop: something is left running"
    [ -z "$sup" ] || kill -KILL "$sup" 2>/dev/null || true
    [ -z "$second" ] || kill -KILL "$second" 2>/dev/null || true
  fi
}

for arch in "${archs[@]}"; do
  check_arch "$arch"
done
init_arch=${archs[${#archs[@]}-1]}
for arch in "${archs[@]}"; do
  [ "$arch" != arm64 ] || init_arch=arm64
done
check_init_script "$init_arch"
echo "firmware-qemu: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
