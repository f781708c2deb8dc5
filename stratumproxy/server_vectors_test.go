package stratumproxy

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Golden lines from ../shared/docs/stratum-v1.md §8.
const (
	srvNotifyA = `{"id":null,"method":"mining.notify","params":["125552","ab02cd818b9e567ee21793cddef299feb29ad444a41b85b8000008a300000000","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff08","ffffffff014034152a01000000434104d879d5ef8b70cf0a33925101b64429ad7eb370da8ad0b05c9cd60922c363a1eada85bcc2843b7378e226735048786c790b30b28438d22acfade24ef047b5f865ac00000000",["a1e197f9312b514b906dade27abf255ab0a12e9e24c6d5d7d3f8418dda5dc260","5e996cc3307b11be5acab562575c583aba2f125ae82137bace5396db4b95aebf"],"00000001","1a44b9f2","4dd7f5c7",true]}`
	srvSubmitA = `{"id":7,"method":"mining.submit","params":["worker","125552","1a022a01","4dd7f5c7","9546a142"]}`

	srvNotifyB = `{"id":null,"method":"mining.notify","params":["b1","2728a05456b7a8d7165a2701c5a37902c1e48d760002a7c40000000000000000","02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1b0340d10c0d2f7374726174756d2d7265662f08","ffffffff02205fa0120000000016001411111111111111111111111111111111111111110000000000000000266a24aa21a9ed222222222222222222222222222222222222222222222222222222222222222200000000",["4ab8e84b32323522906c4bdc3c6923ad88a8da0168bcbd5eb9d3d3235f799684","c5a8bad06c730e237ea5b57219e709ae760c91d12f0129cdb8221ad8d1035150"],"20000000","17034219","66255d00",true]}`
	srvSubmitB = `{"id":8,"method":"mining.submit","params":["worker.1","b1","01000000","66255d00","004417c8"]}`
	srvSubmitC = `{"id":9,"method":"mining.submit","params":["worker.1","b1","01000000","66255d00","0022ade0","02468000"]}`

	srvConfigureC = `{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]}`
	srvSubscribe  = `{"id":2,"method":"mining.subscribe","params":["kiln/0.1"]}`
	srvAuthorize  = `{"id":3,"method":"mining.authorize","params":["worker.1","x"]}`
	srvSuggest    = `{"id":4,"method":"mining.suggest_difficulty","params":[512]}`
	srvExtranonce = `{"id":5,"method":"mining.extranonce.subscribe","params":[]}`
)

