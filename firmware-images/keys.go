package firmware

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"aead.dev/minisign"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/scrypt"
)

// Key files use minisign's formats, so `minisign -Vm manifest.json -p
// kiln.pub` checks an extracted manifest, and keys made by either tool
// work in both. A public key file is a comment line and the base64 of
// "Ed" || key ID (8 bytes) || Ed25519 public key (32 bytes). A secret key
// file is a comment line and the base64 of 158 bytes:
//
//	"Ed"            signature algorithm
//	"Sc" or 0 0     KDF: scrypt, or none (password-less key)
//	"B2"            checksum algorithm: BLAKE2b-256
//	salt[32]        scrypt salt (zero without KDF)
//	ops[8] mem[8]   scrypt cost, little endian, as libsodium counts it
//	id[8] sk[64] checksum[32]
//	                the key ID, the Ed25519 secret key and
//	                BLAKE2b-256("Ed" || id || sk), XORed with the scrypt
//	                output when the key has a password
const (
	algEd     = "Ed"
	algScrypt = "Sc"
	algBlake  = "B2"
	algNone   = "\x00\x00"

	publicKeyLen = 2 + 8 + ed25519.PublicKeySize
	secretKeyLen = 6 + 32 + 16 + secretPart
	secretPart   = 8 + ed25519.PrivateKeySize + 32

	// Secret key files may not ask for more work than minisign itself
	// would ever write, so a crafted file cannot exhaust the machine.
	maxKDFOps = 1 << 25
	maxKDFMem = 1 << 30
)

// ErrBadKey means a key file is malformed or its password is wrong.
var ErrBadKey = errors.New("firmware: bad key")

// KDFCost is the scrypt cost of a password-protected secret key, in
// libsodium's terms (operations and bytes of memory), as stored in the file.
type KDFCost struct {
	Ops, Mem uint64
}

var (
	// KDFSensitive is what minisign uses: about a gigabyte and a second or
	// more to open the key. The default for keys kept for releases.
	KDFSensitive = KDFCost{Ops: 1 << 25, Mem: 1 << 30}
	// KDFInteractive is a light cost (16 MiB) for throwaway and test keys.
	KDFInteractive = KDFCost{Ops: 1 << 19, Mem: 1 << 24}
)

// PublicKey is a minisign Ed25519 public key trusted to sign images.
type PublicKey struct {
	k minisign.PublicKey
}

