#!/usr/bin/env bash
# Installs what building (and, with "test", testing) Kiln needs on a fresh
# Debian machine: a C compiler for go-sqlite3 (cgo), and qemu-user to run the
# arm64 kernel tests the control boards depend on. Quiet and quick when
# everything is present.
set -euo pipefail
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
if [ "${1:-}" = test ]; then
  command -v qemu-aarch64 >/dev/null 2>&1 || need+=(qemu-user)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
