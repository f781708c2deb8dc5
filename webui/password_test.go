package webui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// phcPattern is the shape HashPassword must produce.
var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	a, err := HashPassword("s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("s3cret pass")
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{a, b} {
		if !phcPattern.MatchString(enc) {
			t.Errorf("hash %q does not have the PHC argon2id shape", enc)
		}
	}
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if !VerifyPassword(a, "s3cret pass") || !VerifyPassword(b, "s3cret pass") {
		t.Error("right password rejected")
	}
	for _, wrong := range []string{"", "s3cret pas", "s3cret pass ", "S3cret pass"} {
		if VerifyPassword(a, wrong) {
			t.Errorf("wrong password %q accepted", wrong)
		}
	}
}

func TestHashPasswordRefusesEmpty(t *testing.T) {
	if enc, err := HashPassword(""); err == nil {
		t.Errorf("HashPassword(\"\") = %q, want an error", enc)
	}
}

// cheapHash encodes an argon2id hash with small parameters, so the tests
// of the parser do not pay for the production cost each time.
func cheapHash(password string, salt []byte) string {
	key := argon2.IDKey([]byte(password), salt, 1, 8, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
}

var testSalt = []byte("0123456789abcdef")

// malformedHashes are corruptions of a valid cheap hash of "pw".
func malformedHashes() map[string]string {
	good := cheapHash("pw", testSalt)
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	return map[string]string{
		"empty":              "",
		"dollars only":       "$$$$$",
		"argon2i":            with(1, "argon2i"),
		"argon2d":            with(1, "argon2d"),
		"version 16":         with(2, "v=16"),
		"no version":         with(2, "19"),
		"missing field":      strings.Join(append(parts[:3:3], parts[4:]...), "$"),
		"extra field":        good + "$AAAA",
		"no leading dollar":  strings.TrimPrefix(good, "$"),
		"params reordered":   with(3, "t=1,m=8,p=1"),
		"params missing":     with(3, "m=8,t=1"),
		"params extra":       with(3, "m=8,t=1,p=1,k=2"),
		"zero time":          with(3, "m=8,t=0,p=1"),
		"zero threads":       with(3, "m=8,t=1,p=0"),
		"memory below 8p":    with(3, "m=15,t=1,p=2"),
		"huge memory":        with(3, "m=4294967295,t=1,p=1"),
		"memory overflow":    with(3, "m=4294967296,t=1,p=1"),
		"huge time":          with(3, "m=8,t=1000000,p=1"),
		"threads over uint8": with(3, "m=4096,t=1,p=256"),
		"negative memory":    with(3, "m=-8,t=1,p=1"),
		"plus sign":          with(3, "m=+8,t=1,p=1"),
		"hex memory":         with(3, "m=0x8,t=1,p=1"),
		"spaces":             with(3, "m= 8,t=1,p=1"),
		"salt not base64":    with(4, "!!!!!!!!!!!!"),
		"salt padded":        with(4, b64Padded(testSalt)),
		"salt too short":     with(4, b64.EncodeToString([]byte("short"))),
		"salt empty":         with(4, ""),
		"hash not base64":    with(5, "%%%%"),
		"hash too short":     with(5, b64.EncodeToString([]byte("0123456789"))),
		"hash too long":      with(5, b64.EncodeToString(make([]byte, 65))),
		"hash empty":         with(5, ""),
		"hash truncated":     good[:len(good)-2],
		"hash bit flipped":   flipLast(good),
	}
}

func b64Padded(b []byte) string {
	s := b64.EncodeToString(b)
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

// flipLast changes the last base64 digit of s to another valid one.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'Q'
	}
	return s[:len(s)-1] + string(repl)
}

func TestVerifyPasswordMalformed(t *testing.T) {
	if !VerifyPassword(cheapHash("pw", testSalt), "pw") {
		t.Fatal("the uncorrupted cheap hash does not verify: the corruptions below prove nothing")
	}
	for name, enc := range malformedHashes() {
		t.Run(name, func(t *testing.T) {
			if VerifyPassword(enc, "pw") {
				t.Errorf("VerifyPassword(%q) = true", enc)
			}
		})
	}
}

func TestParseArgon2idAcceptsOtherParameters(t *testing.T) {
	salt := []byte("another-salt-value-32-bytes-long")
	key := argon2.IDKey([]byte("pw"), salt, 3, 64, 2, 16)
	enc := fmt.Sprintf("$argon2id$v=19$m=64,t=3,p=2$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
	if !VerifyPassword(enc, "pw") {
		t.Errorf("valid hash with other parameters rejected: %s", enc)
	}
	if VerifyPassword(enc, "pW") {
		t.Error("wrong password accepted")
	}
}

func FuzzVerifyPassword(f *testing.F) {
	good := cheapHash("pw", testSalt)
	f.Add(good, "pw")
	f.Add(good, "")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"+strings.Repeat("A", 43), "pw")
	for _, enc := range malformedHashes() {
		f.Add(enc, "pw")
	}
	f.Fuzz(func(t *testing.T, encoded, password string) {
		ok := VerifyPassword(encoded, password) // must not panic
		if encoded == good && ok != (password == "pw") {
			t.Errorf("VerifyPassword(good, %q) = %v", password, ok)
		}
		if ok {
			if _, err := parseArgon2id(encoded); err != nil {
				t.Errorf("accepted %q that does not parse: %v", encoded, err)
			}
		}
	})
}
