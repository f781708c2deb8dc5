package firmware

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

const benchPayload = 64 << 20

func benchImage(b *testing.B, key *SecretKey) []byte {
	payload := make([]byte, benchPayload)
	rand.NewChaCha8([32]byte{3}).Read(payload)
	return buildImage(b, imageSpec{key: key, version: "1.2.0", payload: payload})
}

// BenchmarkVerify measures reading, verifying and hashing a 64 MiB image.
func BenchmarkVerify(b *testing.B) {
	key := testKey(b, 1)
	img := benchImage(b, &key)
	policy := Policy{Keys: []PublicKey{key.Public()}, Board: "sim"}
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		im, err := ReadImage(bytes.NewReader(img), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := im.Verify(policy); err != nil {
			b.Fatal(err)
		}
		r, err := im.Payload(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstall measures a whole install of a 64 MiB rootfs image into
// directory slots: verify, hash, write, fsync, switch, mark pending.
func BenchmarkInstall(b *testing.B) {
	key := testKey(b, 1)
	img := benchImage(b, &key)
	s, err := OpenDirSlots(filepath.Join(b.TempDir(), "slots"))
	if err != nil {
		b.Fatal(err)
	}
	u, err := NewUpdater(Config{Slots: s, Keys: []PublicKey{key.Public()}, Board: "sim"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := u.Install(context.Background(), bytes.NewReader(img), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
