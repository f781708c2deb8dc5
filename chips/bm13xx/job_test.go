package bm13xx

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnfw/kiln/mining"
)

// t5Header is the §11 block header (version 20000004, nonce 0x0a029ed1).
const t5Header = "040000204595850c738349a3fa5274a511b72ec265a4f23d5243050000000000000000005bdc1968499c3393873e" +
	"df8e07a1c3a50a97fc3a9d1a376bbf77087dd63778ebb52570643aae0517d19e020a"

// header80 returns the §11 header with another version, ntime and nonce.
func header80(t testing.TB, version, ntime uint32, nonce [4]byte) [80]byte {
	t.Helper()
	var h [80]byte
	copy(h[:], unhex(t, t5Header))
	binary.LittleEndian.PutUint32(h[0:], version)
	binary.LittleEndian.PutUint32(h[68:], ntime)
	copy(h[76:], nonce[:])
	return h
}

// vectorJob returns the §11 job fields for model m.
func vectorJob(t testing.TB, id byte, ntime uint32, versions ...uint32) Job {
	h := header80(t, 0x20000004, ntime, [4]byte{})
	j := Job{ID: id, NumMidstates: 1, NBits: 0x1705ae3a, NTime: ntime, Version: 0x20000004}
	copy(j.PrevHash[:], h[4:36])
	copy(j.MerkleRoot[:], h[36:68])
	for _, v := range versions {
		hv := header80(t, v, ntime, [4]byte{})
		j.Midstates = append(j.Midstates, mining.Midstate(&hv))
	}
	if len(versions) > 0 {
		j.NumMidstates = byte(len(versions))
	}
	return j
}

