//go:build opencl

package gpu

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/hal/cpu/kernel"
	"github.com/kilnfw/kiln/mining"
)

// testDevice is the device the tests hash on: the first one listed (PoCL
// on a machine without a GPU).
const testDevice = 0

func openTest(t *testing.T) *session {
	t.Helper()
	dev, err := pick(testDevice)
	if err != nil {
		t.Fatal(err)
	}
	s, err := open(dev, capacity)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// scanRange hashes count nonces from start on the device (count a power of
// two, at least 64) and returns the hits in increasing order.
func scanRange(t *testing.T, s *session, mid [8]uint32, tail [3]uint32, start, count, limit uint32) []uint32 {
	t.Helper()
	global := min(count, 1<<14)
	found, total, err := s.scan(launch{mid: mid, tail: tail, base: start, iters: count / global,
		limit: limit, global: int(global), local: 64})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(found) {
		t.Fatalf("result buffer overflowed: %d hits, %d kept", total, len(found))
	}
	got := append([]uint32(nil), found...)
	// The device reports in completion order; the CPU kernel in nonce order.
	for i := 1; i < len(got); i++ {
		for j := i; j > 0 && got[j] < got[j-1]; j-- {
			got[j], got[j-1] = got[j-1], got[j]
		}
	}
	return got
}

func parseHeader(t *testing.T, s string) (hdr [80]byte, mid [8]uint32, tail [3]uint32) {
	t.Helper()
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != 80 {
		t.Fatalf("bad header hex: %v", err)
	}
	copy(hdr[:], raw)
	mid = mining.Midstate(&hdr)
	tail = [3]uint32{binary.BigEndian.Uint32(hdr[64:]), binary.BigEndian.Uint32(hdr[68:]), binary.BigEndian.Uint32(hdr[72:])}
	return hdr, mid, tail
}

// TestGPUMatchesCPUKernel compares the device kernel's hits with the CPU
// kernel's on random headers, over ranges at random offsets, at a limit
// loose enough for about a thousand hits each.
func TestGPUMatchesCPUKernel(t *testing.T) {
	s := openTest(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const count, limit = 1 << 20, 0x003fffff
	for i := range 4 {
		var hdr [80]byte
		for j := range hdr {
			hdr[j] = byte(rng.Uint32())
		}
		mid := mining.Midstate(&hdr)
		tail := [3]uint32{rng.Uint32(), rng.Uint32(), rng.Uint32()}
		start := rng.Uint32N(1<<32-count) &^ 63
		if i == 0 {
			start = 1<<32 - count // the top of the nonce space
		}
		want := kernel.Scan(&mid, &tail, start, count, limit, nil)
		got := scanRange(t, s, mid, tail, start, count, limit)
		if len(want) < 500 {
			t.Fatalf("header %d: only %d CPU hits; the comparison would be weak", i, len(want))
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("header %d from %#x: device hits differ from the CPU kernel (-cpu +gpu):\n%s", i, start, d)
		}
	}
}

// TestGPUStratumVectors finds the nonces of the Stratum reference's worked
// examples: §8(b)'s synthetic job (0x004417c8 is the first nonce from 0
// meeting difficulty 1/1024) and §8(a)'s mainnet block 125552 (nonce
// 0x9546a142, whose hash's top 64 bits are zero).
func TestGPUStratumVectors(t *testing.T) {
	s := openTest(t)
	_, mid, tail := parseHeader(t, "0000002054a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000"+
		"23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29005d256619420317c8174400")
	const limit, found = 0x000003ff, 0x004417c8
	got := scanRange(t, s, mid, tail, 0, 1<<23, limit)
	if len(got) == 0 || got[0] != found {
		t.Fatalf("§8(b): hits from 0 %x, want the first to be %x", got[:min(len(got), 4)], found)
	}
	if d := cmp.Diff(kernel.Scan(&mid, &tail, 0, 1<<23, limit, nil), got); d != "" {
		t.Errorf("§8(b): device hits differ from the CPU kernel (-cpu +gpu):\n%s", d)
	}
	// Its top word is 0x000003eb: it passes that limit, not one less.
	if got := scanRange(t, s, mid, tail, found&^63, 64, 0x3eb); !cmp.Equal(got, []uint32{found}) {
		t.Errorf("§8(b) limit 0x3eb: got %x, want [%x]", got, found)
	}
	if got := scanRange(t, s, mid, tail, found&^63, 64, 0x3ea); len(got) != 0 {
		t.Errorf("§8(b) limit 0x3ea: got %x, want none", got)
	}

	hdr, mid, tail := parseHeader(t, "0100000081cd02ab7e569e8bcd9317e2fe99f2de44d49ab2b8851ba4a308000000000000"+
		"e320b6c2fffc8d750423db8b1eb942ae710e951ed797f7affc8892b0f1fc122bc7f5d74df2b9441a42a14695")
	block := binary.LittleEndian.Uint32(hdr[76:])
	if got := scanRange(t, s, mid, tail, block&^0xffff, 1<<16, 0); !cmp.Equal(got, []uint32{block}) {
		t.Errorf("§8(a): hits with top word 0 around %#x: got %x, want [%x]", block, got, block)
	}
}

func testJob(id string, difficulty float64) *mining.Job {
	j := &mining.Job{
		ID:              id,
		Coinb1:          []byte{1, 0, 0, 0, 1},
		Coinb2:          []byte{0xff, 0xff, 0xff, 0xff, 0},
		Version:         0x20000000,
		NBits:           0x1d00ffff,
		NTime:           0x66255d00,
		Clean:           true,
		Extranonce1:     []byte{0xf0, 0, 0, 0x0f},
		Extranonce2Size: 4,
		VersionMask:     0x1fffe000,
		Difficulty:      difficulty,
		Received:        time.Now(),
	}
	j.PrevHash[0] = byte(len(id))
	j.ShareTarget = mining.MustTarget(j.Difficulty)
	return j
}

// TestGPUBackendMinesVerifiableResults runs the backend on a dispatcher:
// every result it reports passes the host validator, shares among them, and
// Run returns and releases the device when its context ends.
func TestGPUBackendMinesVerifiableResults(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := mining.NewDispatcher(nil)
	d.SetJob(testJob("a", 1.0/65536))
	v := mining.NewValidator(nil, nil)
	var mu sync.Mutex
	var bad []error
	shares := make(chan struct{}, 1)
	b, err := New(Config{Device: testDevice, Work: d, LaunchTime: 20 * time.Millisecond, Results: func(r mining.Result) {
		sh, err := v.Check(r)
		if err != nil {
			mu.Lock()
			bad = append(bad, err)
			mu.Unlock()
		}
		if sh != nil {
			select {
			case shares <- struct{}{}:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Device().Name == "" || b.Units() != 1 {
		t.Errorf("device %+v, units %d", b.Device(), b.Units())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	for range 3 {
		select {
		case <-shares:
		case <-time.After(20 * time.Second):
			t.Fatal("no share within 20 s")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("%d results failed host checks, first: %v", len(bad), bad[0])
	}
	st := v.Stats()
	if st.Shares < 3 || st.HWErrors != 0 || b.Hashes() == 0 {
		t.Errorf("stats %+v, hashes %d", st, b.Hashes())
	}
	if err := b.Run(context.Background()); err == nil {
		t.Error("Run on a closed backend: want an error")
	}
}

func TestGPUNewErrors(t *testing.T) {
	d := mining.NewDispatcher(nil)
	if _, err := New(Config{Work: d}); err == nil {
		t.Error("New without Results: want an error")
	}
	_, err := New(Config{Device: 99, Work: d, Results: func(mining.Result) {}})
	if err == nil || !strings.Contains(err.Error(), "no device 99") {
		t.Errorf("New with device 99: %v, want a no-device error listing the devices", err)
	}
	if errors.Is(err, ErrNotBuilt) {
		t.Error("an opencl build must not report ErrNotBuilt")
	}
}

func TestGPUDevicesListed(t *testing.T) {
	devs, err := Devices()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) == 0 {
		t.Fatal("no OpenCL device (make test-gpu installs PoCL)")
	}
	for i, d := range devs {
		if d.Index != i || d.Name == "" || d.ComputeUnits < 1 || d.MaxWorkGroup < 1 {
			t.Errorf("device %d: %+v", i, d)
		}
	}
}

func TestGPULimitFor(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want uint32
	}{
		{0, 0xffff},
		{1e6, 0xffff},
		{1e9, 857}, // 200·2³²/1e9 ≈ 858.99 hits at limit+1
		{1e15, 0},
	} {
		if got := limitFor(c.rate); got != c.want {
			t.Errorf("limitFor(%g) = %d, want %d", c.rate, got, c.want)
		}
	}
}
