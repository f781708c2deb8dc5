package scrypt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	xscrypt "golang.org/x/crypto/scrypt"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// litecoinGenesis returns the 80-byte header of Litecoin's genesis block:
// version 1, null previous block, merkle root 97ddfbba…d4ced9, time
// 1317972665, bits 1e0ffff0, nonce 2084524493 (the chain parameters
// published in Litecoin Core's chainparams.cpp).
func litecoinGenesis(t testing.TB) [80]byte {
	var h [80]byte
	binary.LittleEndian.PutUint32(h[0:], 1)
	copy(h[36:68], reversed(mustHex(t, "97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9")))
	binary.LittleEndian.PutUint32(h[68:], 1317972665)
	binary.LittleEndian.PutUint32(h[72:], 0x1e0ffff0)
	binary.LittleEndian.PutUint32(h[76:], 2084524493)
	return h
}

// TestVectors checks the core against published values.
func TestVectors(t *testing.T) {
	t.Run("RFC 7914 section 12, N=16 r=1 p=1", func(t *testing.T) {
		h, err := New(16)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 64)
		if err := h.Key(nil, nil, got); err != nil {
			t.Fatal(err)
		}
		want := mustHex(t, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"+
			"fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
		if !bytes.Equal(got, want) {
			t.Fatalf("key %x, want %x", got, want)
		}
	})
	t.Run("Litecoin genesis block", func(t *testing.T) {
		h, err := New(1024)
		if err != nil {
			t.Fatal(err)
		}
		hdr := litecoinGenesis(t)
		// Block id (SHA-256d) from Litecoin Core's chainparams.cpp; the
		// scrypt proof-of-work hash 0000050c…671e00 as printed by the
		// genesis generator github.com/mycroft/generate-genesis (README,
		// "Ctrl Hash" of its Litecoin sample). Both in display order.
		id := sha256d(hdr[:])
		if got := hex.EncodeToString(reversed(id[:])); got != "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2" {
			t.Fatalf("header does not rebuild the genesis block: id %s", got)
		}
		pow := h.Hash(&hdr)
		if got := hex.EncodeToString(reversed(pow[:])); got != "0000050c34a64b415b6b15b37f2216634b5b1669cb9a2e38d76f7213b0671e00" {
			t.Fatalf("scrypt pow hash %s", got)
		}
	})
}

// TestMatchesReference compares the core with golang.org/x/crypto/scrypt on
// random headers and on random passwords and salts of other lengths.
func TestMatchesReference(t *testing.T) {
	h, err := New(1024)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 24 {
		var hdr [80]byte
		for j := range hdr {
			hdr[j] = byte(rng.Uint32())
		}
		want, err := xscrypt.Key(hdr[:], hdr[:], 1024, 1, 1, 32)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Hash(&hdr); !bytes.Equal(got[:], want) {
			t.Fatalf("header %d: hash %x, want %x", i, got, want)
		}
	}
	for i := range 8 {
		pw := make([]byte, rng.IntN(130))
		salt := make([]byte, rng.IntN(130))
		for j := range pw {
			pw[j] = byte(rng.Uint32())
		}
		for j := range salt {
			salt[j] = byte(rng.Uint32())
		}
		n := 1 + rng.IntN(70)
		want, err := xscrypt.Key(pw, salt, 1024, 1, 1, n)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if err := h.Key(pw, salt, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("key %d (pw %d, salt %d bytes): %x, want %x", i, len(pw), len(salt), got, want)
		}
	}
}

// TestScan checks that Scan reports exactly the nonces whose hash top word
// is at or below the limit, and that a limit of all ones reports them all.
func TestScan(t *testing.T) {
	h, err := New(1024)
	if err != nil {
		t.Fatal(err)
	}
	hdr := litecoinGenesis(t)
	const start, count = 2084524490, 8
	var want []uint32
	limit := uint32(0x0000ffff)
	for n := uint32(start); n < start+count; n++ {
		x := hdr
		binary.LittleEndian.PutUint32(x[76:], n)
		sum := h.Hash(&x)
		if binary.LittleEndian.Uint32(sum[28:]) <= limit {
			want = append(want, n)
		}
	}
	got := h.Scan(&hdr, start, count, limit, nil)
	if !slicesEqual(got, want) || len(got) != 1 || got[0] != 2084524493 {
		t.Fatalf("scan found %v, want %v (the genesis nonce)", got, want)
	}
	if all := h.Scan(&hdr, 5, 3, ^uint32(0), nil); !slicesEqual(all, []uint32{5, 6, 7}) {
		t.Fatalf("limit ffffffff found %v", all)
	}
}

func slicesEqual(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewRejectsBadN(t *testing.T) {
	for _, n := range []int{0, 1, 3, 1000, -4} {
		if _, err := New(n); err == nil {
			t.Errorf("New(%d) accepted", n)
		}
	}
	h, _ := New(16)
	if err := h.Key(nil, nil, nil); err == nil {
		t.Error("Key with an empty output accepted")
	}
}

// BenchmarkScrypt compares one proof-of-work hash of this core with
// golang.org/x/crypto/scrypt.Key on the same header.
func BenchmarkScrypt(b *testing.B) {
	hdr := litecoinGenesis(b)
	b.Run("kiln", func(b *testing.B) {
		h, err := New(1024)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			binary.LittleEndian.PutUint32(hdr[76:], uint32(i))
			h.Hash(&hdr)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			binary.LittleEndian.PutUint32(hdr[76:], uint32(i))
			if _, err := xscrypt.Key(hdr[:], hdr[:], 1024, 1, 1, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
}