func TestJobGolden(t *testing.T) {
	fourVersions := []uint32{0x20000004, 0x20002004, 0x20004004, 0x20006004}
	cases := []struct {
		name  string
		model Model
		job   Job
		frame []byte
	}{
		{"T5 BM1366+ job 18", BM1366, vectorJob(t, 0x18, 0x647025b5), unhex(t, `
			55 AA 21 56     -- preamble, job, length 86
			18 01           -- job id, midstates
			00 00 00 00     -- starting nonce
			3A AE 05 17     -- nbits 1705ae3a LE
			B5 25 70 64     -- ntime 647025b5 LE
			D6 37 78 EB BF 77 08 7D 9D 1A 37 6B 0A 97 FC 3A
			07 A1 C3 A5 87 3E DF 8E 49 9C 33 93 5B DC 19 68 -- merkle root, word order reversed
			00 00 00 00 00 00 00 00 52 43 05 00 65 A4 F2 3D
			11 B7 2E C2 FA 52 74 A5 73 83 49 A3 45 95 85 0C -- prev hash, word order reversed
			04 00 00 20     -- version LE
			AB F4           -- CRC16`)},
		{"T6 BM1397 job 04, one midstate", BM1397, vectorJob(t, 0x04, 0x647025b5, 0x20000004), unhex(t, `
			55 AA 21 36     -- preamble, job, length 22+32
			04 01           -- job id, midstates
			00 00 00 00     -- starting nonce
			3A AE 05 17     -- nbits LE
			B5 25 70 64     -- ntime LE
			D6 37 78 EB     -- merkle root tail header[64:68]
			46 A9 A8 8F C8 3E 68 99 B4 11 16 03 0B 4C 5F 48
			8F 5D EB 70 BE DC EC 31 6A DB D0 CD AC D5 E4 B1 -- midstate H7..H0 big-endian
			04 F5           -- CRC16`)},
		{"T6 BM1397 job 04, four midstates", BM1397, vectorJob(t, 0x04, 0x647025b5, fourVersions...), unhex(t, `
			55 AA 21 96 04 04 00 00 00 00 3A AE 05 17 B5 25 70 64 D6 37 78 EB
			46 A9 A8 8F C8 3E 68 99 B4 11 16 03 0B 4C 5F 48 8F 5D EB 70 BE DC EC 31 6A DB D0 CD AC D5 E4 B1
			09 F8 E1 F6 59 97 77 64 F3 52 51 60 4D AC F5 90 93 34 2A 27 5F D7 1A 1E BD 9B 0A B2 83 2D 09 65
			9F 0D BD C3 87 22 D8 54 AE 34 B1 4F 15 62 9A 54 BF DB AF 93 6A BE 08 79 B9 4A 85 A6 FB 21 D8 E4
			D9 FD AB 5B 75 85 FB CB 8C 0B 5D 3B 3F BD 87 C4 1B E0 DD B4 2A 15 82 89 69 40 C4 6F 8B F1 60 42
			EE B2`)},
		{"T6 BM1397 job 08, rolled ntime", BM1397, vectorJob(t, 0x08, 0x647025b6, fourVersions...), unhex(t, `
			55 AA 21 96 08 04 00 00 00 00 3A AE 05 17 B6 25 70 64 D6 37 78 EB
			46 A9 A8 8F C8 3E 68 99 B4 11 16 03 0B 4C 5F 48 8F 5D EB 70 BE DC EC 31 6A DB D0 CD AC D5 E4 B1
			09 F8 E1 F6 59 97 77 64 F3 52 51 60 4D AC F5 90 93 34 2A 27 5F D7 1A 1E BD 9B 0A B2 83 2D 09 65
			9F 0D BD C3 87 22 D8 54 AE 34 B1 4F 15 62 9A 54 BF DB AF 93 6A BE 08 79 B9 4A 85 A6 FB 21 D8 E4
			D9 FD AB 5B 75 85 FB CB 8C 0B 5D 3B 3F BD 87 C4 1B E0 DD B4 2A 15 82 89 69 40 C4 6F 8B F1 60 42
			94 2A`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := EncodeJob(c.model, c.job)
			if diff := cmp.Diff(c.frame, got); diff != "" {
				t.Errorf("EncodeJob (-want +got):\n%s", diff)
			}
			back, err := DecodeJob(c.model, c.frame)
			if err != nil {
				t.Fatalf("DecodeJob: %v", err)
			}
			want := c.job
			if !c.model.HardwareRolling { // only the root's tail travels
				want.PrevHash, want.Version = [32]byte{}, 0
				want.MerkleRoot = [32]byte{}
				copy(want.MerkleRoot[28:], c.job.MerkleRoot[28:])
			}
			if diff := cmp.Diff(want, back); diff != "" {
				t.Errorf("DecodeJob (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMidstateByteOrder is ESP-Miner's own job-construction check (§11):
// the state words go out last word first, each big-endian.
func TestMidstateByteOrder(t *testing.T) {
	le := unhex(t, "91DFEA52 8A9F7368 3D0D495D D6DD7415 E1CA21CB 411759E3 E05D7D5F F285314D")
	var ms [8]uint32
	for i := range ms {
		ms[i] = binary.LittleEndian.Uint32(le[4*i:])
	}
	frame := EncodeJob(BM1397, Job{Midstates: [][8]uint32{ms}})
	want := unhex(t, "4D3185F2 5F7D5DE0 E3591741 CB21CAE1 1574DDD6 5D490D3D 68739F8A 52EADF91")
	if diff := cmp.Diff(want, frame[22:54]); diff != "" {
		t.Errorf("midstate field (-want +got):\n%s", diff)
	}
}

// TestVectorNoncesVerify rebuilds the §11 headers from the T7 replies and
// checks their difficulty: job, version and byte order all line up.
func TestVectorNoncesVerify(t *testing.T) {
	cases := []struct {
		name    string
		model   Model
		frame   int
		ntime   uint32
		version func(Nonce) uint32
		diffLo  float64
		diffHi  float64
	}{
		{"BM1397 job 04", BM1397, 4, 0x647025b5, func(Nonce) uint32 { return 0x20000004 }, 683.5, 683.52},
		{"BM1397 job 08 midstate 1", BM1397, 5, 0x647025b6, func(n Nonce) uint32 {
			return mining.RollVersion(0x20000004, 0x1fffe000, uint64(n.SubIndex))
		}, 1.035, 1.045},
		{"BM1366 job 18", BM1366, 6, 0x647025b5, func(n Nonce) uint32 { return 0x20000004 | n.VersionBits }, 683.5, 683.52},
		{"BM1370 rolled", BM1370, 7, 0x647025b5, func(n Nonce) uint32 { return 0x20000004 | n.VersionBits }, 2.54, 2.55},
		{"BM1366 rolled", BM1366, 8, 0x647025b5, func(n Nonce) uint32 { return 0x20000004 | n.VersionBits }, 2.54, 2.55},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodeResponse(responseCases[c.frame].frame)
			if err != nil {
				t.Fatal(err)
			}
			n := c.model.DecodeNonce(r)
			h := header80(t, c.version(n), c.ntime, n.Bytes)
			hash := mining.Sha256d(h[:])
			if c.frame == 5 { // §11 gives this hash in display order
				if got := hex.EncodeToString(reversed(hash[:])); got[:16] != "00000000f6579a05" || got[56:] != "a0e36eb6" {
					t.Errorf("hash %s, want 00000000f6579a05…a0e36eb6", got)
				}
			}
			if d := mining.HashDifficulty(&hash); d < c.diffLo || d > c.diffHi || math.IsNaN(d) {
				t.Errorf("difficulty %v, want [%v, %v]", d, c.diffLo, c.diffHi)
			}
		})
	}
}

func TestDecodeJobErrors(t *testing.T) {
	t5 := EncodeJob(BM1366, vectorJob(t, 0x18, 0x647025b5))
	t6 := EncodeJob(BM1397, vectorJob(t, 0x04, 0x647025b5, 0x20000004))
	mod := func(b []byte, i int, x byte) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= x
		return c
	}
	cases := []struct {
		name  string
		model Model
		frame []byte
		want  error
	}{
		{"empty", BM1366, nil, ErrFrame},
		{"command header", BM1366, mod(t5, 2, 0x60), ErrFrame},
		{"bad preamble", BM1366, mod(t5, 0, 1), ErrFrame},
		{"BM1366 short", BM1366, t5[:87], ErrFrame},
		{"BM1366 long", BM1366, append(append([]byte(nil), t5...), 0), ErrFrame},
		{"BM1366 bad crc", BM1366, mod(t5, 87, 1), ErrCRC},
		{"BM1366 corrupt root", BM1366, mod(t5, 30, 4), ErrCRC},
		{"BM1397 length not 22+32n", BM1397, mod(t6, 3, 1), ErrFrame},
		{"BM1397 five midstates", BM1397, mod(t6, 3, 0x36^0xb6), ErrFrame},
		{"BM1397 size differs from length", BM1397, t6[:55], ErrFrame},
		{"BM1397 bad crc", BM1397, mod(t6, 54, 0x10), ErrCRC},
		{"BM1397 frame for BM1366", BM1366, t6, ErrFrame},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeJob(c.model, c.frame); !errors.Is(err, c.want) {
				t.Errorf("DecodeJob = %v, want %v", err, c.want)
			}
		})
	}
	// The BM1366+ length byte is ignored (vendor firmware sends 36).
	alt := append([]byte(nil), t5...)
	alt[3] = 0x36
	binary.BigEndian.PutUint16(alt[86:], CRC16(alt[2:86]))
	if _, err := DecodeJob(BM1370, alt); err != nil {
		t.Errorf("length byte 36: %v", err)
	}
}

// reversed returns b in reverse byte order (internal ↔ display).
func reversed(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}
