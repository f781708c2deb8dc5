// Package firmware is Kiln's firmware image format, its signing and
// verification, and the A/B upgrade with automatic rollback.
//
// (The directory is firmware-images; the package name is firmware.)
//
// # Image format
//
// An image (conventionally NAME.kimg) is one file of four sections, with
// every integer big endian:
//
//	offset  size  field
//	0       8     magic "KILNIMG" and the container version, 0x01
//	8       4     M, the manifest length (1 to 65536)
//	12      4     S, the signature length (0 to 4096; 0: unsigned)
//	16      M     manifest.json, the exact bytes that were signed
//	16+M    S     manifest.json.minisig, a minisign signature (Ed25519)
//	16+M+S  P     the payload, P = the manifest's payload.size
//
// and nothing after the payload. The manifest is JSON:
//
//	{
//	  "format": 1,
//	  "product": "kiln",
//	  "version": "1.4.0",
//	  "boards": ["rpi4-64", "bitaxe-gamma", "sim", "any-arm64"],
//	  "created": "2026-11-21T20:00:00Z",
//	  "payload": {"kind": "bundle", "size": 7340032, "sha256": "…64 hex digits…"}
//	}
//
// A payload of kind "rootfs" is a squashfs root file system; "bundle" is
// an uncompressed tar of the controller binary and its files (regular
// files, directories and symbolic links that stay inside the bundle).
//
// The signature covers the manifest, and the manifest carries the
// payload's size and SHA-256, so one signature vouches for the whole
// image while the payload can still be streamed. The signature is in
// minisign's format, so with the sections cut out (kiln-image inspect
// --extract DIR) `minisign -Vm manifest.json -p kiln.pub` verifies it.
//
// # Verification
//
// ReadImage reads the header, manifest and signature with every length
// bounded (the payload limit comes from the caller) and checks their form.
// Image.Verify then checks, in order, the signature against the trusted
// keys, the board, and the version (no downgrade unless allowed).
// Image.Payload streams the payload, hashing it, and reports a digest
// mismatch, truncation or trailing data at its end, before a slot is
// switched. Every rejection wraps one of ErrUnsigned, ErrBadSignature,
// ErrWrongBoard, ErrTruncated, ErrDigest, ErrDowngrade, ErrMalformed or
// ErrTooLarge.
//
// # A/B upgrade
//
// A board provides Slots: two slots, a boot state that survives power
// loss, and the bootloader's trial logic; DirSlots implements them with
// directories for development and tests. Updater.Install verifies an image
// before touching anything, writes the payload into the slot that is not
// running (the running one is never written), and marks it pending for
// one trial boot. At the next start Updater.Boot counts that trial (or,
// if the trial was used up without a confirmation, falls back to the
// previous slot), and once the system is up Updater.ConfirmHealthy makes
// the new slot permanent if its health check passes in time, or abandons
// it so the next boot returns to the previous slot.
package firmware
