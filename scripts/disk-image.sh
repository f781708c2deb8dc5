#!/usr/bin/env bash
# Assembles a full Kiln disk image on this machine, without Buildroot, from
# bin/arm64/controller and the image's root file system overlay: a squashfs
# root (the overlay, the binary, /etc/kiln-release; no kernel) in slot A and
# slot B, an empty ext4 data partition, and a vfat boot partition holding a
# placeholder config. The layout is the one Buildroot builds
# (buildroot/board/kiln/genimage.cfg, through the same post-image.sh).
# Then it reads the image back and checks each partition.
#
# Output: bin/kiln-disk-arm64.img. Usage: scripts/disk-image.sh
# Environment: VERSION (written to /etc/kiln-release; default: git describe).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh image
for tool in sfdisk unsquashfs e2fsck mdir; do
  command -v "$tool" >/dev/null || { echo "disk-image: $tool is missing" >&2; exit 1; }
done

bin=bin/arm64/controller
out=bin/kiln-disk-arm64.img
board=buildroot/board/kiln
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
[ -x "$bin" ] || { echo "disk-image: $bin missing (make firmware-bins)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
images=$work/images
mkdir -p "$root" "$images"

# The root file system: mount points, the overlay, the controller.
mkdir -p "$root"/{dev,proc,sys,tmp,run,var,data,usr/bin,etc}
cp -a "$board/rootfs-overlay/." "$root/"
install -m 0755 "$bin" "$root/usr/bin/controller"
printf 'NAME=Kiln\nVERSION=%s\n' "$version" >"$root/etc/kiln-release"
mksquashfs "$root" "$images/rootfs.squashfs" -comp xz -all-root -noappend -quiet >/dev/null

# The boot partition's placeholder: no kernel in this image.
cat >"$images/kiln-boot.txt" <<EOF
Kiln $version disk image assembled without Buildroot: no kernel or boot
loader. Slot A (partition 2) and slot B (partition 3) hold the root file
system, partition 4 the data.
EOF

if ! KILN_BOOT_FILES="kiln-boot.txt" TARGET_DIR=$root BUILD_DIR=$work \
  "$board/post-image.sh" "$images" none >"$work/genimage.log" 2>&1; then
  cat "$work/genimage.log" >&2
  exit 1
fi
mv "$images/kiln-disk.img" "$out"

# Read the image back.
failed=0
check() {
  if "$@" >/dev/null 2>&1; then
    echo "   ok   ${desc}"
  else
    echo "   FAIL ${desc}"
    failed=$((failed + 1))
  fi
}
# part N prints partition N's start and size, in bytes.
part() {
  sfdisk -d "$out" | awk -v n="$1" -F'[ ,=]+' '
    $1 ~ n"$" { for (i = 2; i < NF; i++) { if ($i == "start") s = $(i+1); if ($i == "size") z = $(i+1) } }
    END { if (s == "") exit 1; print s * 512, z * 512 }'
}
# extract N FILE copies partition N out of the image.
extract() {
  local start size
  read -r start size < <(part "$1")
  dd if="$out" of="$2" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$size" status=none
}

echo "== $out"
desc="four partitions"
check test "$(sfdisk -d "$out" | grep -c ' : start=')" -eq 4
for n in 2 3; do
  extract "$n" "$work/p$n"
  desc="partition $n: squashfs with /usr/bin/controller and /etc/kiln-release"
  check sh -c "unsquashfs -l '$work/p$n' | grep -q '^squashfs-root/usr/bin/controller$' &&
    unsquashfs -cat '$work/p$n' etc/kiln-release | grep -qx 'VERSION=$version'"
  desc="partition $n: the init scripts"
  check sh -c "unsquashfs -l '$work/p$n' | grep -q 'etc/init.d/S90kiln$'"
done
desc="slots A and B hold the same image"
check cmp -s "$work/p2" "$work/p3"
extract 4 "$work/p4"
desc="partition 4: an ext4 file system labelled kiln-data that checks clean"
check sh -c "e2fsck -fn '$work/p4' && [ \"\$(e2label '$work/p4')\" = kiln-data ]"
extract 1 "$work/p1"
desc="partition 1: vfat holding the placeholder"
check sh -c "mdir -i '$work/p1' ::kiln-boot.txt"

size=$(stat -c %s "$out")
used=$(du -k "$out" | cut -f1)
squash=$(stat -c %s "$images/rootfs.squashfs")
echo "disk-image: $out: $size bytes ($((size / 1048576)) MiB; $((used / 1024)) MiB allocated, sparse); root file system $squash bytes"
[ "$failed" -eq 0 ]
