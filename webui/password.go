package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters of new password hashes: modest enough for the ARM control
// board of a miner (about 19 MiB and a fraction of a second per check),
// still far out of reach of GPU guessing for a decent password.
const (
	argonMemoryKiB uint32 = 19 * 1024
	argonTime      uint32 = 2
	argonThreads   uint8  = 1
	argonSaltLen          = 16
	argonKeyLen           = 32
)

// Bounds on what VerifyPassword accepts, so a corrupted or hostile stored
// hash cannot make one check take unbounded memory or time.
const (
	maxArgonMemoryKiB = 64 * 1024
	maxArgonTime      = 10
	maxArgonThreads   = 8
	minArgonSaltLen   = 8
	maxArgonSaltLen   = 64
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 64
)

// b64 is the unpadded standard base64 of PHC strings; Strict rejects
// non-canonical encodings, so one hash has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

var errMalformedHash = errors.New("webui: malformed argon2id hash")

// HashPassword hashes password with argon2id and a random salt, and returns
// it as a PHC string ("$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH") for the
// caller to store. An empty password is refused.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("webui: hash password: empty password")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("webui: hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a PHC string
// from HashPassword (other argon2id parameters within sane bounds are
// accepted too). The comparison is constant-time; malformed input yields
// false, never a panic.
func VerifyPassword(encoded, password string) bool {
	h, err := parseArgon2id(encoded)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// argonHash is a decoded PHC argon2id string.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parseArgon2id decodes "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" strictly.
func parseArgon2id(s string) (argonHash, error) {
	var h argonHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, errMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return h, fmt.Errorf("%w: unsupported version %q", errMalformedHash, parts[2])
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return h, fmt.Errorf("%w: parameters %q", errMalformedHash, parts[3])
	}
	m, errM := paramValue(params[0], "m=", maxArgonMemoryKiB)
	t, errT := paramValue(params[1], "t=", maxArgonTime)
	p, errP := paramValue(params[2], "p=", maxArgonThreads)
	if err := errors.Join(errM, errT, errP); err != nil {
		return h, err
	}
	if t < 1 || p < 1 || m < 8*p {
		return h, fmt.Errorf("%w: parameters %q out of range", errMalformedHash, parts[3])
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = decodeField(parts[4], minArgonSaltLen, maxArgonSaltLen); err != nil {
		return h, fmt.Errorf("salt: %w", err)
	}
	if h.key, err = decodeField(parts[5], minArgonKeyLen, maxArgonKeyLen); err != nil {
		return h, fmt.Errorf("hash: %w", err)
	}
	return h, nil
}

// paramValue parses "name=N" with 0 <= N <= max.
func paramValue(field, name string, max uint64) (uint64, error) {
	v, ok := strings.CutPrefix(field, name)
	if !ok {
		return 0, fmt.Errorf("%w: want %s..., got %q", errMalformedHash, name, field)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > max {
		return 0, fmt.Errorf("%w: %s out of range", errMalformedHash, field)
	}
	return n, nil
}

// decodeField decodes one base64 field and checks its length.
func decodeField(s string, minLen, maxLen int) ([]byte, error) {
	if len(s) > b64.EncodedLen(maxLen) {
		return nil, errMalformedHash
	}
	b, err := b64.DecodeString(s)
	if err != nil || len(b) < minLen || len(b) > maxLen {
		return nil, errMalformedHash
	}
	return b, nil
}
