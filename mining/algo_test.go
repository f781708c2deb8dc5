package mining

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func TestParseAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Algorithm
	}{
		{"", SHA256d}, {"sha256d", SHA256d}, {"SHA256D", SHA256d}, {" scrypt ", Scrypt}, {"Scrypt", Scrypt},
	} {
		got, err := ParseAlgorithm(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"sha256", "x11", "scrypt-n", "ethash"} {
		_, err := ParseAlgorithm(bad)
		if !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("ParseAlgorithm(%q) error %v, want ErrUnknownAlgorithm", bad, err)
		}
	}
	if Algorithm("").String() != "sha256d" || !Algorithm("").Known() || Algorithm("x11").Known() {
		t.Error("zero value must read as sha256d, x11 as unknown")
	}
}

func TestAlgorithmTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		algo Algorithm
		diff float64
		want string
	}{
		{"sha256d diff 1", SHA256d, 1, "00000000ffff0000000000000000000000000000000000000000000000000000"},
		{"zero value is sha256d", "", 1, "00000000ffff0000000000000000000000000000000000000000000000000000"},
		// Scrypt pools scale difficulty by 65536: diff 1 is 2^16 times easier.
		{"scrypt diff 1", Scrypt, 1, "0000ffff00000000000000000000000000000000000000000000000000000000"},
		{"scrypt diff 65536", Scrypt, 65536, "00000000ffff0000000000000000000000000000000000000000000000000000"},
		{"scrypt diff 1/256", Scrypt, 1.0 / 256, "00ffff0000000000000000000000000000000000000000000000000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.algo.TargetFromDifficulty(tc.diff)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("target %s, want %s", got, tc.want)
			}
		})
	}
	if Scrypt.Diff1Target().String() != "0000ffff00000000000000000000000000000000000000000000000000000000" {
		t.Errorf("scrypt diff-1 target %s", Scrypt.Diff1Target())
	}
	if _, err := Scrypt.TargetFromDifficulty(0); !errors.Is(err, ErrBadDifficulty) {
		t.Errorf("difficulty 0: %v", err)
	}
	hash := [32]byte{29: 0xff, 28: 0xff} // 0000ffff00… in display order
	if d := Scrypt.HashDifficulty(&hash); d != 1 {
		t.Errorf("scrypt difficulty of the diff-1 target %v, want 1", d)
	}
}

// litecoinGenesisHeader is Litecoin's genesis block header (version 1,
// merkle root 97ddfbba…d4ced9, time 1317972665, bits 1e0ffff0, nonce
// 2084524493, as in Litecoin Core's chainparams.cpp).
func litecoinGenesisHeader(t *testing.T) [80]byte {
	var h [80]byte
	root, err := hex.DecodeString("97ddfbbae6be97fd6cdf3e7ca13232a3afff2353e29badfab7f73011edd4ced9")
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(h[0:], 1)
	for i := range root {
		h[36+i] = root[31-i]
	}
	binary.LittleEndian.PutUint32(h[68:], 1317972665)
	binary.LittleEndian.PutUint32(h[72:], 0x1e0ffff0)
	binary.LittleEndian.PutUint32(h[76:], 2084524493)
	return h
}

// TestPoWHashLitecoinGenesis checks both algorithms on a real block: the
// block id is the SHA-256d, the proof of work the scrypt hash (display
// order 0000050c34a6…671e00, as printed in the Litecoin sample of the
// README of github.com/mycroft/generate-genesis), which meets the block's
// nbits.
func TestPoWHashLitecoinGenesis(t *testing.T) {
	h := litecoinGenesisHeader(t)
	id := SHA256d.PoWHash(h[:])
	if got := Target(reverse32(id)).String(); got != "12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2" {
		t.Fatalf("block id %s", got)
	}
	pow := Scrypt.PoWHash(h[:])
	if got := Target(reverse32(pow)).String(); got != "0000050c34a64b415b6b15b37f2216634b5b1669cb9a2e38d76f7213b0671e00" {
		t.Fatalf("scrypt pow %s", got)
	}
	nt, err := TargetFromNBits(0x1e0ffff0)
	if err != nil {
		t.Fatal(err)
	}
	if !nt.Meets(&pow) || nt.Meets(&id) {
		t.Error("the scrypt hash must meet the genesis nbits and the sha256d hash must not")
	}
}

func reverse32(b [32]byte) [32]byte {
	var r [32]byte
	for i := range b {
		r[i] = b[31-i]
	}
	return r
}

// TestValidatorUsesJobAlgorithm checks that a scrypt job's results are
// verified with scrypt: the genesis nonce verifies and is a share at the
// block's difficulty; the same nonce judged as sha256d is a hardware error.
func TestValidatorUsesJobAlgorithm(t *testing.T) {
	g := litecoinGenesisHeader(t)
	mk := func(algo Algorithm) Result {
		j := &Job{ID: "ltc", Algo: algo, Version: 1, NBits: 0x1e0ffff0, NTime: 1317972665}
		j.Difficulty = 1
		j.ShareTarget, _ = algo.TargetFromDifficulty(1)
		w := &Work{Job: j, Version: 1, NTime: 1317972665, Header: g}
		return Result{Work: w, Nonce: 2084524493, Target: TargetFromTop32(0x0000ffff)}
	}
	v := NewValidator(nil, func() time.Time { return time.Unix(1317972665, 0) })
	sh, err := v.Check(mk(Scrypt))
	if err != nil || sh == nil {
		t.Fatalf("scrypt genesis result: share %v, err %v", sh, err)
	}
	if sh.Difficulty < 50.7 || sh.Difficulty > 50.8 {
		// 0000ffff… (scrypt diff 1) over 0000050c34a6…: 50.7.
		t.Errorf("share difficulty %v, want 50.7", sh.Difficulty)
	}
	if _, err := v.Check(mk(SHA256d)); !errors.Is(err, ErrHardware) {
		t.Errorf("same nonce as sha256d: %v, want ErrHardware", err)
	}
}

// FuzzParseAlgorithm: any name parses to a known algorithm or fails with
// ErrUnknownAlgorithm, and a parsed name round-trips.
func FuzzParseAlgorithm(f *testing.F) {
	for _, s := range []string{"", "sha256d", "scrypt", "SCRYPT", " sha256d", "x11", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAlgorithm(s)
		if err != nil {
			if !errors.Is(err, ErrUnknownAlgorithm) {
				t.Fatalf("ParseAlgorithm(%q): %v", s, err)
			}
			return
		}
		if !a.Known() {
			t.Fatalf("ParseAlgorithm(%q) = unknown %q", s, a)
		}
		if b, err := ParseAlgorithm(a.String()); err != nil || b != a {
			t.Fatalf("%q does not round-trip: %q, %v", a, b, err)
		}
	})
}
