package mining

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// Algorithm names the proof-of-work function a job is mined with: what a
// block header is hashed with before the hash is compared to a target.
// The zero value stands for SHA256d, so jobs and settings saved before
// algorithms existed keep their meaning.
type Algorithm string

// The algorithms Kiln knows. The names are the ones pools and the REST API
// use.
const (
	// SHA256d is Bitcoin's double SHA-256 of the 80-byte header.
	SHA256d Algorithm = "sha256d"
	// Scrypt is Litecoin's scrypt(header, header, N=1024, r=1, p=1) with a
	// 32-byte output.
	Scrypt Algorithm = "scrypt"
)

// Scrypt parameters of Litecoin-style proof of work.
const (
	ScryptN      = 1024
	ScryptR      = 1
	ScryptP      = 1
	ScryptKeyLen = 32
)

// ScryptDifficultyFactor is how much easier scrypt's difficulty 1 is than
// SHA256d's: Stratum pools for scrypt coins scale share difficulty by
// 65536, so share difficulty D stands for the target DIFF1·65536/D.
const ScryptDifficultyFactor = 65536

// ErrUnknownAlgorithm reports an algorithm name Kiln does not know.
var ErrUnknownAlgorithm = errors.New("mining: unknown algorithm")

// Algorithms lists every known algorithm, SHA256d first.
func Algorithms() []Algorithm { return []Algorithm{SHA256d, Scrypt} }

// ParseAlgorithm reads an algorithm name, case-insensitively. The empty
// string means SHA256d; anything else unknown is an error wrapping
// ErrUnknownAlgorithm that lists the known names.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch Algorithm(strings.ToLower(strings.TrimSpace(s))) {
	case "", SHA256d:
		return SHA256d, nil
	case Scrypt:
		return Scrypt, nil
	}
	return "", fmt.Errorf("%w %q (want sha256d or scrypt)", ErrUnknownAlgorithm, s)
}

// Canonical returns the algorithm with the zero value spelled out as
// SHA256d.
func (a Algorithm) Canonical() Algorithm {
	if a == "" {
		return SHA256d
	}
	return a
}

// String returns the algorithm's name; the zero value prints "sha256d".
func (a Algorithm) String() string { return string(a.Canonical()) }

// Known reports whether a names an algorithm Kiln can hash.
func (a Algorithm) Known() bool {
	switch a.Canonical() {
	case SHA256d, Scrypt:
		return true
	}
	return false
}

// DifficultyFactor is the algorithm's Stratum difficulty scale: 1 for
// SHA256d, ScryptDifficultyFactor for scrypt.
func (a Algorithm) DifficultyFactor() float64 {
	if a.Canonical() == Scrypt {
		return ScryptDifficultyFactor
	}
	return 1
}

// Diff1Target returns the target of share difficulty 1 under a.
func (a Algorithm) Diff1Target() Target {
	t, _ := a.TargetFromDifficulty(1)
	return t
}

// TargetFromDifficulty returns the target of share difficulty d under a:
// DIFF1·factor/d, clamped to the largest 256-bit value.
func (a Algorithm) TargetFromDifficulty(d float64) (Target, error) {
	if !(d > 0) {
		return Target{}, ErrBadDifficulty
	}
	return TargetFromDifficulty(d / a.DifficultyFactor())
}

// HashDifficulty returns the share difficulty a hash achieves under a.
func (a Algorithm) HashDifficulty(hash *[32]byte) float64 {
	return HashDifficulty(hash) * a.DifficultyFactor()
}

// PoWHash returns the proof-of-work hash of a block header under a, in
// internal byte order (compare it with Target.Meets). Unknown algorithms
// hash as SHA256d; callers validate names with ParseAlgorithm first.
func (a Algorithm) PoWHash(header []byte) [32]byte {
	if a.Canonical() == Scrypt {
		return ScryptHash(header)
	}
	return Sha256d(header)
}

// ScryptHash returns Litecoin's proof-of-work hash of a header:
// scrypt(header, header, 1024, 1, 1, 32), read in internal byte order.
// It is the reference the host verifies hashing units against.
func ScryptHash(header []byte) [32]byte {
	var out [32]byte
	k, err := scrypt.Key(header, header, ScryptN, ScryptR, ScryptP, ScryptKeyLen)
	if err != nil {
		// The parameters are constants that scrypt accepts.
		panic("mining: scrypt parameters rejected: " + err.Error())
	}
	copy(out[:], k)
	return out
}