// ParsePublicKey reads a minisign public key: the contents of a .pub file
// (comment line and key) or the bare base64 key line.
func ParsePublicKey(text []byte) (PublicKey, error) {
	var k PublicKey
	line := strings.TrimSpace(string(lastLine(text)))
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil || len(raw) != publicKeyLen || string(raw[:2]) != algEd {
		return k, fmt.Errorf("%w: not a minisign Ed25519 public key", ErrBadKey)
	}
	if err := k.k.UnmarshalText([]byte(line)); err != nil {
		return k, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return k, nil
}

// lastLine returns the key line of a key file: the line after an
// "untrusted comment:" line, or the whole text without one.
func lastLine(text []byte) []byte {
	first, rest, ok := bytes.Cut(text, []byte("\n"))
	if ok && bytes.HasPrefix(first, []byte("untrusted comment:")) {
		return rest
	}
	return text
}

// ID is the key ID as minisign prints it: 16 uppercase hex digits.
func (k PublicKey) ID() string { return fmt.Sprintf("%016X", k.k.ID()) }

// MarshalText returns the key as a minisign .pub file.
func (k PublicKey) MarshalText() ([]byte, error) {
	return []byte("untrusted comment: minisign public key " + k.ID() + "\n" + k.k.String() + "\n"), nil
}

// SecretKey is a minisign Ed25519 secret key that signs image manifests.
type SecretKey struct {
	id  uint64
	key ed25519.PrivateKey
}

// GenerateKey makes a new key pair with a random key ID, reading entropy
// from random (crypto/rand when nil).
func GenerateKey(random io.Reader) (SecretKey, error) {
	if random == nil {
		random = rand.Reader
	}
	var id [8]byte
	if _, err := io.ReadFull(random, id[:]); err != nil {
		return SecretKey{}, fmt.Errorf("firmware: generate key: %w", err)
	}
	_, sk, err := ed25519.GenerateKey(random)
	if err != nil {
		return SecretKey{}, fmt.Errorf("firmware: generate key: %w", err)
	}
	return SecretKey{id: binary.LittleEndian.Uint64(id[:]), key: sk}, nil
}

// Public returns the matching public key.
func (k SecretKey) Public() PublicKey {
	var raw [publicKeyLen]byte
	copy(raw[:], algEd)
	binary.LittleEndian.PutUint64(raw[2:], k.id)
	copy(raw[10:], k.key.Public().(ed25519.PublicKey))
	var p PublicKey
	// The bytes were just built in the right shape; this cannot fail.
	_ = p.k.UnmarshalText([]byte(base64.StdEncoding.EncodeToString(raw[:])))
	return p
}

// ID is the key ID as minisign prints it.
func (k SecretKey) ID() string { return fmt.Sprintf("%016X", k.id) }

// Encode returns the key as a minisign secret key file. With an empty
// password the key is stored in the clear (minisign -W); otherwise it is
// encrypted with scrypt at the given cost, using salt from random
// (crypto/rand when nil).
func (k SecretKey) Encode(password string, cost KDFCost, random io.Reader) ([]byte, error) {
	if len(k.key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: empty secret key", ErrBadKey)
	}
	var b [secretKeyLen]byte
	copy(b[0:], algEd)
	copy(b[2:], algNone)
	copy(b[4:], algBlake)
	part := b[54:]
	binary.LittleEndian.PutUint64(part, k.id)
	copy(part[8:], k.key)
	sum := k.checksum()
	copy(part[72:], sum[:])
	if password != "" {
		if random == nil {
			random = rand.Reader
		}
		if cost.Ops > maxKDFOps || cost.Mem > maxKDFMem || cost.Ops == 0 || cost.Mem == 0 {
			return nil, fmt.Errorf("%w: scrypt cost %+v out of range", ErrBadKey, cost)
		}
		copy(b[2:], algScrypt)
		if _, err := io.ReadFull(random, b[6:38]); err != nil {
			return nil, fmt.Errorf("firmware: encrypt key: %w", err)
		}
		binary.LittleEndian.PutUint64(b[38:], cost.Ops)
		binary.LittleEndian.PutUint64(b[46:], cost.Mem)
		if err := xorKeystream(part, password, b[6:38], cost); err != nil {
			return nil, err
		}
	}
	return []byte("untrusted comment: minisign encrypted secret key\n" +
		base64.StdEncoding.EncodeToString(b[:]) + "\n"), nil
}

func (k SecretKey) checksum() [32]byte {
	msg := make([]byte, 0, 2+8+ed25519.PrivateKeySize)
	msg = append(msg, algEd...)
	msg = binary.LittleEndian.AppendUint64(msg, k.id)
	msg = append(msg, k.key...)
	return blake2b.Sum256(msg)
}

// ParseSecretKey reads a minisign secret key file, decrypting it with
// password when it has one. A wrong password is reported as ErrBadKey.
func ParseSecretKey(text []byte, password string) (SecretKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(lastLine(text))))
	if err != nil || len(raw) != secretKeyLen {
		return SecretKey{}, fmt.Errorf("%w: not a minisign secret key", ErrBadKey)
	}
	if string(raw[0:2]) != algEd || string(raw[4:6]) != algBlake {
		return SecretKey{}, fmt.Errorf("%w: unsupported secret key algorithms %q", ErrBadKey, raw[0:6])
	}
	part := raw[54:]
	switch string(raw[2:4]) {
	case algNone:
	case algScrypt:
		if password == "" {
			return SecretKey{}, fmt.Errorf("%w: the secret key is encrypted and no password was given", ErrBadKey)
		}
		cost := KDFCost{Ops: binary.LittleEndian.Uint64(raw[38:]), Mem: binary.LittleEndian.Uint64(raw[46:])}
		if cost.Ops > maxKDFOps || cost.Mem > maxKDFMem {
			return SecretKey{}, fmt.Errorf("%w: scrypt cost %+v is above minisign's", ErrBadKey, cost)
		}
		if err := xorKeystream(part, password, raw[6:38], cost); err != nil {
			return SecretKey{}, err
		}
	default:
		return SecretKey{}, fmt.Errorf("%w: unsupported key derivation %q", ErrBadKey, raw[2:4])
	}
	k := SecretKey{id: binary.LittleEndian.Uint64(part), key: ed25519.PrivateKey(bytes.Clone(part[8:72]))}
	sum := k.checksum()
	// minisign -W leaves the checksum of a password-less key zero.
	zero := string(raw[2:4]) == algNone && bytes.Count(part[72:], []byte{0}) == len(part[72:])
	if !zero && subtle.ConstantTimeCompare(sum[:], part[72:]) != 1 {
		return SecretKey{}, fmt.Errorf("%w: checksum mismatch (wrong password?)", ErrBadKey)
	}
	// The key holds its seed and its public half; they must agree, or
	// every signature would fail on the devices.
	if !k.key.Equal(ed25519.NewKeyFromSeed(k.key.Seed())) {
		return SecretKey{}, fmt.Errorf("%w: the secret key is corrupt", ErrBadKey)
	}
	return k, nil
}

