package firmware

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fixtures in testdata/minisign were made by Debian's minisign 0.11
// (see gen.sh): a key pair made by minisign, two made by kiln-image (one
// with a password), and minisign's signature of one manifest with each.
const (
	fixtureDir      = "testdata/minisign"
	fixtureTrusted  = "timestamp:1795300000\tfile:manifest.json\thashed"
	fixturePassword = "kiln test password"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMinisignFixtures(t *testing.T) {
	manifest := readFixture(t, "manifest.json")
	if _, err := parseManifest(manifest, DefaultMaxPayload); err != nil {
		t.Fatalf("fixture manifest: %v", err)
	}
	for _, tc := range []struct{ key, password string }{
		{"minisign", ""}, {"kiln", ""}, {"kiln-pw", fixturePassword},
	} {
		t.Run(tc.key, func(t *testing.T) {
			pubText := readFixture(t, tc.key+".pub")
			sig := readFixture(t, "manifest.json."+tc.key+".minisig")
			pub, err := ParsePublicKey(pubText)
			if err != nil {
				t.Fatal(err)
			}
			// What minisign signed verifies here, and only for this manifest.
			if err := verifySignature(manifest, sig, []PublicKey{pub}); err != nil {
				t.Fatalf("minisign's signature: %v", err)
			}
			changed := bytes.Replace(manifest, []byte("1.4.0"), []byte("1.4.1"), 1)
			if err := verifySignature(changed, sig, []PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
				t.Errorf("changed manifest: %v, want ErrBadSignature", err)
			}
			// The secret key file reads, and signing gives minisign's bytes
			// (Ed25519 is deterministic).
			sec, err := ParseSecretKey(readFixture(t, tc.key+".key"), tc.password)
			if err != nil {
				t.Fatal(err)
			}
			if sec.ID() != pub.ID() {
				t.Errorf("secret key ID %s, public %s", sec.ID(), pub.ID())
			}
			ours, err := sec.Sign(manifest, fixtureTrusted)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(sig), string(ours)); diff != "" {
				t.Errorf("signature differs from minisign's (-minisign +ours):\n%s", diff)
			}
			// Public key files re-encode byte for byte.
			if text, _ := pub.MarshalText(); !bytes.Equal(text, pubText) {
				t.Errorf("public key re-encodes as\n%s\nwant\n%s", text, pubText)
			}
		})
	}
}

// TestSecretKeyFileReencodes checks the secret key writer against the
// fixtures: a password-less key and an encrypted one (same salt) come out
// byte for byte, and minisign read both when it signed with them.
func TestSecretKeyFileReencodes(t *testing.T) {
	for _, tc := range []struct{ key, password string }{{"kiln", ""}, {"kiln-pw", fixturePassword}} {
		text := readFixture(t, tc.key+".key")
		k, err := ParseSecretKey(text, tc.password)
		if err != nil {
			t.Fatal(err)
		}
		raw := decodeKeyLine(text)
		got, err := k.Encode(tc.password, KDFInteractive, bytes.NewReader(raw[6:38])) // the file's salt
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, text) {
			t.Errorf("%s re-encodes as\n%s\nwant\n%s", tc.key, got, text)
		}
	}
}

func decodeKeyLine(text []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	raw, err := base64Decode(lines[len(lines)-1])
	if err != nil {
		panic(err) // the fixtures are base64
	}
	return raw
}

func TestSecretKeyRejects(t *testing.T) {
	enc := readFixture(t, "kiln-pw.key")
	plain := readFixture(t, "kiln.key")
	flipped := func(text []byte, at int) []byte {
		raw := decodeKeyLine(text)
		raw[at] ^= 0x40
		return []byte("untrusted comment: x\n" + base64Encode(raw) + "\n")
	}
	tests := []struct {
		name     string
		text     []byte
		password string
	}{
		{"wrong password", enc, "wrong"},
		{"no password", enc, ""},
		{"empty", nil, ""},
		{"public key", readFixture(t, "kiln.pub"), ""},
		{"not base64", []byte("untrusted comment: x\n!!!!\n"), ""},
		{"flipped secret byte", flipped(plain, 70), ""},
		{"flipped public half", flipped(plain, 54+8+40), ""},
		{"flipped public half, minisign -W key", flipped(readFixture(t, "minisign.key"), 54+8+40), ""},
		{"flipped encrypted byte", flipped(enc, 100), fixturePassword},
		{"unknown KDF", flipped(plain, 2), ""},
		{"huge scrypt cost", flipped(enc, 38+6), fixturePassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSecretKey(tc.text, tc.password)
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("got %v, want ErrBadKey", err)
			}
			t.Log(err)
		})
	}
}

func TestPublicKeyRejects(t *testing.T) {
	for _, text := range []string{"", "untrusted comment: x\n", "RWQ=", "untrusted comment: x\nRWQ!\n",
		string(readFixture(t, "kiln.key"))} {
		if _, err := ParsePublicKey([]byte(text)); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%.30q) = %v, want ErrBadKey", text, err)
		}
	}
	bare := strings.Split(string(readFixture(t, "kiln.pub")), "\n")[1]
	if _, err := ParsePublicKey([]byte(bare)); err != nil {
		t.Errorf("bare key line: %v", err)
	}
}

func TestKeyRoundTrip(t *testing.T) {
	k := testKey(t, 7)
	for _, password := range []string{"", "hunter2"} {
		text, err := k.Encode(password, KDFInteractive, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseSecretKey(text, password)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := back.Sign([]byte("m"), "c")
		if err != nil {
			t.Fatal(err)
		}
		if err := verifySignature([]byte("m"), sig, []PublicKey{k.Public()}); err != nil {
			t.Errorf("password %q: %v", password, err)
		}
	}
	if _, err := k.Sign([]byte("m"), "two\nlines"); err == nil {
		t.Error("a two-line trusted comment was accepted")
	}
}

// TestMinisignTool runs Debian's minisign, when installed, against keys and
// images made here: it verifies an image's extracted manifest, and it signs
// with a fresh kiln secret key (without and with a password) a file this
// package then verifies. Without the tool, TestMinisignFixtures covers the
// same formats against its recorded output.
func TestMinisignTool(t *testing.T) {
	bin, err := exec.LookPath("minisign")
	if err != nil {
		t.Logf("minisign not installed; the recorded fixtures cover compatibility")
		return
	}
	dir := t.TempDir()
	k := testKey(t, 9)
	pubText, _ := k.Public().MarshalText()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("kiln.pub", pubText)
	m, sig, _ := sections(t, buildImage(t, imageSpec{key: &k}))
	manifest := write("manifest.json", m)
	write("manifest.json.minisig", sig)
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("minisign %v: %v\n%s", args, err, out)
		}
	}
	run("", "-V", "-m", manifest, "-p", pub)
	for _, password := range []string{"", "kiln pw"} {
		text, err := k.Encode(password, KDFInteractive, nil)
		if err != nil {
			t.Fatal(err)
		}
		sec := write("kiln.key", text)
		msg := write("msg", []byte("signed by minisign with "+password))
		args := []string{"-S", "-s", sec, "-m", msg, "-x", msg + ".minisig"}
		if password == "" {
			args = append(args, "-W")
		}
		run(password+"\n", args...)
		got, err := os.ReadFile(msg + ".minisig")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := os.ReadFile(msg)
		if err := verifySignature(body, got, []PublicKey{k.Public()}); err != nil {
			t.Errorf("minisign's signature with password %q: %v", password, err)
		}
	}
}
