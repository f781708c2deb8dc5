#!/usr/bin/env bash
# Buildroot post-image script of Kiln: assembles IMAGES/kiln-disk.img with
# genimage from board/kiln/genimage.cfg (boot, rootfsA, rootfsB, data) and a
# boot partition holding the board's boot files.
#
# Usage: post-image.sh IMAGES BOARD
#   IMAGES  Buildroot's images folder (BINARIES_DIR): rootfs.squashfs and the
#           boot files are read from it, the disk image is written to it.
#   BOARD   a folder beside this script (BR2_ROOTFS_POST_SCRIPT_ARGS):
#           BOARD/boot-files lists the boot partition's files, relative to
#           IMAGES; BOARD/boot/, if present, is copied to IMAGES/kiln-boot/.
# Environment: KILN_BOOT_FILES (a space-separated list) replaces
# BOARD/boot-files (BOARD then need not exist); TARGET_DIR and BUILD_DIR as
# Buildroot sets them.
set -euo pipefail

images=${1:?usage: post-image.sh IMAGES BOARD}
board=${2:?usage: post-image.sh IMAGES BOARD}
here=$(cd "$(dirname "$0")" && pwd)
board_dir=$here/$board

die() {
  echo "post-image: $*" >&2
  exit 1
}

[ -d "$board_dir" ] || [ -n "${KILN_BOOT_FILES:-}" ] || die "no board folder $board_dir"
[ -f "$images/rootfs.squashfs" ] || die "$images/rootfs.squashfs missing (BR2_TARGET_ROOTFS_SQUASHFS)"

if [ -d "$board_dir/boot" ]; then
  rm -rf "$images/kiln-boot"
  cp -r "$board_dir/boot" "$images/kiln-boot"
fi

if [ -n "${KILN_BOOT_FILES:-}" ]; then
  read -r -a files <<<"$KILN_BOOT_FILES"
else
  [ -f "$board_dir/boot-files" ] || die "no $board_dir/boot-files"
  mapfile -t files < <(grep -v -e '^#' -e '^[[:space:]]*$' "$board_dir/boot-files")
fi
[ ${#files[@]} -gt 0 ] || die "no boot files for $board"
for f in "${files[@]}"; do
  [ -e "$images/$f" ] || die "boot file $images/$f missing"
done

cfg=$images/kiln-genimage.cfg
{
  echo "# Written by post-image.sh for board $board."
  echo "image boot.vfat {"
  echo "	vfat {"
  echo "		label = \"KILNBOOT\""
  echo "		files = {"
  for i in "${!files[@]}"; do
    sep=","
    [ "$i" -eq $((${#files[@]} - 1)) ] && sep=""
    echo "			\"${files[$i]}\"$sep"
  done
  echo "		}"
  echo "	}"
  echo "	size = 64M"
  echo "}"
  echo
  cat "$here/genimage.cfg"
} >"$cfg"

tmp=${BUILD_DIR:-$images}/kiln-genimage.tmp
root=${TARGET_DIR:-}
empty_root=""
if [ -z "$root" ]; then
  empty_root=$(mktemp -d)
  root=$empty_root
fi
trap 'rm -rf "$tmp" ${empty_root:+"$empty_root"}' EXIT
rm -rf "$tmp"

genimage --rootpath "$root" --tmppath "$tmp" --inputpath "$images" \
  --outputpath "$images" --config "$cfg"

size=$(stat -c %s "$images/kiln-disk.img")
echo "post-image: $images/kiln-disk.img: $size bytes ($((size / 1048576)) MiB)"
