package firmware

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// BuildOptions describe the image Build makes.
type BuildOptions struct {
	// Version is the firmware version (semver-like).
	Version string
	// Boards lists the boards the image runs on.
	Boards []string
	// Kind is the payload kind.
	Kind Kind
	// Created is the build time; zero means now.
	Created time.Time
	// Key signs the manifest; nil makes an unsigned image, which every
	// device refuses (for tests and inspection only).
	Key *SecretKey
}

// Build writes an image of payload to w and returns its manifest. The
// payload is read twice: once to hash it (and, for a bundle, to check that
// a device would accept every entry), once to copy it; a payload that
// changes between the two is refused.
func Build(w io.Writer, payload io.ReadSeeker, o BuildOptions) (Manifest, error) {
	size, digest, err := hashPayload(payload, o.Kind)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{
		Format: ManifestFormat, Product: Product, Version: o.Version, Boards: o.Boards,
		Created: o.Created.UTC().Truncate(time.Second),
		Payload: PayloadInfo{Kind: o.Kind, Size: size, SHA256: digest},
	}
	if o.Created.IsZero() {
		m.Created = time.Now().UTC().Truncate(time.Second)
	}
	if err := m.check(); err != nil {
		return Manifest{}, fmt.Errorf("firmware: build: %w", err)
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("firmware: build: %w", err)
	}
	mj = append(mj, '\n')
	var sig []byte
	if o.Key != nil {
		comment := "timestamp:" + strconv.FormatInt(m.Created.Unix(), 10) + "\tfile:manifest.json\thashed"
		if sig, err = o.Key.Sign(mj, comment); err != nil {
			return Manifest{}, fmt.Errorf("firmware: build: %w", err)
		}
	}
	if _, err := w.Write(appendHeader(nil, mj, sig)); err != nil {
		return Manifest{}, fmt.Errorf("firmware: build: write: %w", err)
	}
	if err := copyPayload(w, payload, size, digest); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// appendHeader appends the header, manifest and signature sections.
func appendHeader(b, manifest, sig []byte) []byte {
	b = append(b, Magic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(manifest)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(sig)))
	b = append(b, manifest...)
	return append(b, sig...)
}

func hashPayload(payload io.ReadSeeker, kind Kind) (int64, string, error) {
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return 0, "", fmt.Errorf("firmware: build: %w", err)
	}
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(payload, h)}
	if kind == KindBundle {
		if err := checkBundle(cr); err != nil {
			return 0, "", fmt.Errorf("firmware: build: %w", err)
		}
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return 0, "", fmt.Errorf("firmware: build: read payload: %w", err)
	}
	return cr.n, hex.EncodeToString(h.Sum(nil)), nil
}

func copyPayload(w io.Writer, payload io.ReadSeeker, size int64, digest string) error {
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("firmware: build: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(payload, size+1))
	if err != nil {
		return fmt.Errorf("firmware: build: copy payload: %w", err)
	}
	if n != size || !bytes.Equal([]byte(hex.EncodeToString(h.Sum(nil))), []byte(digest)) {
		return fmt.Errorf("firmware: build: the payload changed while the image was built")
	}
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
