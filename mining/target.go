package mining

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// Target is a 256-bit hash target in big-endian byte order (the "0000…" form
// pools and explorers print). A hash meets it when the hash, read as a
// little-endian integer, is less than or equal to it.
type Target [32]byte

// diff1 is the difficulty-1 target 0xffff·2^208 ("truediffone", bdiff scale)
// that every Stratum implementation divides by.
var diff1 = new(big.Int).Lsh(big.NewInt(0xffff), 208)

// ErrBadDifficulty reports a difficulty that is not a finite positive number.
var ErrBadDifficulty = errors.New("mining: difficulty must be a finite number > 0")

// Diff1Target is the target of share difficulty 1.
func Diff1Target() Target { return targetFromInt(diff1) }

// TargetFromDifficulty returns floor(DIFF1 / d), computed exactly. Difficulties
// below 1 (common on test pools) give targets above DIFF1; the result is
// clamped to the largest 256-bit value.
func TargetFromDifficulty(d float64) (Target, error) {
	if !(d > 0) || math.IsInf(d, 0) || math.IsNaN(d) {
		return Target{}, ErrBadDifficulty
	}
	r := new(big.Rat).SetFloat64(d)
	q := new(big.Int).Mul(diff1, r.Denom())
	q.Quo(q, r.Num())
	return targetFromInt(q), nil
}

// MustTarget is TargetFromDifficulty for constants known to be valid.
func MustTarget(d float64) Target {
	t, err := TargetFromDifficulty(d)
	if err != nil {
		panic(err)
	}
	return t
}

// Difficulty returns DIFF1 / t, the share difficulty a target stands for.
func (t Target) Difficulty() float64 {
	n := t.Int()
	if n.Sign() == 0 {
		return math.Inf(1)
	}
	f, _ := new(big.Rat).SetFrac(diff1, n).Float64()
	return f
}

// Int returns the target as an integer.
func (t Target) Int() *big.Int { return new(big.Int).SetBytes(t[:]) }

// String returns the target as 64 hex digits, most significant first.
func (t Target) String() string { return hex.EncodeToString(t[:]) }

// Meets reports whether hash (internal byte order) is at or below the target.
func (t Target) Meets(hash *[32]byte) bool {
	for i := 0; i < 32; i++ {
		h := hash[31-i]
		if h != t[i] {
			return h < t[i]
		}
	}
	return true
}

// Top32 returns the target's most significant 32 bits. A hashing unit that
// checks only the top word of the hash reports every hash with top word ≤
// Top32, so it reports a superset of the hashes that meet the target.
func (t Target) Top32() uint32 {
	return uint32(t[0])<<24 | uint32(t[1])<<16 | uint32(t[2])<<8 | uint32(t[3])
}

// TargetFromTop32 returns the largest target whose top 32 bits are limit: the
// exact set of hashes a unit checking only the top word against limit reports.
func TargetFromTop32(limit uint32) Target {
	var t Target
	for i := range t {
		t[i] = 0xff
	}
	t[0], t[1], t[2], t[3] = byte(limit>>24), byte(limit>>16), byte(limit>>8), byte(limit)
	return t
}

// ExpectedHashes returns how many hashes it takes on average to find one hash
// meeting t: 2^256 / (t+1). It weighs each result in hashrate estimates, so
// it is computed in float64 (53 bits are plenty for a rate) without
// allocating.
func (t Target) ExpectedHashes() float64 {
	var f float64
	for _, b := range t {
		f = f*256 + float64(b)
	}
	return math.Ldexp(1, 256) / (f + 1)
}

// HashDifficulty returns the share difficulty of a hash: DIFF1 / H(hash).
func HashDifficulty(hash *[32]byte) float64 {
	var be [32]byte
	for i := range be {
		be[i] = hash[31-i]
	}
	return Target(be).Difficulty()
}

// TargetFromNBits expands a compact nBits value into its target.
func TargetFromNBits(nbits uint32) (Target, error) {
	if nbits&0x00800000 != 0 {
		return Target{}, fmt.Errorf("mining: nbits %08x: negative target", nbits)
	}
	exp := int(nbits >> 24)
	n := big.NewInt(int64(nbits & 0x007fffff))
	if exp <= 3 {
		n.Rsh(n, uint(8*(3-exp)))
	} else {
		n.Lsh(n, uint(8*(exp-3)))
	}
	if n.BitLen() > 256 {
		return Target{}, fmt.Errorf("mining: nbits %08x: target overflows 256 bits", nbits)
	}
	return targetFromInt(n), nil
}

// NBitsFromTarget compresses a target into nBits form, the inverse of
// TargetFromNBits for targets it can represent.
func NBitsFromTarget(t Target) uint32 {
	n := t.Int()
	size := (n.BitLen() + 7) / 8
	var m uint32
	if size <= 3 {
		m = uint32(n.Uint64() << (8 * (3 - size)))
	} else {
		m = uint32(new(big.Int).Rsh(n, uint(8*(size-3))).Uint64())
	}
	if m&0x00800000 != 0 {
		m >>= 8
		size++
	}
	return uint32(size)<<24 | m
}

func targetFromInt(n *big.Int) Target {
	var t Target
	if n.BitLen() > 256 {
		for i := range t {
			t[i] = 0xff
		}
		return t
	}
	n.FillBytes(t[:])
	return t
}
