#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a fixed time each.
set -euo pipefail
fuzztime=${1:-15s}
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
