#!/usr/bin/env bash
# End-to-end browser test of the web UI: starts a real controller on the
# simulated board (no admin password yet) and a standalone demo pool, then
# drives Chromium through setup, login, every page and the main actions.
#
# Usage: e2e/run.sh            (after `make build`; the binary is bin/controller)
# Env:   KILN_BIN              controller binary (default bin/controller)
#        KILN_E2E_TIMEOUT      seconds allowed for the browser test (default 150)
#        KILN_E2E_KEEP=1       keep the temporary data directory and logs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
E2E=$ROOT/e2e
BIN=${KILN_BIN:-$ROOT/bin/controller}
TEST_TIMEOUT=${KILN_E2E_TIMEOUT:-150}
CHROMIUM=/usr/bin/chromium

die() {
	echo "e2e: $*" >&2
	exit 1
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ---- what the test needs ----------------------------------------------------

[ -x "$BIN" ] || die "no controller binary at $BIN: run 'make build' first"
command -v node >/dev/null || die "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm is not installed (apt-get install npm)"

if [ ! -x "$CHROMIUM" ]; then
	echo "e2e: installing chromium"
	timeout 300 as_root apt-get update
	timeout 600 as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
	[ -x "$CHROMIUM" ] || die "chromium was not installed at $CHROMIUM"
fi

# npm ci when node_modules is missing or was installed from another lock.
STAMP=$E2E/node_modules/.kiln-lock
if ! cmp -s "$E2E/package-lock.json" "$STAMP" 2>/dev/null; then
	echo "e2e: npm ci"
	(cd "$E2E" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
	cp "$E2E/package-lock.json" "$STAMP"
fi

# ---- the controller and the pool ---------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e.XXXXXX")
PIDS=()
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		# bounded: a controller that ignores SIGTERM gets SIGKILL after 5 s
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		for log in "$TMP"/*.log; do
			[ -f "$log" ] || continue
			echo "---- last lines of $(basename "$log")" >&2
			tail -n 30 "$log" >&2
		done
	fi
	if [ -n "${KILN_E2E_KEEP:-}" ]; then
		echo "e2e: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port asks the kernel for an unused loopback port.
free_port() {
	node -e 'const s = require("net").createServer();
s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# wait_for runs "$@" every 0.2 s until it succeeds, for at most $1 seconds,
# failing early when process $2 has died.
wait_for() {
	local deadline=$((SECONDS + $1)) pid=$2 what=$3
	shift 3
	until "$@" >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready"
		[ "$SECONDS" -lt "$deadline" ] || die "$what not ready after ${deadline}s"
		sleep 0.2
	done
}

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() {
	node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' "$1"
}

POOL_PORT=$(free_port)
HTTP_PORT=$(free_port)
[ "$POOL_PORT" != "$HTTP_PORT" ] || HTTP_PORT=$(free_port)

"$BIN" demo-pool --listen "127.0.0.1:$POOL_PORT" >"$TMP/demo-pool.log" 2>&1 &
PIDS+=($!)
wait_for 15 "${PIDS[-1]}" "demo pool (controller demo-pool)" tcp_open "$POOL_PORT"

# The cgminer API is left off so that it takes no fixed port; older
# binaries without the flag are run without it.
EXTRA=()
HELP=$("$BIN" --help 2>&1 || true) # read whole: grep -q may stop reading early
if grep -q -- '-cgminer-api' <<<"$HELP"; then
	EXTRA+=(--cgminer-api "")
fi
# A chain stopped by the protection restarts 1 s after its cause cleared
# (default 10 s), so the fault-injection test sees it recover quickly.
if grep -q -- '-recover-after' <<<"$HELP"; then
	EXTRA+=(--recover-after 1s)
fi
# A signing key of this run, and two images for the firmware card: one
# signed for the simulated board, one signed by another key.
IMAGE_TOOL="$ROOT/bin/kiln-image"
FW_GOOD="" FW_FOREIGN=""
if [ -x "$IMAGE_TOOL" ] && grep -q -- '-firmware-key' <<<"$HELP"; then
	printf 'kiln e2e payload\n' >"$TMP/payload.txt"
	tar -C "$TMP" -cf "$TMP/bundle.tar" payload.txt
	env -u KILN_SIGN_PASSWORD "$IMAGE_TOOL" keygen -p "$TMP/fw.pub" -s "$TMP/fw.key" >/dev/null
	env -u KILN_SIGN_PASSWORD "$IMAGE_TOOL" keygen -p "$TMP/other.pub" -s "$TMP/other.key" >/dev/null
	"$IMAGE_TOOL" build --payload "$TMP/bundle.tar" --kind bundle --version 99.0.0 --board sim \
		--key "$TMP/fw.key" -o "$TMP/good.kimg" >/dev/null
	"$IMAGE_TOOL" build --payload "$TMP/bundle.tar" --kind bundle --version 99.0.0 --board sim \
		--key "$TMP/other.key" -o "$TMP/foreign.kimg" >/dev/null
	EXTRA+=(--firmware-key "$TMP/fw.pub")
	FW_GOOD="$TMP/good.kimg" FW_FOREIGN="$TMP/foreign.kimg"
fi
env -u KILN_ADMIN_PASSWORD "$BIN" --data "$TMP/data" --http "127.0.0.1:$HTTP_PORT" --board sim \
	"${EXTRA[@]}" >"$TMP/controller.log" 2>&1 &
PIDS+=($!)
wait_for 30 "${PIDS[-1]}" "controller" http_ok "http://127.0.0.1:$HTTP_PORT/api/v1/health"

echo "e2e: controller on http://127.0.0.1:$HTTP_PORT, demo pool on 127.0.0.1:$POOL_PORT"

# ---- the browser test ----------------------------------------------------------

KILN_URL="http://127.0.0.1:$HTTP_PORT" \
	KILN_FW_GOOD="$FW_GOOD" KILN_FW_FOREIGN="$FW_FOREIGN" \
	KILN_POOL_URL="stratum+tcp://127.0.0.1:$POOL_PORT" \
	KILN_SCREENSHOTS="$E2E/screenshots" \
	KILN_CHROMIUM="$CHROMIUM" \
	timeout -k 5 "$TEST_TIMEOUT" node "$E2E/test.mjs" || {
	rc=$?
	[ "$rc" -ne 124 ] || echo "e2e: the browser test ran past ${TEST_TIMEOUT}s" >&2
	exit "$rc"
}
