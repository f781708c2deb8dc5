// Package scrypt is the CPU backend's scrypt core for Litecoin-style proof
// of work: scrypt with r = 1 and p = 1, specialised for hashing many block
// headers in a row. A Hasher owns its scratch memory (the ROMix table V of
// 128·N bytes, the mixing block, the SHA-256 states), so hashing allocates
// nothing; use one Hasher per goroutine.
//
// The construction is RFC 7914's: B = PBKDF2-HMAC-SHA256(P, S, 1, 128·r),
// B = ROMix(B, N) with BlockMix over Salsa20/8, and the key
// PBKDF2-HMAC-SHA256(P, B, 1, dkLen). For proof of work P and S are both
// the 80-byte header and the key is 32 bytes.
package scrypt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// blockWords is one BlockMix block for r = 1: 128 bytes as 32 words.
const blockWords = 32

// Hasher computes scrypt(P, S, N, r=1, p=1). It is not safe for concurrent
// use.
type Hasher struct {
	n    int
	v    []uint32           // ROMix table: n blocks of blockWords words
	x    [blockWords]uint32 // the block being mixed
	b    [128]byte          // B as bytes, between PBKDF2 and ROMix
	mac  hmacSHA256
	head [80]byte
}

// New returns a Hasher for cost parameter n, a power of two of at least 2.
func New(n int) (*Hasher, error) {
	if n < 2 || n&(n-1) != 0 || n > 1<<24 {
		return nil, fmt.Errorf("scrypt: N %d must be a power of two in 2..2^24", n)
	}
	return &Hasher{n: n, v: make([]uint32, n*blockWords), mac: newHMAC()}, nil
}

// N returns the cost parameter.
func (h *Hasher) N() int { return h.n }

// Key derives len(out) bytes of scrypt(password, salt, N, 1, 1) into out.
func (h *Hasher) Key(password, salt, out []byte) error {
	if len(out) == 0 {
		return errors.New("scrypt: empty key length")
	}
	h.mac.setKey(password)
	h.mac.pbkdf2(salt, h.b[:])
	h.romix()
	h.mac.pbkdf2(h.b[:], out)
	return nil
}

// Hash returns the proof-of-work hash of an 80-byte header:
// scrypt(header, header, N, 1, 1, 32), in internal byte order.
func (h *Hasher) Hash(header *[80]byte) [32]byte {
	var out [32]byte
	h.mac.setKey(header[:])
	h.mac.pbkdf2(header[:], h.b[:])
	h.romix()
	h.mac.pbkdf2(h.b[:], out[:])
	return out
}

// Scan hashes count headers that differ only in their nonce (header bytes
// 76..79, little-endian), starting at start, and appends to out every nonce
// whose hash has a top word (bytes 28..31, little-endian) at or below
// limit.
func (h *Hasher) Scan(header *[80]byte, start, count, limit uint32, out []uint32) []uint32 {
	h.head = *header
	for i := uint32(0); i < count; i++ {
		nonce := start + i
		binary.LittleEndian.PutUint32(h.head[76:], nonce)
		hash := h.Hash(&h.head)
		if binary.LittleEndian.Uint32(hash[28:]) <= limit {
			out = append(out, nonce)
		}
	}
	return out
}

// romix runs ROMix over h.b in place (RFC 7914 section 5, r = 1).
func (h *Hasher) romix() {
	x := &h.x
	for i := range x {
		x[i] = binary.LittleEndian.Uint32(h.b[4*i:])
	}
	v := h.v
	for i := 0; i < h.n; i++ {
		copy(v[i*blockWords:(i+1)*blockWords], x[:])
		blockMix(x)
	}
	mask := uint32(h.n - 1)
	for range h.n {
		j := int(x[16] & mask)
		blockMixXOR(x, (*[blockWords]uint32)(v[j*blockWords:(j+1)*blockWords]))
	}
	for i := range x {
		binary.LittleEndian.PutUint32(h.b[4*i:], x[i])
	}
}

// blockMix is BlockMix with r = 1: Y0 = Salsa(B1 ⊕ B0), Y1 = Salsa(Y0 ⊕ B1),
// B = Y0 ‖ Y1.
func blockMix(b *[blockWords]uint32) {
	lo := (*[16]uint32)(b[:16])
	hi := (*[16]uint32)(b[16:])
	salsaXOR(lo, hi)
	salsaXOR(hi, lo)
}

// blockMixXOR is blockMix(b ⊕ t), ROMix's second loop, without a
// separate pass over the block.
func blockMixXOR(b, t *[blockWords]uint32) {
	lo := (*[16]uint32)(b[:16])
	hi := (*[16]uint32)(b[16:])
	for i := range hi {
		hi[i] ^= t[16+i]
	}
	salsaXOR2(lo, hi, (*[16]uint32)(t[:16]))
	salsaXOR(hi, lo)
}

// hmacSHA256 is HMAC-SHA256 with its key's padded blocks kept, so one key
// serves the several PBKDF2 blocks without re-deriving them.
type hmacSHA256 struct {
	inner, outer hash.Hash
	ipad, opad   [64]byte
	sum          [32]byte
	ctr          [4]byte
}

func newHMAC() hmacSHA256 {
	return hmacSHA256{inner: sha256.New(), outer: sha256.New()}
}

// setKey prepares the padded key blocks (RFC 2104).
func (m *hmacSHA256) setKey(key []byte) {
	var k [64]byte
	if len(key) > len(k) {
		m.inner.Reset()
		m.inner.Write(key)
		copy(k[:], m.inner.Sum(m.sum[:0]))
	} else {
		copy(k[:], key)
	}
	for i := range k {
		m.ipad[i] = k[i] ^ 0x36
		m.opad[i] = k[i] ^ 0x5c
	}
}

// pbkdf2 fills out with PBKDF2-HMAC-SHA256(key, salt, 1 iteration): block i
// (from 1) is HMAC(key, salt ‖ INT(i)).
func (m *hmacSHA256) pbkdf2(salt, out []byte) {
	for i := 0; len(out) > 0; i++ {
		binary.BigEndian.PutUint32(m.ctr[:], uint32(i+1))
		m.inner.Reset()
		m.inner.Write(m.ipad[:])
		m.inner.Write(salt)
		m.inner.Write(m.ctr[:])
		m.inner.Sum(m.sum[:0])
		m.outer.Reset()
		m.outer.Write(m.opad[:])
		m.outer.Write(m.sum[:])
		m.outer.Sum(m.sum[:0])
		out = out[copy(out, m.sum[:]):]
	}
}
