package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Container layout; see the package documentation.
const (
	// Magic opens every image; its last byte is the container version.
	Magic = "KILNIMG\x01"
	// HeaderSize is the fixed part before the manifest.
	HeaderSize = len(Magic) + 4 + 4
	// MaxManifestSize bounds the manifest section.
	MaxManifestSize = 64 << 10
	// MaxSignatureSize bounds the signature section; a minisign signature
	// with a one-line trusted comment is a few hundred bytes.
	MaxSignatureSize = 4 << 10
	// DefaultMaxPayload is the payload limit when the caller gives none.
	DefaultMaxPayload = 1 << 30
)

// Image is an image whose header, manifest and signature have been read
// from a stream, and whose payload is the rest of that stream. Nothing in
// it is trusted until Verify succeeds.
type Image struct {
	// ManifestJSON holds the exact signed manifest bytes.
	ManifestJSON []byte
	// Signature holds the minisign signature of ManifestJSON; empty when
	// the image is unsigned.
	Signature []byte
	// Manifest is ManifestJSON decoded and checked for form (not for
	// authenticity).
	Manifest Manifest

	r        io.Reader
	verified bool
	taken    bool
}

// ReadImage reads an image's header, manifest and signature from r, which
// it leaves positioned at the payload. It trusts no length: the manifest
// and signature sizes are bounded by MaxManifestSize and MaxSignatureSize
// and the payload size by maxPayload (DefaultMaxPayload when zero or
// less). Errors wrap ErrTruncated, ErrMalformed or ErrTooLarge.
func ReadImage(r io.Reader, maxPayload int64) (*Image, error) {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	var hdr [HeaderSize]byte
	if err := readFull(r, hdr[:], "header"); err != nil {
		return nil, err
	}
	if !bytes.Equal(hdr[:len(Magic)-1], []byte(Magic[:len(Magic)-1])) {
		return nil, fmt.Errorf("%w: not a kiln image (bad magic %q)", ErrMalformed, hdr[:len(Magic)])
	}
	if v := hdr[len(Magic)-1]; v != Magic[len(Magic)-1] {
		return nil, fmt.Errorf("%w: container version %d, this firmware reads version %d", ErrMalformed, v, Magic[len(Magic)-1])
	}
	mlen := binary.BigEndian.Uint32(hdr[len(Magic):])
	slen := binary.BigEndian.Uint32(hdr[len(Magic)+4:])
	if mlen == 0 {
		return nil, fmt.Errorf("%w: empty manifest", ErrMalformed)
	}
	if mlen > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest is %d bytes, limit %d", ErrTooLarge, mlen, MaxManifestSize)
	}
	if slen > MaxSignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, limit %d", ErrTooLarge, slen, MaxSignatureSize)
	}
	img := &Image{ManifestJSON: make([]byte, mlen), Signature: make([]byte, slen), r: r}
	if err := readFull(r, img.ManifestJSON, "manifest"); err != nil {
		return nil, err
	}
	if err := readFull(r, img.Signature, "signature"); err != nil {
		return nil, err
	}
	m, err := parseManifest(img.ManifestJSON, maxPayload)
	if err != nil {
		return nil, err
	}
	img.Manifest = m
	return img, nil
}

// readFull fills b, reporting a short read as ErrTruncated.
func readFull(r io.Reader, b []byte, what string) error {
	n, err := io.ReadFull(r, b)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s ends after %d of %d bytes", ErrTruncated, what, n, len(b))
	default:
		return fmt.Errorf("firmware: read %s: %w", what, err)
	}
}

// Policy is what an image must satisfy to be installed on this device.
type Policy struct {
	// Keys are the trusted signing keys; an image signed by any of them
	// passes the signature check.
	Keys []PublicKey
	// Board is this device's board name; empty skips the board check
	// (for tools that verify images off the device).
	Board string
	// Arch is this device's architecture (a GOARCH value) for "any-ARCH"
	// board entries.
	Arch string
	// Running is the running firmware version; empty or not a version
	// skips the downgrade check.
	Running string
	// AllowDowngrade accepts an image older than Running.
	AllowDowngrade bool
}

