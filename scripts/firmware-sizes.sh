#!/usr/bin/env bash
# Prints one line per controller binary: its architecture (the name of the
# folder it is in), its size in bytes and in MiB.
# Usage: scripts/firmware-sizes.sh bin/arm/controller bin/arm64/controller
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 BINARY..." >&2; exit 2; }
for f in "$@"; do
  [ -f "$f" ] || { echo "firmware-sizes: $f: no such file" >&2; exit 1; }
  bytes=$(stat -c %s "$f")
  arch=$(basename "$(dirname "$f")")
  awk -v a="$arch" -v f="$f" -v b="$bytes" \
    'BEGIN { printf "%-6s %-22s %10d bytes %7.2f MiB\n", a, f, b, b / 1048576 }'
done
