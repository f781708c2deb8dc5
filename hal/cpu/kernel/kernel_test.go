package kernel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/mining"
)

// refHeader builds an 80-byte header whose first block hashes to some state
// and whose second block starts with tail; returned with its midstate.
func refHeader(rng *rand.Rand) (hdr [80]byte, mid [8]uint32, tail [3]uint32) {
	for i := range hdr[:76] {
		hdr[i] = byte(rng.Uint32())
	}
	mid = mining.Midstate(&hdr)
	for i := range tail {
		tail[i] = binary.BigEndian.Uint32(hdr[64+4*i:])
	}
	return hdr, mid, tail
}

// refScan is the reference: full SHA-256d of each header with crypto/sha256.
func refScan(hdr [80]byte, start, count, limit uint32) []uint32 {
	var out []uint32
	for i := uint32(0); i < count; i++ {
		n := start + i
		binary.LittleEndian.PutUint32(hdr[76:], n)
		first := sha256.Sum256(hdr[:])
		hash := sha256.Sum256(first[:])
		if binary.LittleEndian.Uint32(hash[28:]) <= limit {
			out = append(out, n)
		}
	}
	return out
}

// available returns the implementations this CPU can run.
func available(t testing.TB) []Impl {
	var out []Impl
	for _, im := range Impls() {
		if im.Available {
			out = append(out, im)
		}
	}
	if len(out) == 0 {
		t.Fatal("no implementation available")
	}
	return out
}

func TestAgreesWithReference(t *testing.T) {
	cases := []struct {
		name                string
		start, count, limit uint32
	}{
		{name: "count 0", start: 5, count: 0, limit: 0xffffffff},
		{name: "count 1, every hash passes", start: 7, count: 1, limit: 0xffffffff},
		{name: "count 1 at the last nonce", start: 0xffffffff, count: 1, limit: 0xffffffff},
		{name: "odd start, odd count", start: 1001, count: 333, limit: 0x7fffffff},
		{name: "ends at 0xffffffff", start: 0xffffffff - 516, count: 517, limit: 0x3fffffff},
		{name: "from 0, one in 256", start: 0, count: 4099, limit: 0x00ffffff},
		{name: "every width remainder", start: 12345, count: 47, limit: 0xffffffff},
		{name: "limit 0", start: 99, count: 2000, limit: 0},
		{name: "large range, one in 16", start: 0x80000001, count: 20011, limit: 0x0fffffff},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		hdr, mid, tail := refHeader(rng)
		want := refScan(hdr, tc.start, tc.count, tc.limit)
		for _, im := range available(t) {
			t.Run(tc.name+"/"+im.Name, func(t *testing.T) {
				got := im.Scan(&mid, &tail, tc.start, tc.count, tc.limit, nil)
				checkHits(t, want, got)
			})
		}
	}
}

// checkHits compares hit lists, reporting the first difference rather than
// a diff of thousands of nonces.
func checkHits(t *testing.T, want, got []uint32) {
	t.Helper()
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Fatalf("hit %d is %#x, crypto/sha256 says %#x (%d hits, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	if len(want) != len(got) {
		t.Fatalf("%d hits, crypto/sha256 finds %d", len(got), len(want))
	}
}

func TestEveryCountUpToWidth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hdr, mid, tail := refHeader(rng)
	for _, im := range available(t) {
		for count := uint32(0); count <= 40; count++ {
			start := 0xffffffff - count + 1 - count%3 // ends at or just below 2^32-1
			want := refScan(hdr, start, count, 0x7fffffff)
			got := im.Scan(&mid, &tail, start, count, 0x7fffffff, nil)
			if !cmp.Equal(want, got) {
				t.Fatalf("%s: start %#x count %d: got %x, want %x", im.Name, start, count, got, want)
			}
		}
	}
}

func TestAppendsToOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	hdr, mid, tail := refHeader(rng)
	want := append([]uint32{0xdead, 0xbeef}, refScan(hdr, 40, 300, 0x3fffffff)...)
	for _, im := range available(t) {
		got := im.Scan(&mid, &tail, 40, 300, 0x3fffffff, []uint32{0xdead, 0xbeef})
		t.Run(im.Name, func(t *testing.T) { checkHits(t, want, got) })
	}
}