// srvJobFromNotify builds the per-connection job view a server validates
// against.
func srvJobFromNotify(t testing.TB, line, en1 string, mask uint32, diff float64) *mining.Job {
	t.Helper()
	m, err := ParseMessage([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	n, err := DecodeNotify(m)
	if err != nil {
		t.Fatal(err)
	}
	e1, _ := hex.DecodeString(en1)
	return &mining.Job{
		ID: n.JobID, PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2,
		Branches: n.Branches, Version: n.Version, NBits: n.NBits, NTime: n.NTime,
		Extranonce1: e1, Extranonce2Size: 4, VersionMask: mask,
		Difficulty: diff, ShareTarget: mining.MustTarget(diff),
	}
}

func srvSubmitOf(t testing.TB, line string) Submit {
	t.Helper()
	m, err := ParseMessage([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSubmit(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func srvReverse(b [32]byte) string {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return hex.EncodeToString(b[:])
}

func TestServerValidateShareVectors(t *testing.T) {
	tests := []struct {
		name       string
		notify     string
		en1        string
		mask       uint32
		diff       float64
		submit     string
		wantHeader string
		wantHash   string // display order
		wantBlock  bool
	}{
		{
			name: "8a block 125552", notify: srvNotifyA, en1: "04f2b944", diff: 1, submit: srvSubmitA,
			wantHeader: "01000000" + // version 1
				"81cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000" + // prevhash
				"e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122b" + // merkle root
				"c7f5d74d" + "f2b9441a" + "42a14695", // ntime, nbits, nonce
			wantHash:  "00000000000000001e8d6829a8a21adc5d38d0a473b144b6765798e61f98bd1d",
			wantBlock: true,
		},
		{
			name: "8b share at 1/1024", notify: srvNotifyB, en1: "f000000f", diff: 1.0 / 1024, submit: srvSubmitB,
			wantHeader: "00000020" +
				"54a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000" +
				"23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29" +
				"005d2566" + "19420317" + "c8174400",
			wantHash: "000003eb249c61513e24a6167e0fa521e2a483eb146eb98cc15816bd168dfc2b",
		},
		{
			name: "8c rolled version", notify: srvNotifyB, en1: "f000000f", mask: 0x1fffe000, diff: 1.0 / 1024,
			submit: srvSubmitC,
			wantHeader: "00804622" + // rolled version 22468000
				"54a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000" +
				"23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29" +
				"005d2566" + "19420317" + "e0ad2200",
			wantHash: "0000016edfd0425ac60394ae9790c2b0cd2f5d1615c8b8789717ae4e0468f74f",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := srvJobFromNotify(t, tc.notify, tc.en1, tc.mask, tc.diff)
			s := srvSubmitOf(t, tc.submit)
			sh, err := ValidateShare(j, s, time.Unix(int64(j.NTime)+60, 0))
			if err != nil {
				t.Fatalf("ValidateShare: %v", err)
			}
			if got := hex.EncodeToString(sh.Header[:]); got != tc.wantHeader {
				t.Errorf("header\n got %s\nwant %s", got, tc.wantHeader)
			}
			if got := srvReverse(sh.Hash); got != tc.wantHash {
				t.Errorf("hash %s, want %s", got, tc.wantHash)
			}
			if sh.Block != tc.wantBlock {
				t.Errorf("block = %v, want %v", sh.Block, tc.wantBlock)
			}
			if sh.Difficulty < tc.diff || sh.Target != tc.diff {
				t.Errorf("difficulty %v judged at %v, want >= %v judged at it", sh.Difficulty, sh.Target, tc.diff)
			}
		})
	}
}

func TestServerValidateShareRejects(t *testing.T) {
	now := time.Unix(0x66255d00+60, 0)
	base := srvSubmitOf(t, srvSubmitB)
	rolled := srvSubmitOf(t, srvSubmitC)
	tests := []struct {
		name   string
		mask   uint32
		diff   float64
		edit   func(s *Submit)
		from   Submit
		want   error
		reason string
	}{
		{name: "unrolled version same nonce", mask: 0x1fffe000, from: rolled,
			edit: func(s *Submit) { s.HasVersion, s.VersionBits = false, 0 }, want: ErrLowDifficulty},
		{name: "rolling not negotiated", from: rolled, want: ErrOther, reason: "invalid version mask"},
		{name: "bits outside mask", mask: 0x1fffe000, from: rolled,
			edit: func(s *Submit) { s.VersionBits |= 1 }, want: ErrOther, reason: "invalid version mask"},
		{name: "short extranonce2", from: base,
			edit: func(s *Submit) { s.Extranonce2 = s.Extranonce2[:3] }, want: ErrOther, reason: "invalid extranonce2 size"},
		{name: "ntime below job", from: base,
			edit: func(s *Submit) { s.NTime-- }, want: ErrOther, reason: "ntime out of range"},
		{name: "ntime too far ahead", from: base,
			edit: func(s *Submit) { s.NTime = uint32(now.Unix()) + MaxNTimeAhead + 1 }, want: ErrOther, reason: "ntime out of range"},
		{name: "difficulty above the hash", diff: 1.0 / 512, from: base, want: ErrLowDifficulty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			diff := tc.diff
			if diff == 0 {
				diff = 1.0 / 1024
			}
			j := srvJobFromNotify(t, srvNotifyB, "f000000f", tc.mask, diff)
			s := tc.from
			if tc.edit != nil {
				tc.edit(&s)
			}
			_, err := ValidateShare(j, s, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var re *RejectError
			if tc.reason != "" && (!errors.As(err, &re) || re.Message != tc.reason) {
				t.Errorf("reason %q, want %q", re.Message, tc.reason)
			}
		})
	}
}

// TestServerValidateShareZeroBits accepts a 6th parameter of zero from a
// miner without rolling: it is inside any mask and changes nothing.
func TestServerValidateShareZeroBits(t *testing.T) {
	j := srvJobFromNotify(t, srvNotifyB, "f000000f", 0, 1.0/1024)
	s := srvSubmitOf(t, srvSubmitB)
	s.HasVersion = true
	sh, err := ValidateShare(j, s, time.Unix(0x66255d00, 0))
	if err != nil || sh.Version != 0x20000000 {
		t.Fatalf("got version %08x, err %v", sh.Version, err)
	}
}
