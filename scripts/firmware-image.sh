#!/usr/bin/env bash
# Packs each cross-built controller into a signed upgrade image:
# bin/kiln-ARCH.kimg, a bundle (tar of the controller and its release file)
# for every board of that architecture ("any-ARCH"). The signing key is
# KILN_SIGN_KEY (minisign format; password in KILN_SIGN_PASSWORD); without
# it a development key is made once in bin/dev-signing.key (never use it
# for real machines: its public key is bin/dev-signing.pub).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat bin/firmware-version.txt)
# Images need a semver-like version: an untagged build becomes a
# pre-release of 0.1.0 named after its commit.
if ! [[ $version =~ ^v?[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  version="0.1.0-dev.${version//[^0-9A-Za-z.-]/}"
fi
mkdir -p bin
tool=bin/kiln-image
go build -trimpath -o "$tool" ./cmd/kiln-image
key=${KILN_SIGN_KEY:-}
if [ -z "$key" ]; then
  key=bin/dev-signing.key
  if [ ! -f "$key" ]; then
    echo "firmware: no KILN_SIGN_KEY; making a development key in $key" >&2
    env -u KILN_SIGN_PASSWORD "$tool" keygen -p bin/dev-signing.pub -s "$key"
  fi
fi
for arch in "$@"; do
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  cp "bin/$arch/controller" "$stage/controller"
  printf 'NAME=Kiln\nVERSION=%s\n' "$version" > "$stage/kiln-release"
  tar -C "$stage" --owner=0 --group=0 --format=ustar -cf "$stage/bundle.tar" controller kiln-release
  "$tool" build --payload "$stage/bundle.tar" --kind bundle --version "$version" \
    --board "any-$arch" --key "$key" -o "bin/kiln-$arch.kimg"
  rm -rf "$stage"
  trap - EXIT
  printf 'bin/kiln-%s.kimg %s bytes, version %s\n' "$arch" "$(stat -c %s "bin/kiln-$arch.kimg")" "$version"
done