// TestStratumVector checks the synthetic job of the Stratum reference
// (§8(b)): 0x004417c8 is the first nonce from 0 whose hash, displayed
// 000003eb…, meets difficulty 1/1024 (top word at most 0x000003ff).
func TestStratumVector(t *testing.T) {
	raw, err := hex.DecodeString("0000002054a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000" +
		"23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29005d256619420317c8174400")
	if err != nil || len(raw) != 80 {
		t.Fatalf("bad header hex: %v", err)
	}
	var hdr [80]byte
	copy(hdr[:], raw)
	mid := mining.Midstate(&hdr)
	var midHex string
	for _, w := range mid {
		midHex += hex.EncodeToString(binary.BigEndian.AppendUint32(nil, w))
	}
	if want := "1cd1479ad4eecf22e74f05527c7b5a0e73604a4c3807b4a67f5210da956e835b"; midHex != want {
		t.Fatalf("midstate %s, want %s", midHex, want)
	}
	tail := [3]uint32{
		binary.BigEndian.Uint32(hdr[64:]), binary.BigEndian.Uint32(hdr[68:]), binary.BigEndian.Uint32(hdr[72:]),
	}
	const limit, found = 0x000003ff, 0x004417c8
	for _, im := range available(t) {
		// The implementation Scan uses scans from 0; the others, slower or
		// emulated, the last 64Ki nonces before the hit.
		var from uint32
		if im.Name != Implementation() {
			from = found - 1<<16
		}
		got := im.Scan(&mid, &tail, from, found+0x38-from, limit, nil)
		if !cmp.Equal(got, []uint32{found}) {
			t.Errorf("%s: hits in [%#x, %#x): got %d, first %x, want [%x]", im.Name, from, found+0x38, len(got), got[:min(len(got), 4)], found)
		}
		// Its top word is 0x000003eb: it passes that limit, not one less.
		if got := im.Scan(&mid, &tail, found-3, 7, 0x000003eb, nil); !cmp.Equal(got, []uint32{found}) {
			t.Errorf("%s: limit 0x3eb: got %x, want [%x]", im.Name, got, found)
		}
		if got := im.Scan(&mid, &tail, found-3, 7, 0x000003ea, nil); len(got) != 0 {
			t.Errorf("%s: limit 0x3ea: got %x, want none", im.Name, got)
		}
	}
}

func TestImplementationIsAvailable(t *testing.T) {
	name := Implementation()
	for _, im := range Impls() {
		if im.Name == name {
			if !im.Available {
				t.Fatalf("Implementation() = %q, which this CPU cannot run", name)
			}
			return
		}
	}
	t.Fatalf("Implementation() = %q, not in Impls()", name)
}

func TestCalibratePicksFastestAvailable(t *testing.T) {
	instant := func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 { return out }
	unusable := func(mid *[8]uint32, tail *[3]uint32, start, count, limit uint32, out []uint32) []uint32 {
		panic("calibrate ran an unavailable implementation")
	}
	generic := Impl{Name: "generic", Available: true, Scan: scanGeneric}
	cases := []struct {
		name string
		list []Impl
		want string
	}{
		{name: "fastest wins", want: "instant", list: []Impl{
			{Name: "busy", Available: true, Scan: scanGeneric},
			{Name: "instant", Available: true, Scan: instant},
			generic,
		}},
		{name: "unavailable skipped", want: "busy", list: []Impl{
			{Name: "unusable", Available: false, Scan: unusable},
			{Name: "busy", Available: true, Scan: scanGeneric},
			generic,
		}},
		{name: "portable only", want: "generic", list: []Impl{
			{Name: "unusable", Available: false, Scan: unusable},
			generic,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := calibrate(tc.list).Name; got != tc.want {
				t.Errorf("calibrate picked %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzScan checks every available implementation against crypto/sha256
// on arbitrary headers and short ranges.
func FuzzScan(f *testing.F) {
	f.Add(make([]byte, 76), uint32(0), uint16(40), uint32(0x7fffffff))
	f.Add(bytes.Repeat([]byte{0xff}, 76), uint32(0xffffffe0), uint16(32), uint32(0xffffffff))
	f.Add([]byte("kiln"), uint32(12345), uint16(17), uint32(0x0fffffff))
	f.Fuzz(func(t *testing.T, prefix []byte, start uint32, count16 uint16, limit uint32) {
		var hdr [80]byte
		copy(hdr[:76], prefix)
		count := uint32(count16 % 100)
		if uint64(start)+uint64(count) > 1<<32 {
			count = uint32(1<<32 - uint64(start))
		}
		mid := mining.Midstate(&hdr)
		var tail [3]uint32
		for i := range tail {
			tail[i] = binary.BigEndian.Uint32(hdr[64+4*i:])
		}
		want := refScan(hdr, start, count, limit)
		for _, im := range available(t) {
			t.Run(im.Name, func(t *testing.T) {
				checkHits(t, want, im.Scan(&mid, &tail, start, count, limit, nil))
			})
		}
	})
}

// TestScanConcurrent runs Scan from several goroutines at once, as the
// CPU backend does with one per core.
func TestScanConcurrent(t *testing.T) {
	const workers = 4
	rng := rand.New(rand.NewPCG(9, 10))
	type work struct {
		mid  [8]uint32
		tail [3]uint32
		want []uint32
		got  []uint32
	}
	ws := make([]work, workers)
	for i := range ws {
		hdr, mid, tail := refHeader(rng)
		ws[i] = work{mid: mid, tail: tail, want: refScan(hdr, uint32(i)*1000, 3000, 0x1fffffff)}
	}
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &ws[i]
			w.got = Scan(&w.mid, &w.tail, uint32(i)*1000, 3000, 0x1fffffff, nil)
		}()
	}
	wg.Wait()
	for i, w := range ws {
		t.Run(fmt.Sprint("worker ", i), func(t *testing.T) { checkHits(t, w.want, w.got) })
	}
}
