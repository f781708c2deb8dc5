package firmware

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey returns a deterministic key pair; seed picks which.
func testKey(t testing.TB, seed byte) SecretKey {
	t.Helper()
	k, err := keyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyFromSeed(seed byte) (SecretKey, error) {
	return GenerateKey(rand.NewChaCha8([32]byte{seed}))
}

// testCreated is the build time of test images.
var testCreated = time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)

// imageSpec is what buildImage puts into an image.
type imageSpec struct {
	version string
	boards  []string
	kind    Kind
	payload []byte
	key     *SecretKey // nil: unsigned
}

// buildImage builds an image with Build.
func buildImage(t testing.TB, s imageSpec) []byte {
	t.Helper()
	if s.version == "" {
		s.version = "1.2.0"
	}
	if s.boards == nil {
		s.boards = []string{"sim", "rpi4-64"}
	}
	if s.kind == "" {
		s.kind = KindRootfs
	}
	if s.payload == nil {
		s.payload = []byte("squashfs image bytes")
	}
	var out bytes.Buffer
	_, err := Build(&out, bytes.NewReader(s.payload), BuildOptions{
		Version: s.version, Boards: s.boards, Kind: s.kind, Created: testCreated, Key: s.key,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tarEntry is one entry of a test bundle.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

// makeTar writes entries as a tar archive.
func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: testCreated}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// snapshot records everything under root: each path with its type,
// permission bits and content (files) or target (links).
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if len(b) > 256 {
				sum := sha256.Sum256(b)
				desc += " sha256:" + hex.EncodeToString(sum[:])
			} else {
				desc += " " + string(b)
			}
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
func base64Encode(b []byte) string          { return base64.StdEncoding.EncodeToString(b) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