// Verify checks, in this order, the signature against the trusted keys,
// the board and the version. Only after it succeeds does Payload hand out
// the payload. Errors wrap ErrUnsigned, ErrBadSignature, ErrWrongBoard or
// ErrDowngrade.
func (img *Image) Verify(p Policy) error {
	if err := verifySignature(img.ManifestJSON, img.Signature, p.Keys); err != nil {
		return err
	}
	m := img.Manifest
	if p.Board != "" && !m.Supports(p.Board, p.Arch) {
		return fmt.Errorf("%w: this is %s (%s), the image is for %v", ErrWrongBoard, p.Board, p.Arch, m.Boards)
	}
	if !p.AllowDowngrade && p.Running != "" {
		running, err := parseVersion(p.Running)
		want, _ := parseVersion(m.Version) // checked by ReadImage
		if err == nil && want.compare(running) < 0 {
			return fmt.Errorf("%w: image %s, running %s", ErrDowngrade, m.Version, p.Running)
		}
	}
	img.verified = true
	return nil
}

// Payload returns a reader of exactly the payload's bytes, which hashes
// them as they pass. At the end it returns io.EOF only if the digest
// matches the manifest and the image ends there; otherwise an error
// wrapping ErrDigest, ErrTruncated or ErrMalformed. It fails unless Verify
// succeeded, and may be called once. Reads fail once ctx is done.
func (img *Image) Payload(ctx context.Context) (io.Reader, error) {
	if !img.verified {
		return nil, fmt.Errorf("firmware: payload of an unverified image")
	}
	return img.unverifiedPayload(ctx)
}

// UntrustedPayload is Payload without the Verify requirement, for tools
// that inspect or unpack images: it still checks the digest, size and end
// of the image, but an unverified manifest proves nothing about them.
func (img *Image) UntrustedPayload(ctx context.Context) (io.Reader, error) {
	return img.unverifiedPayload(ctx)
}

func (img *Image) unverifiedPayload(ctx context.Context) (io.Reader, error) {
	if img.taken {
		return nil, fmt.Errorf("firmware: payload already read")
	}
	img.taken = true
	return &payloadReader{ctx: ctx, r: img.r, left: img.Manifest.Payload.Size,
		size: img.Manifest.Payload.Size, want: img.Manifest.Payload.SHA256, h: sha256.New()}, nil
}

// payloadReader passes through exactly size bytes and turns the end of
// the payload into a verdict.
type payloadReader struct {
	ctx  context.Context
	r    io.Reader
	left int64
	size int64
	want string
	h    hash.Hash
	err  error // sticky final result
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if err := p.ctx.Err(); err != nil {
		return 0, fmt.Errorf("firmware: read payload: %w", err)
	}
	if p.left == 0 {
		p.err = p.finish()
		return 0, p.err
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.r.Read(b)
	p.h.Write(b[:n])
	p.left -= int64(n)
	switch {
	case err == nil || (err == io.EOF && p.left == 0):
		return n, nil
	case err == io.EOF:
		p.err = fmt.Errorf("%w: payload ends after %d of %d bytes", ErrTruncated, p.size-p.left, p.size)
	default:
		p.err = fmt.Errorf("firmware: read payload: %w", err)
	}
	return n, p.err
}

// finish checks that nothing follows the payload and that it hashes to the
// signed digest.
func (p *payloadReader) finish() error {
	trailing, err := atEOF(p.r)
	switch {
	case trailing:
		return fmt.Errorf("%w: data after the %d-byte payload", ErrMalformed, p.size)
	case err != nil:
		return fmt.Errorf("firmware: read after the payload: %w", err)
	}
	if got := hex.EncodeToString(p.h.Sum(nil)); got != p.want {
		return fmt.Errorf("%w: payload sha256 %s, the manifest says %s", ErrDigest, got, p.want)
	}
	return io.EOF
}

// atEOF reads one byte to learn whether r is at its end.
func atEOF(r io.Reader) (trailing bool, err error) {
	var one [1]byte
	for range 100 { // bounded: a reader may return (0, nil) now and then
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return true, nil
		case err == io.EOF:
			return false, nil
		case err != nil:
			return false, err
		}
	}
	return false, io.ErrNoProgress
}
