package mining

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hash32(t testing.TB, s string) [32]byte {
	var h [32]byte
	copy(h[:], unhex(t, s))
	return h
}

func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// jobB is the synthetic job of stratum-v1.md §8(b), share difficulty 1/1024.
func jobB(t testing.TB) *Job {
	t.Helper()
	prev := unhex(t, "2728a05456b7a8d7165a2701c5a37902c1e48d760002a7c40000000000000000")
	for i := 0; i < 32; i += 4 { // wire form is word-swapped
		prev[i], prev[i+1], prev[i+2], prev[i+3] = prev[i+3], prev[i+2], prev[i+1], prev[i]
	}
	j := &Job{
		ID:     "b1",
		Coinb1: unhex(t, "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1b0340d10c0d2f7374726174756d2d7265662f08"),
		Coinb2: unhex(t, "ffffffff02205fa0120000000016001411111111111111111111111111111111111111110000000000000000266a24aa21a9ed222222222222222222222222222222222222222222222222222222222222222200000000"),
		Branches: [][32]byte{
			hash32(t, "4ab8e84b32323522906c4bdc3c6923ad88a8da0168bcbd5eb9d3d3235f799684"),
			hash32(t, "c5a8bad06c730e237ea5b57219e709ae760c91d12f0129cdb8221ad8d1035150"),
		},
		Version: 0x20000000, NBits: 0x17034219, NTime: 0x66255d00, Clean: true,
		Extranonce1: unhex(t, "f000000f"), Extranonce2Size: 4,
		Difficulty: 1.0 / 1024, ShareTarget: MustTarget(1.0 / 1024),
		Received: time.Unix(0x66255d00, 0),
	}
	copy(j.PrevHash[:], prev)
	return j
}

func TestVectorSynthetic(t *testing.T) {
	j := jobB(t)
	en2 := Extranonce2(1, 4)
	if got, want := hex.EncodeToString(en2), "01000000"; got != want {
		t.Fatalf("extranonce2 = %s, want %s", got, want)
	}
	cb := j.Coinbase(en2)
	if got, want := hex.EncodeToString(cb), "02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1b0340d10c0d2f7374726174756d2d7265662f08f000000f01000000ffffffff02205fa0120000000016001411111111111111111111111111111111111111110000000000000000266a24aa21a9ed222222222222222222222222222222222222222222222222222222222222222200000000"; got != want {
		t.Errorf("coinbase:\n got %s\nwant %s", got, want)
	}
	cbh := Sha256d(cb)
	if got, want := hex.EncodeToString(cbh[:]), "6070f80f82a5ec9dff0ac4bdaee7876faff0d46ee3fac84895387407c6cf957a"; got != want {
		t.Errorf("coinbase hash = %s, want %s", got, want)
	}
	root := j.MerkleRoot(en2)
	if got, want := hex.EncodeToString(root[:]), "23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29"; got != want {
		t.Errorf("merkle root = %s, want %s", got, want)
	}
	hdr := j.Header(root, j.Version, j.NTime, 0x004417c8)
	if got, want := hex.EncodeToString(hdr[:]), "0000002054a02827d7a8b75601275a160279a3c5768de4c1c4a70200000000000000000023d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29005d256619420317c8174400"; got != want {
		t.Errorf("header:\n got %s\nwant %s", got, want)
	}
	mid := Midstate(&hdr)
	if got, want := midHex(mid), "1cd1479ad4eecf22e74f05527c7b5a0e73604a4c3807b4a67f5210da956e835b"; got != want {
		t.Errorf("midstate = %s, want %s", got, want)
	}
	h := Sha256d(hdr[:])
	if got, want := hex.EncodeToString(reversed(h[:])), "000003eb249c61513e24a6167e0fa521e2a483eb146eb98cc15816bd168dfc2b"; got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
	if !j.ShareTarget.Meets(&h) {
		t.Error("hash does not meet the 1/1024 share target")
	}
	if d := HashDifficulty(&h); d < 0.000996 || d > 0.000997 {
		t.Errorf("share difficulty = %v, want 0.000996852", d)
	}
}