// xorKeystream XORs the secret part of a key file with the scrypt output
// for password, which both encrypts and decrypts it.
func xorKeystream(part []byte, password string, salt []byte, cost KDFCost) error {
	n, r, p := scryptParams(cost)
	stream, err := scrypt.Key([]byte(password), salt, n, r, p, len(part))
	if err != nil {
		return fmt.Errorf("%w: scrypt: %v", ErrBadKey, err)
	}
	subtle.XORBytes(part, part, stream)
	return nil
}

// scryptParams turns libsodium's (ops, mem) cost into scrypt's N, r and p
// the way libsodium (and so minisign) does, so the same file derives the
// same key in every implementation.
func scryptParams(c KDFCost) (n, r, p int) {
	ops := max(c.Ops, 1<<15)
	r = 8
	var maxN uint64
	if ops < c.Mem/32 {
		p = 1
		maxN = ops / (uint64(r) * 4)
	} else {
		maxN = c.Mem / (uint64(r) * 128)
	}
	logN := 1
	for ; logN < 63; logN++ {
		if uint64(1)<<logN > maxN/2 {
			break
		}
	}
	if ops >= c.Mem/32 {
		rp := min((ops/4)>>logN, 0x3fffffff)
		p = int(rp) / r
	}
	return 1 << logN, r, p
}

// signUntrusted is the untrusted comment of signatures this package makes.
const signUntrusted = "signature from kiln secret key"

// Sign returns a minisign signature of message (prehashed with
// BLAKE2b-512, as minisign signs by default) carrying trustedComment,
// which must be one line.
func (k SecretKey) Sign(message []byte, trustedComment string) ([]byte, error) {
	if len(k.key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: empty secret key", ErrBadKey)
	}
	if strings.ContainsAny(trustedComment, "\r\n") {
		return nil, fmt.Errorf("firmware: sign: the trusted comment must be one line")
	}
	digest := blake2b.Sum512(message)
	sig := minisign.Signature{
		Algorithm:        minisign.HashEdDSA,
		KeyID:            k.id,
		TrustedComment:   trustedComment,
		UntrustedComment: signUntrusted,
	}
	copy(sig.Signature[:], ed25519.Sign(k.key, digest[:]))
	copy(sig.CommentSignature[:], ed25519.Sign(k.key, append(sig.Signature[:], trustedComment...)))
	return sig.MarshalText()
}

// verifySignature checks a minisign signature of message against the
// trusted keys.
func verifySignature(message, sig []byte, keys []PublicKey) error {
	if len(sig) == 0 {
		return ErrUnsigned
	}
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	for _, k := range keys {
		if k.k.ID() != s.KeyID {
			continue
		}
		if !minisign.Verify(k.k, message, sig) {
			return fmt.Errorf("%w: the signature by key %016X does not match the manifest", ErrBadSignature, s.KeyID)
		}
		return nil
	}
	return fmt.Errorf("%w: signed by key %016X, which is not trusted", ErrBadSignature, s.KeyID)
}

// SignatureInfo describes a signature as it claims to be, unchecked.
type SignatureInfo struct {
	// KeyID is the ID of the key the signature names.
	KeyID string
	// TrustedComment is the signed comment (signed only if the signature
	// verifies).
	TrustedComment string
}

// SignatureInfo decodes the image's signature without verifying it;
// errors wrap ErrUnsigned or ErrBadSignature.
func (img *Image) SignatureInfo() (SignatureInfo, error) {
	if len(img.Signature) == 0 {
		return SignatureInfo{}, ErrUnsigned
	}
	var s minisign.Signature
	if err := s.UnmarshalText(img.Signature); err != nil {
		return SignatureInfo{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return SignatureInfo{KeyID: fmt.Sprintf("%016X", s.KeyID), TrustedComment: s.TrustedComment}, nil
}
