package firmware

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ManifestFormat is the manifest format version this package writes and
// reads. A newer format is refused as malformed rather than half-understood.
const ManifestFormat = 1

// Product is the only product name an image may carry.
const Product = "kiln"

// Bounds on manifest fields, so a signed but silly manifest still cannot
// make the device allocate or print without limit.
const (
	maxBoards     = 64
	maxNameLen    = 64
	maxVersionLen = 64
)

// Kind says what a payload is and so how a slot stores it.
type Kind string

// The payload kinds.
const (
	// KindRootfs is a root file system image (squashfs), stored whole in
	// the slot as rootfs.squashfs for the bootloader to mount.
	KindRootfs Kind = "rootfs"
	// KindBundle is an uncompressed tar of the controller binary and its
	// files, extracted into the slot directory.
	KindBundle Kind = "bundle"
)

// Manifest describes an image; its exact bytes are what the signature
// covers, and it carries the size and SHA-256 of the payload, so a valid
// signature vouches for every byte of the image.
type Manifest struct {
	// Format is ManifestFormat.
	Format int `json:"format"`
	// Product is always "kiln".
	Product string `json:"product"`
	// Version is the firmware version, semver-like: 1.4.0, v1.4.0-rc.1.
	Version string `json:"version"`
	// Boards lists the board names the image runs on; "any-ARCH" (for
	// example any-arm64) matches every board of that architecture.
	Boards []string `json:"boards"`
	// Created is when the image was built.
	Created time.Time `json:"created"`
	// Payload describes the bytes that follow the signature.
	Payload PayloadInfo `json:"payload"`
}

// PayloadInfo is the manifest's description of the payload.
type PayloadInfo struct {
	// Kind is rootfs or bundle.
	Kind Kind `json:"kind"`
	// Size is the payload length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the payload digest, 64 lowercase hex digits.
	SHA256 string `json:"sha256"`
}

// parseManifest decodes and checks manifest JSON strictly: unknown fields,
// trailing data and out-of-range values are refused as ErrMalformed.
func parseManifest(b []byte, maxPayload int64) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Manifest{}, fmt.Errorf("%w: manifest: data after the JSON object", ErrMalformed)
	}
	if err := m.check(); err != nil {
		return Manifest{}, err
	}
	if m.Payload.Size > maxPayload {
		return Manifest{}, fmt.Errorf("%w: payload is %d bytes, limit %d", ErrTooLarge, m.Payload.Size, maxPayload)
	}
	return m, nil
}

// check validates every field; the errors wrap ErrMalformed.
func (m Manifest) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: manifest: "+format, append([]any{ErrMalformed}, args...)...)
	}
	switch {
	case m.Format != ManifestFormat:
		return bad("format %d, this firmware reads format %d", m.Format, ManifestFormat)
	case m.Product != Product:
		return bad("product %.64q, want %q", m.Product, Product)
	case m.Created.IsZero():
		return bad("no creation time")
	case m.Payload.Kind != KindRootfs && m.Payload.Kind != KindBundle:
		return bad("payload kind %.64q, want %q or %q", m.Payload.Kind, KindRootfs, KindBundle)
	case m.Payload.Size <= 0:
		return bad("payload size %d", m.Payload.Size)
	case !isDigest(m.Payload.SHA256):
		return bad("payload sha256 %.80q is not 64 lowercase hex digits", m.Payload.SHA256)
	}
	if _, err := parseVersion(m.Version); err != nil {
		return bad("%v", err)
	}
	if len(m.Boards) == 0 || len(m.Boards) > maxBoards {
		return bad("%d boards, want 1 to %d", len(m.Boards), maxBoards)
	}
	for _, b := range m.Boards {
		if !isName(b) {
			return bad("board name %.80q (want 1 to %d of a-z, 0-9, -, _)", b, maxNameLen)
		}
	}
	return nil
}

// Supports reports whether the image runs on the named board of the given
// architecture (a GOARCH value such as arm64).
func (m Manifest) Supports(board, arch string) bool {
	for _, b := range m.Boards {
		if b == board || (arch != "" && b == "any-"+arch) {
			return true
		}
	}
	return false
}

func isDigest(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// isName accepts board names: short, lowercase, no separators a path or a
// shell would treat specially.
func isName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// version is a parsed semver-like version: up to three numbers, then an
// optional pre-release after '-'; build metadata after '+' is ignored.
type version struct {
	core [3]uint64
	pre  []string
}

// parseVersion reads "1", "1.2", "v1.2.3", "1.2.3-rc.1+build.5".
func parseVersion(s string) (version, error) {
	var v version
	if s == "" || len(s) > maxVersionLen {
		return v, fmt.Errorf("version %.80q: want 1 to %d characters", s, maxVersionLen)
	}
	rest := strings.TrimPrefix(s, "v")
	rest, _, _ = strings.Cut(rest, "+")
	rest, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(rest, ".")
	if len(parts) > 3 {
		return v, fmt.Errorf("version %q: more than three numbers", s)
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || p == "" || (len(p) > 1 && p[0] == '0') {
			return v, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		v.core[i] = n
	}
	if hasPre {
		v.pre = strings.Split(pre, ".")
		for _, id := range v.pre {
			if id == "" || !isIdent(id) {
				return v, fmt.Errorf("version %q: bad pre-release %q", s, pre)
			}
		}
	}
	return v, nil
}

func isIdent(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// compare orders versions as semantic versioning does: numbers first, and
// a pre-release sorts before the release it leads to.
func (v version) compare(w version) int {
	for i := range v.core {
		if c := cmp.Compare(v.core[i], w.core[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.pre) == 0 && len(w.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(w.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(w.pre); i++ {
		if c := compareIdent(v.pre[i], w.pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(v.pre), len(w.pre))
}

// compareIdent compares pre-release identifiers: numeric ones by value and
// below alphanumeric ones, which compare as strings.
func compareIdent(a, b string) int {
	na, errA := strconv.ParseUint(a, 10, 64)
	nb, errB := strconv.ParseUint(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}