func midHex(m [8]uint32) string {
	b := make([]byte, 0, 32)
	for _, w := range m {
		b = append(b, byte(w>>24), byte(w>>16), byte(w>>8), byte(w))
	}
	return hex.EncodeToString(b)
}

func TestVectorVersionRolling(t *testing.T) {
	j := jobB(t)
	j.VersionMask = 0x1fffe000
	rolled := RollVersion(j.Version, j.VersionMask, 0x1234)
	if rolled != 0x22468000 {
		t.Fatalf("rolled version = %08x, want 22468000", rolled)
	}
	if bits := rolled & j.VersionMask; bits != 0x02468000 {
		t.Errorf("version bits = %08x, want 02468000", bits)
	}
	hdr := j.Header(j.MerkleRoot(Extranonce2(1, 4)), rolled, j.NTime, 0x0022ade0)
	if got, want := hex.EncodeToString(hdr[:]), "0080462254a02827d7a8b75601275a160279a3c5768de4c1c4a70200000000000000000023d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29005d256619420317e0ad2200"; got != want {
		t.Errorf("header:\n got %s\nwant %s", got, want)
	}
	if got, want := midHex(Midstate(&hdr)), "0e48efebf28c25d20e65df0cc7c603069c16e603edd7bca395b8bf8b9d09cc6e"; got != want {
		t.Errorf("midstate = %s, want %s", got, want)
	}
	h := Sha256d(hdr[:])
	if got, want := hex.EncodeToString(reversed(h[:])), "0000016edfd0425ac60394ae9790c2b0cd2f5d1615c8b8789717ae4e0468f74f"; got != want {
		t.Errorf("hash = %s, want %s", got, want)
	}
	unrolled := j.Header(j.MerkleRoot(Extranonce2(1, 4)), j.Version, j.NTime, 0x0022ade0)
	uh := Sha256d(unrolled[:])
	if j.ShareTarget.Meets(&uh) {
		t.Error("same nonce with the unrolled version must not be a share")
	}
}

func TestVectorBlock125552(t *testing.T) {
	cbh := hash32(t, "2dcd407b74370c9d60d4d7448702325e62aba667be41554d1f9e1c87dd7bd351")
	b0 := reversed(unhex(t, "60c25dda8d41f8d3d7d5c6249e2ea1b05a25bf7ae2ad6d904b512b31f997e1a1"))
	tx2 := reversed(unhex(t, "01f314cdd8566d3e5dbdd97de2d9fbfbfd6873e916a00d48758282cbb81a45b9"))
	tx3 := reversed(unhex(t, "b519286a1040da6ad83c783eb2872659eaf57b1bec088e614776ffe7dc8f6d01"))
	var br0 [32]byte
	copy(br0[:], b0)
	br1 := Sha256d(append(append([]byte{}, tx2...), tx3...))
	root := MerkleRoot(cbh, [][32]byte{br0, br1})
	if got, want := hex.EncodeToString(root[:]), "e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122b"; got != want {
		t.Fatalf("merkle root = %s, want %s", got, want)
	}
	prev := reversed(unhex(t, "00000000000008a3a41b85b8b29ad444def299fee21793cd8b9e567eab02cd81"))
	j := &Job{Version: 1, NBits: 0x1a44b9f2}
	copy(j.PrevHash[:], prev)
	hdr := j.Header(root, 1, 0x4dd7f5c7, 0x9546a142)
	if got, want := hex.EncodeToString(hdr[:]), "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695"; got != want {
		t.Fatalf("header:\n got %s\nwant %s", got, want)
	}
	if got, want := midHex(Midstate(&hdr)), "9524c59305c5671316e669ba2d2810a007e86e372f56a9dacd5bce697a78da2d"; got != want {
		t.Errorf("midstate = %s, want %s", got, want)
	}
	h := Sha256d(hdr[:])
	nt, err := TargetFromNBits(j.NBits)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nt.String(), "00000000000044b9f20000000000000000000000000000000000000000000000"; got != want {
		t.Errorf("target(nbits) = %s, want %s", got, want)
	}
	if !nt.Meets(&h) {
		t.Error("block hash does not meet its nbits target")
	}
	if d := nt.Difficulty(); d < 244112.4877 || d > 244112.4878 {
		t.Errorf("block difficulty = %v, want 244112.487774", d)
	}
	if d := HashDifficulty(&h); d < 35987218905.5 || d > 35987218905.52 {
		t.Errorf("share difficulty = %v, want 35987218905.51", d)
	}
}

