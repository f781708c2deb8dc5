package firmware

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHeaderGolden(t *testing.T) {
	tests := []struct {
		name          string
		manifest, sig []byte
		want          []byte
	}{
		{name: "signed", manifest: []byte("{}"), sig: []byte("sig"), want: []byte{
			'K', 'I', 'L', 'N', 'I', 'M', 'G', // magic
			0x01,                   // container version
			0x00, 0x00, 0x00, 0x02, // manifest length
			0x00, 0x00, 0x00, 0x03, // signature length
			'{', '}', // manifest
			's', 'i', 'g', // signature
		}},
		{name: "unsigned", manifest: []byte("{}"), want: []byte{
			'K', 'I', 'L', 'N', 'I', 'M', 'G', 0x01, // magic, version
			0x00, 0x00, 0x00, 0x02, // manifest length
			0x00, 0x00, 0x00, 0x00, // no signature
			'{', '}', // manifest
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, appendHeader(nil, tc.manifest, tc.sig)); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildReadRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	payload := bytes.Repeat([]byte("kiln"), 5000)
	img := buildImage(t, imageSpec{key: &key, payload: payload, version: "v1.4.0-rc.1"})
	if !bytes.HasPrefix(img, []byte(Magic)) {
		t.Fatalf("image starts %q", img[:8])
	}
	got, err := ReadImage(bytes.NewReader(img), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{Format: 1, Product: "kiln", Version: "v1.4.0-rc.1", Boards: []string{"sim", "rpi4-64"},
		Created: testCreated, Payload: PayloadInfo{Kind: KindRootfs, Size: int64(len(payload)), SHA256: sha256Hex(payload)}}
	if diff := cmp.Diff(want, got.Manifest); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
	if _, err := got.Payload(t.Context()); err == nil {
		t.Fatal("Payload before Verify succeeded")
	}
	if err := got.Verify(Policy{Keys: []PublicKey{key.Public()}, Board: "sim"}); err != nil {
		t.Fatal(err)
	}
	r, err := got.Payload(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, payload) {
		t.Errorf("payload differs: %d bytes, want %d", len(b), len(payload))
	}
	if _, err := got.Payload(t.Context()); err == nil {
		t.Error("second Payload call succeeded")
	}
	info, err := got.SignatureInfo()
	if err != nil || info.KeyID != key.ID() || !strings.HasPrefix(info.TrustedComment, "timestamp:") {
		t.Errorf("SignatureInfo = %+v, %v; want key %s", info, err, key.ID())
	}
}

// rawImage assembles an image around any manifest text, signing it with
// key when given.
func rawImage(t *testing.T, manifest string, key *SecretKey, payload []byte) []byte {
	t.Helper()
	var sig []byte
	if key != nil {
		var err error
		if sig, err = key.Sign([]byte(manifest), "t"); err != nil {
			t.Fatal(err)
		}
	}
	return append(appendHeader(nil, []byte(manifest), sig), payload...)
}

const goodManifest = `{"format":1,"product":"kiln","version":"1.0.0","boards":["sim"],` +
	`"created":"2026-11-21T20:00:00Z","payload":{"kind":"rootfs","size":3,` +
	`"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}`

func TestReadImageRejects(t *testing.T) {
	header := func(mlen, slen uint32) []byte {
		b := []byte(Magic)
		b = binary.BigEndian.AppendUint32(b, mlen)
		return binary.BigEndian.AppendUint32(b, slen)
	}
	edit := func(old, new string) string { return strings.Replace(goodManifest, old, new, 1) }
	tests := []struct {
		name string
		img  []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", []byte("KILNIMG\x01\x00\x00"), ErrTruncated},
		{"bad magic", append([]byte("PK\x03\x04xxxx"), header(2, 0)[8:]...), ErrMalformed},
		{"container version 2", append([]byte("KILNIMG\x02"), header(2, 0)[8:]...), ErrMalformed},
		{"empty manifest", header(0, 0), ErrMalformed},
		{"manifest too large", header(MaxManifestSize+1, 0), ErrTooLarge},
		{"manifest length 4 GiB", header(0xffffffff, 0), ErrTooLarge},
		{"signature too large", header(10, MaxSignatureSize+1), ErrTooLarge},
		{"manifest cut short", append(header(100, 0), "{}"...), ErrTruncated},
		{"signature cut short", append(header(2, 50), "{}sig"...), ErrTruncated},
		{"not JSON", rawImage(t, "hello", nil, nil), ErrMalformed},
		{"JSON array", rawImage(t, "[1,2]", nil, nil), ErrMalformed},
		{"unknown field", rawImage(t, edit(`"format":1`, `"format":1,"x":2`), nil, nil), ErrMalformed},
		{"two objects", rawImage(t, goodManifest+"{}", nil, nil), ErrMalformed},
		{"format 2", rawImage(t, edit(`"format":1`, `"format":2`), nil, nil), ErrMalformed},
		{"other product", rawImage(t, edit(`"kiln"`, `"other"`), nil, nil), ErrMalformed},
		{"no created", rawImage(t, edit(`"created":"2026-11-21T20:00:00Z",`, ``), nil, nil), ErrMalformed},
		{"bad kind", rawImage(t, edit(`"rootfs"`, `"exe"`), nil, nil), ErrMalformed},
		{"zero size", rawImage(t, edit(`"size":3`, `"size":0`), nil, nil), ErrMalformed},
		{"negative size", rawImage(t, edit(`"size":3`, `"size":-3`), nil, nil), ErrMalformed},
		{"size over limit", rawImage(t, edit(`"size":3`, `"size":1073741825`), nil, nil), ErrTooLarge},
		{"uppercase digest", rawImage(t, edit(`ba7816bf`, `BA7816BF`), nil, nil), ErrMalformed},
		{"short digest", rawImage(t, edit(`ba7816bf`, ``), nil, nil), ErrMalformed},
		{"bad version", rawImage(t, edit(`"1.0.0"`, `"1.0.0.0"`), nil, nil), ErrMalformed},
		{"empty version", rawImage(t, edit(`"1.0.0"`, `""`), nil, nil), ErrMalformed},
		{"no boards", rawImage(t, edit(`["sim"]`, `[]`), nil, nil), ErrMalformed},
		{"board with slash", rawImage(t, edit(`["sim"]`, `["../sim"]`), nil, nil), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadImage(bytes.NewReader(tc.img), 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadImage: %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	if _, err := ReadImage(bytes.NewReader(rawImage(t, goodManifest, nil, []byte("abc"))), 0); err != nil {
		t.Errorf("the untouched manifest: %v", err)
	}
}

// readAll runs an image through ReadImage, Verify and the payload.
func readAll(ctx context.Context, img []byte, p Policy) ([]byte, error) {
	im, err := ReadImage(bytes.NewReader(img), 1<<20)
	if err != nil {
		return nil, err
	}
	if err := im.Verify(p); err != nil {
		return nil, err
	}
	r, err := im.Payload(ctx)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestVerifyRejects(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	good := buildImage(t, imageSpec{key: &key})
	policy := Policy{Keys: []PublicKey{key.Public()}, Board: "sim", Arch: "amd64", Running: "1.1.0"}
	tests := []struct {
		name   string
		img    []byte
		policy func(*Policy)
		want   error
	}{
		{"good", good, nil, nil},
		{"unsigned", buildImage(t, imageSpec{}), nil, ErrUnsigned},
		{"signed by another key", buildImage(t, imageSpec{key: &other}), nil, ErrBadSignature},
		{"two trusted keys", buildImage(t, imageSpec{key: &other}), func(p *Policy) { p.Keys = append(p.Keys, other.Public()) }, nil},
		{"manifest changed", bytes.Replace(good, []byte(`"1.2.0"`), []byte(`"9.2.0"`), 1), nil, ErrBadSignature},
		{"signature flipped", flipInSignature(t, good), nil, ErrBadSignature},
		{"signature swapped", swapSignature(t, good, buildImage(t, imageSpec{key: &key, version: "1.3.0"})), nil, ErrBadSignature},
		{"wrong board", good, func(p *Policy) { p.Board = "bitaxe-gamma" }, ErrWrongBoard},
		{"any-arm64 on arm64", buildImage(t, imageSpec{key: &key, boards: []string{"any-arm64"}}), func(p *Policy) { p.Board, p.Arch = "bitaxe-gamma", "arm64" }, nil},
		{"any-arm64 on amd64", buildImage(t, imageSpec{key: &key, boards: []string{"any-arm64"}}), nil, ErrWrongBoard},
		{"downgrade", good, func(p *Policy) { p.Running = "1.2.1" }, ErrDowngrade},
		{"same version, v prefix", good, func(p *Policy) { p.Running = "v1.2.0" }, nil},
		{"release to its pre-release", buildImage(t, imageSpec{key: &key, version: "1.2.0-rc.2"}), func(p *Policy) { p.Running = "1.2.0" }, ErrDowngrade},
		{"pre-release to release", good, func(p *Policy) { p.Running = "1.2.0-rc.2" }, nil},
		{"downgrade allowed", good, func(p *Policy) { p.Running, p.AllowDowngrade = "2.0.0", true }, nil},
		{"running version unknown", good, func(p *Policy) { p.Running = "dev" }, nil},
		{"same version", good, func(p *Policy) { p.Running = "1.2.0" }, nil},
		{"payload flipped", flipLast(good), nil, ErrDigest},
		{"trailing byte", append(bytes.Clone(good), 0), nil, ErrMalformed},
		{"payload cut", good[:len(good)-1], nil, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := policy
			p.Keys = append([]PublicKey(nil), policy.Keys...)
			if tc.policy != nil {
				tc.policy(&p)
			}
			_, err := readAll(t.Context(), tc.img, p)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func flipLast(img []byte) []byte {
	b := bytes.Clone(img)
	b[len(b)-1] ^= 0x01
	return b
}

// sections splits an image into its manifest, signature and payload.
func sections(t *testing.T, img []byte) (manifest, sig, payload []byte) {
	t.Helper()
	m := binary.BigEndian.Uint32(img[8:])
	s := binary.BigEndian.Uint32(img[12:])
	return img[16 : 16+m], img[16+m : 16+m+s], img[16+m+s:]
}

func flipInSignature(t *testing.T, img []byte) []byte {
	m, sig, p := sections(t, img)
	sig = bytes.Clone(sig)
	// The signature line is the second line; change one base64 digit.
	i := bytes.IndexByte(sig, '\n') + 20
	if sig[i] == 'A' {
		sig[i] = 'B'
	} else {
		sig[i] = 'A'
	}
	return append(appendHeader(nil, m, sig), p...)
}

func swapSignature(t *testing.T, img, from []byte) []byte {
	m, _, p := sections(t, img)
	_, sig, _ := sections(t, from)
	return append(appendHeader(nil, m, sig), p...)
}

func TestTruncatedAtEveryLength(t *testing.T) {
	key := testKey(t, 1)
	img := buildImage(t, imageSpec{key: &key})
	policy := Policy{Keys: []PublicKey{key.Public()}, Board: "sim"}
	for n := range len(img) {
		if _, err := readAll(t.Context(), img[:n], policy); !errors.Is(err, ErrTruncated) {
			t.Fatalf("image cut to %d of %d bytes: %v, want ErrTruncated", n, len(img), err)
		}
	}
	if _, err := readAll(t.Context(), img, policy); err != nil {
		t.Fatalf("whole image: %v", err)
	}
}

func TestPayloadStopsWhenCanceled(t *testing.T) {
	key := testKey(t, 1)
	img := buildImage(t, imageSpec{key: &key})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := readAll(ctx, img, Policy{Keys: []PublicKey{key.Public()}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// errAfter is a reader that fails after n bytes.
type errAfter struct {
	r   io.Reader
	n   int
	err error
}

func (e *errAfter) Read(b []byte) (int, error) {
	if e.n <= 0 {
		return 0, e.err
	}
	if len(b) > e.n {
		b = b[:e.n]
	}
	n, err := e.r.Read(b)
	e.n -= n
	return n, err
}

func TestReadErrorsPassThrough(t *testing.T) {
	key := testKey(t, 1)
	img := buildImage(t, imageSpec{key: &key})
	boom := errors.New("disk on fire")
	for _, n := range []int{0, 10, 100, len(img) - 5, len(img)} {
		im, err := ReadImage(&errAfter{r: bytes.NewReader(img), n: n, err: boom}, 0)
		if err == nil {
			if err = im.Verify(Policy{Keys: []PublicKey{key.Public()}}); err == nil {
				var r io.Reader
				if r, err = im.Payload(t.Context()); err == nil {
					_, err = io.ReadAll(r)
				}
			}
		}
		if !errors.Is(err, boom) {
			t.Errorf("read failing after %d bytes: %v, want the reader's error", n, err)
		}
	}
}

// FuzzParseImage feeds arbitrary bytes through the whole verification
// path: it must never panic, and every rejection must be one of the typed
// errors.
func FuzzParseImage(f *testing.F) {
	key := testKey(f, 1)
	good := buildImage(f, imageSpec{key: &key})
	f.Add(good)
	f.Add(buildImage(f, imageSpec{}))
	f.Add(buildImage(f, imageSpec{key: &key, kind: KindBundle, payload: makeTar(f, tarEntry{name: "controller", body: "ELF"})}))
	f.Add(good[:40])
	f.Add(flipLast(good))
	f.Add(append(bytes.Clone(good), 1))
	f.Add([]byte(Magic + "\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Add([]byte{})
	policy := Policy{Keys: []PublicKey{key.Public()}, Board: "sim", Running: "1.0.0"}
	typed := []error{ErrUnsigned, ErrBadSignature, ErrWrongBoard, ErrTruncated, ErrDigest,
		ErrDowngrade, ErrMalformed, ErrTooLarge}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := readAll(t.Context(), data, policy)
		if err == nil {
			return
		}
		for _, e := range typed {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("untyped rejection: %v", err)
	})
}
