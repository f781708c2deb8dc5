#!/usr/bin/env bash
# Installs what building (and, with "test", testing) Kiln needs on a fresh
# Debian machine: a C compiler for go-sqlite3 (cgo), and qemu-user to run the
# arm64 kernel tests the control boards depend on. Quiet and quick when
# everything is present.
#
# Modes:
#   (none)    a native C compiler
#   test      + qemu-user
#   firmware  + the ARMv7 (hard float) and arm64 cross compilers with their
#               C libraries, qemu-user, curl, and BusyBox to run the image's
#               init scripts in its own shell (make firmware-bins,
#               firmware-test-qemu)
#   image     + genimage, squashfs-tools, mtools, dosfstools, e2fsprogs, fdisk
#               (scripts/disk-image.sh)
#   gpu       + the OpenCL headers, the ICD loader to link against and PoCL,
#               an OpenCL implementation on the host CPU (make build-gpu,
#               test-gpu, bench-gpu)
set -euo pipefail
need=()
# want adds packages when a command or file is missing.
want() {
  local probe=$1
  shift
  case $probe in
  /*) [ -e "$probe" ] || need+=("$@") ;;
  *) command -v "$probe" >/dev/null 2>&1 || need+=("$@") ;;
  esac
}
want gcc gcc libc6-dev
case "${1:-}" in
test)
  want qemu-aarch64 qemu-user
  ;;
firmware)
  want arm-linux-gnueabihf-gcc gcc-arm-linux-gnueabihf
  want /usr/arm-linux-gnueabihf/include/stdio.h libc6-dev-armhf-cross
  want aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
  want /usr/aarch64-linux-gnu/include/stdio.h libc6-dev-arm64-cross
  want qemu-aarch64 qemu-user
  want qemu-arm qemu-user
  want curl curl
  want busybox busybox
  ;;
image)
  want genimage genimage
  want mksquashfs squashfs-tools
  want mcopy mtools
  want mkfs.vfat dosfstools
  want mkfs.ext4 e2fsprogs
  want sfdisk fdisk
  ;;
gpu)
  want /usr/include/CL/cl.h opencl-headers
  # The loader's link-time library lives in a multiarch directory.
  for pkg in ocl-icd-opencl-dev pocl-opencl-icd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
  done
  ;;
"") ;;
*)
  echo "deps: unknown mode ${1} (want: test, firmware, image or gpu)" >&2
  exit 2
  ;;
esac
if [ ${#need[@]} -gt 0 ]; then
  # One package may be wanted twice (qemu-user): install each once.
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "deps: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || { echo "deps: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