func TestDifficultyTargets(t *testing.T) {
	cases := []struct {
		diff float64
		want string
	}{
		{1.0 / 1024, "000003fffc000000000000000000000000000000000000000000000000000000"},
		{1, "00000000ffff0000000000000000000000000000000000000000000000000000"},
		{512, "00000000007fff80000000000000000000000000000000000000000000000000"},
		{1024, "00000000003fffc0000000000000000000000000000000000000000000000000"},
		{65536, "000000000000ffff000000000000000000000000000000000000000000000000"},
	}
	for _, c := range cases {
		tg, err := TargetFromDifficulty(c.diff)
		if err != nil {
			t.Fatalf("diff %v: %v", c.diff, err)
		}
		if diff := cmp.Diff(c.want, tg.String()); diff != "" {
			t.Errorf("target(%v) (-want +got):\n%s", c.diff, diff)
		}
		if back := tg.Difficulty(); back < c.diff*0.999999 || back > c.diff*1.000001 {
			t.Errorf("difficulty(target(%v)) = %v", c.diff, back)
		}
	}
	for _, bad := range []float64{0, -1} {
		if _, err := TargetFromDifficulty(bad); err == nil {
			t.Errorf("TargetFromDifficulty(%v) accepted", bad)
		}
	}
}

func TestNBitsRoundTrip(t *testing.T) {
	for _, nb := range []uint32{0x1d00ffff, 0x1a44b9f2, 0x17034219, 0x1705ae3a} {
		tg, err := TargetFromNBits(nb)
		if err != nil {
			t.Fatal(err)
		}
		if got := NBitsFromTarget(tg); got != nb {
			t.Errorf("nbits %08x -> %s -> %08x", nb, tg, got)
		}
	}
	if tg, _ := TargetFromNBits(0x1d00ffff); tg != Diff1Target() {
		t.Errorf("1d00ffff = %s, want DIFF1", tg)
	}
	if _, err := TargetFromNBits(0x1d80ffff); err == nil {
		t.Error("negative nbits accepted")
	}
	if d, _ := TargetFromNBits(0x17034219); d.Difficulty() < 86388558925171 || d.Difficulty() > 86388558925172 {
		t.Errorf("difficulty(17034219) = %v", d.Difficulty())
	}
}

func TestTop32Targets(t *testing.T) {
	tg := TargetFromTop32(0x000003ff)
	var h [32]byte
	h[28], h[29] = 0xff, 0x03 // top word 0x000003ff, everything below max
	for i := 0; i < 28; i++ {
		h[i] = 0xff
	}
	if !tg.Meets(&h) {
		t.Error("hash with top word == limit must meet TargetFromTop32(limit)")
	}
	h[29] = 0x04
	if tg.Meets(&h) {
		t.Error("hash with top word > limit meets TargetFromTop32(limit)")
	}
	if got := tg.Top32(); got != 0x3ff {
		t.Errorf("Top32 = %x", got)
	}
	// 2^256 / (2^(32+224)·... ): a top-word limit L reports 1 in 2^32/(L+1).
	if e := TargetFromTop32(0xffff).ExpectedHashes(); e < 65535.99 || e > 65536.01 {
		t.Errorf("ExpectedHashes(top32 0xffff) = %v, want 65536", e)
	}
}
