#!/usr/bin/env bash
# Regenerates the minisign compatibility fixtures with Debian's minisign
# (apt-get install minisign) and kiln-image. Run from this directory:
#   ./gen.sh
# Then review the diff: the keys change on every run.
set -euo pipefail
command -v minisign >/dev/null || { echo "gen.sh: minisign is not installed" >&2; exit 1; }
kimg() { (cd ../../.. && go run ./cmd/kiln-image "$@"); }
here=$(pwd)
rm -f ./*.pub ./*.key ./*.minisig manifest.json
trusted=$'timestamp:1795300000\tfile:manifest.json\thashed'
untrusted='signature from kiln secret key'

# A key pair made by minisign itself, without a password.
minisign -G -W -p minisign.pub -s minisign.key
# Key pairs made by kiln-image: without a password, and with one at the
# light scrypt cost.
kimg keygen -p "$here/kiln.pub" -s "$here/kiln.key"
KILN_SIGN_PASSWORD='kiln test password' kimg keygen --kdf interactive -p "$here/kiln-pw.pub" -s "$here/kiln-pw.key"

# The manifest of a real image.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 3000 /dev/zero >"$tmp/rootfs"
SOURCE_DATE_EPOCH=1795300000 kimg build --payload "$tmp/rootfs" --kind rootfs --version 1.4.0 \
  --board rpi4-64,sim --key "$here/kiln.key" -o "$tmp/x.kimg"
kimg inspect --extract "$tmp/x" "$tmp/x.kimg" >/dev/null
cp "$tmp/x/manifest.json" manifest.json

# minisign signs it with each key.
minisign -S -W -s minisign.key -m manifest.json -x manifest.json.minisign.minisig -t "$trusted" -c "$untrusted"
minisign -S -W -s kiln.key -m manifest.json -x manifest.json.kiln.minisig -t "$trusted" -c "$untrusted"
echo 'kiln test password' | minisign -S -s kiln-pw.key -m manifest.json -x manifest.json.kiln-pw.minisig -t "$trusted" -c "$untrusted"
for k in minisign kiln kiln-pw; do
  minisign -Vm manifest.json -x "manifest.json.$k.minisig" -p "$k.pub" -q
done
echo "gen.sh: fixtures written"
