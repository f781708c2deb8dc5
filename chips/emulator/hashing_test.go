package emulator

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// testJob returns a job with random header fields.
func testJob(t *testing.T, m bm13xx.Model, id byte, seed uint64) (bm13xx.Job, [80]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	var h [80]byte
	for i := range h[:76] {
		h[i] = byte(rng.Uint32())
	}
	binary.LittleEndian.PutUint32(h[0:], 0x20000004)
	j := bm13xx.Job{
		ID:           id,
		NumMidstates: 1,
		Version:      0x20000004,
		NTime:        binary.LittleEndian.Uint32(h[68:]),
		NBits:        binary.LittleEndian.Uint32(h[72:]),
	}
	copy(j.PrevHash[:], h[4:36])
	copy(j.MerkleRoot[:], h[36:68])
	if !m.HardwareRolling {
		for k := range uint64(4) {
			hk := h
			binary.LittleEndian.PutUint32(hk[0:], mining.RollVersion(j.Version, rollMask, k))
			j.Midstates = append(j.Midstates, mining.Midstate(&hk))
		}
		j.NumMidstates = 4
	}
	return j, h
}

// checkNonce verifies a nonce response the way a host does and returns
// the decoded nonce, or an error naming what is wrong.
func checkNonce(m bm13xx.Model, r bm13xx.Response, hdr [80]byte, base uint32, limit uint32) (bm13xx.Nonce, error) {
	n := m.DecodeNonce(r)
	// Job-id packing of b7 (§7.1), checked on the raw byte.
	var idBits byte
	switch m.ID {
	case 0x1397:
		idBits = r.B7 & 0xfc
	case 0x1366:
		idBits = r.B7 & 0xf8
	default:
		idBits = (r.B7 & 0xf0) >> 1
	}
	if idBits != n.JobID || r.Long != m.HardwareRolling {
		return n, fmt.Errorf("b7 %02x packs job %02x, decoded %02x; long frame %v", r.B7, idBits, n.JobID, r.Long)
	}
	version := base | n.VersionBits
	if m.HardwareRolling {
		if n.VersionBits&^rollMask != 0 {
			return n, fmt.Errorf("version bits %08x outside the mask", n.VersionBits)
		}
		if n.SubIndex != m.SmallCoreOf(n.VersionField) {
			return n, fmt.Errorf("small core %d for version field %04x", n.SubIndex, n.VersionField)
		}
	} else {
		version = mining.RollVersion(base, rollMask, uint64(n.SubIndex))
	}
	binary.LittleEndian.PutUint32(hdr[0:], version)
	copy(hdr[76:], n.Bytes[:])
	hash := mining.Sha256d(hdr[:])
	if top := binary.LittleEndian.Uint32(hash[28:]); top > limit {
		return n, fmt.Errorf("hash top word %08x above limit %08x", top, limit)
	}
	if n.Core >= m.Cores {
		return n, fmt.Errorf("core %d of %d", n.Core, m.Cores)
	}
	return n, nil
}

// setUpMining addresses the chain, clocks it at mhz, enables version
// rolling and sets the simulation ticket limit.
func setUpMining(t *testing.T, h *host, chips int, mhz float64, limit uint32) []byte {
	t.Helper()
	addrs := bm13xx.Addresses(chips)
	h.address(addrs)
	configure(t, h, mhz, limit)
	return addrs
}

// configure clocks the chain at mhz, enables version rolling and sets the
// simulation ticket limit.
func configure(t *testing.T, h *host, mhz float64, limit uint32) {
	t.Helper()
	pll, _, err := bm13xx.PLL(h.m, mhz)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd(bm13xx.WriteAll(bm13xx.RegPLL0, pll), bm13xx.WriteAll(bm13xx.RegSimTicket, limit))
	if h.m.HardwareRolling {
		h.cmd(bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
		h.setLong(true)
	}
}

func TestJobNonces(t *testing.T) {
	const limit = 0x003fffff // 1 in 1024 hashes
	for _, m := range []bm13xx.Model{bm13xx.BM1397, bm13xx.BM1366, bm13xx.BM1370} {
		t.Run(m.Name, func(t *testing.T) {
			c, h := startChain(t, Config{Model: m, Chips: 3, ScaleDown: 1e6, Seed: 7})
			addrs := setUpMining(t, h, 3, m.DefaultMHz, limit)
			slices := append(append([]int(nil), 0, 0, 0), 256)
			for i, a := range addrs {
				slices[i] = int(a)
			}
			chipOf := func(field int) int {
				for i := range 3 {
					if field >= slices[i] && field < slices[i+1] {
						return i
					}
				}
				return -1
			}

			job1, hdr1 := testJob(t, m, 0x18, 1)
			h.send(bm13xx.EncodeJob(m, job1))
			got := h.collect(3*time.Second, 150, func(r bm13xx.Response) bool { return r.Nonce })
			if len(got) < 150 {
				t.Fatalf("%d nonces in 3 s, want 150", len(got))
			}
			perChip := make([]int, 3)
			for _, r := range got {
				n, err := checkNonce(m, r, hdr1, job1.Version, limit)
				if err != nil {
					t.Fatalf("nonce %v: %v", r, err)
				}
				if n.JobID != job1.ID {
					t.Fatalf("nonce %v: job %02x, want %02x", r, n.JobID, job1.ID)
				}
				perChip[chipOf(n.ChipField)]++
			}
			for i, n := range perChip {
				if n == 0 {
					t.Errorf("no nonce from chip %d's slice: %v", i, perChip)
				}
			}

			// A stopped chip stops hashing; a new job replaces the old one
			// at once on the others.
			c.StopChip(1)
			job2, hdr2 := testJob(t, m, m.NextJobID(job1.ID), 2)
			h.send(bm13xx.EncodeJob(m, job2))
			seenNew, count := false, 0
			h.collect(3*time.Second, 100, func(r bm13xx.Response) bool {
				if !r.Nonce {
					return false
				}
				n := m.DecodeNonce(r)
				if n.JobID == job1.ID {
					if seenNew {
						t.Fatalf("nonce of the old job after one of the new: %v", r)
					}
					return false
				}
				seenNew = true
				count++
				if _, err := checkNonce(m, r, hdr2, job2.Version, limit); err != nil {
					t.Fatalf("nonce %v of job 2: %v", r, err)
				}
				if ci := chipOf(n.ChipField); ci == 1 {
					t.Fatalf("nonce %v from stopped chip 1's slice", r)
				}
				return true
			})
			if count < 100 {
				t.Errorf("%d nonces of job 2, want 100", count)
			}
			if st := c.Chips(); st[1].Responding || st[0].Nonces == 0 || st[0].HashesDone == 0 {
				t.Errorf("chip states %+v", st)
			}
		})
	}
}

func TestHWErrorsFailVerification(t *testing.T) {
	const limit = 0x00ffffff
	m := bm13xx.BM1366
	c, h := startChain(t, Config{Model: m, Chips: 2, ScaleDown: 1e6, HWErrorRate: 1, Seed: 3})
	setUpMining(t, h, 2, m.DefaultMHz, limit)
	job, hdr := testJob(t, m, 0x08, 5)
	h.send(bm13xx.EncodeJob(m, job))
	got := h.collect(3*time.Second, 200, func(r bm13xx.Response) bool { return r.Nonce })
	if len(got) < 200 {
		t.Fatalf("%d nonces, want 200", len(got))
	}
	for _, r := range got {
		if _, err := checkNonce(m, r, hdr, job.Version, limit); err == nil {
			t.Fatalf("nonce %v verifies at error rate 1", r)
		}
	}
	var hw uint64
	for _, st := range c.Chips() {
		hw += st.HWErrors
	}
	if hw < 200 {
		t.Errorf("%d hardware errors counted, want ≥ 200", hw)
	}
}

// TestRateFollowsFrequency doubles the clock and expects twice the nonces
// per second. The chain is paced by a fake clock, so the count depends on
// emulated time only, not on how busy the machine is.
func TestRateFollowsFrequency(t *testing.T) {
	const (
		limit     = 0x003fffff // 1 in 1024 hashes
		phase     = 3 * time.Second
		scaleDown = 1e6 // 0.36 MH/s at 400 MHz
	)
	m := bm13xx.BM1366
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	// 800 MHz is beyond any drawn limit: place this chip's above it, and
	// give it the voltage such a clock needs.
	c, h := startChain(t, Config{Model: m, Chips: 1, ScaleDown: scaleDown, Now: clk.Now, MaxStableMHz: []float64{1000}})
	c.SetVoltage(1400)
	setUpMining(t, h, 1, 400, limit)
	job, hdr := testJob(t, m, 0x10, 9)
	h.send(bm13xx.EncodeJob(m, job))

	// measure runs the chip at mhz for one phase of emulated time and
	// returns the nonces it reported, all read from the line and checked.
	measure := func(mhz float64) int {
		pll, _, err := bm13xx.PLL(m, mhz)
		if err != nil {
			t.Fatal(err)
		}
		h.cmd(bm13xx.WriteAll(bm13xx.RegPLL0, pll), bm13xx.ReadChip(0, bm13xx.RegPLL0))
		if got := h.collect(time.Second, 1, registers); len(got) != 1 || got[0].Value() != pll {
			t.Fatalf("PLL read-back %v, want %08x", got, pll)
		}
		start := c.Chips()[0]
		rate := mhz * 1e6 * float64(m.Cores*m.SmallCores) / scaleDown
		runFor(t, c, clk, phase)
		end := c.Chips()[0]
		if done, want := end.HashesDone-start.HashesDone, uint64(rate*phase.Seconds()); done+maxStepCost(m) < want || done > want {
			t.Errorf("%v MHz: %d hashes in %v, want %d", mhz, done, phase, want)
		}
		n := int(end.Nonces - start.Nonces)
		got := h.collect(3*time.Second, n, func(r bm13xx.Response) bool { return r.Nonce })
		if len(got) != n {
			t.Fatalf("%v MHz: %d nonces on the line, chip counted %d", mhz, len(got), n)
		}
		for _, r := range got {
			if _, err := checkNonce(m, r, hdr, job.Version, limit); err != nil {
				t.Fatalf("nonce %v: %v", r, err)
			}
		}
		return n
	}
	slow := measure(400)
	fast := measure(800)
	want := 400e6 * float64(m.Cores*m.SmallCores) / scaleDown * phase.Seconds() * (limit + 1) / (1 << 32)
	t.Logf("400 MHz: %d nonces in %v (expected %.0f); 800 MHz: %d", slow, phase, want, fast)
	if float64(slow) < 0.85*want || float64(slow) > 1.15*want {
		t.Errorf("400 MHz: %d nonces, want %.0f ± 15%%", slow, want)
	}
	if ratio := float64(fast) / float64(slow); ratio < 1.7 || ratio > 2.3 {
		t.Errorf("800/400 MHz nonce ratio %.2f, want 2 ± 0.3", ratio)
	}
}

// maxStepCost bounds the hashes one step of a chip costs: every version
// of a batch, every core, two chip fields.
func maxStepCost(m bm13xx.Model) uint64 { return uint64(m.SmallCores * m.Cores * 2) }

// runFor advances the fake clock by d in small ticks, each time waiting
// (bounded) until every hashing chip has spent what the tick gave it, so
// that the chain is quiet when it returns.
func runFor(t *testing.T, c *Chain, clk *fakeClock, d time.Duration) {
	t.Helper()
	const tick = 50 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for el := tick; el <= d; el += tick {
		clk.Advance(tick)
		for !quiet(c, clk.Now()) {
			if time.Now().After(deadline) {
				t.Fatalf("chain still hashing %v after %v of emulated time", 10*time.Second, el)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// quiet reports whether every hashing chip has been credited up to now and
// cannot afford its next step.
func quiet(c *Chain, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.chips {
		if !ch.hashing() {
			continue
		}
		if cost := c.prepare(ch); cost > 0 && (ch.tokensAt.Before(now) || ch.tokens >= cost) {
			return false
		}
	}
	return true
}

// TestNonceAttribution freezes the clock after a while of hashing and
// matches every nonce on the line to the chip that counted it, by the chip
// field of its nonce: each chip reports only from its own slice.
func TestNonceAttribution(t *testing.T) {
	const limit = 0x00ffffff
	for _, m := range []bm13xx.Model{bm13xx.BM1397, bm13xx.BM1366, bm13xx.BM1368} {
		t.Run(m.Name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1e9, 0)}
			c, h := startChain(t, Config{Model: m, Chips: 3, ScaleDown: 1e7, Now: clk.Now})
			// Open-firmware addressing: floor(256/3) = 85, so the slices
			// are [00, 55), [55, aa), [aa, 100).
			addrs := []byte{0x00, 0x55, 0xaa}
			h.address(addrs)
			pll, _, _ := bm13xx.PLL(m, m.DefaultMHz)
			h.cmd(bm13xx.WriteAll(bm13xx.RegPLL0, pll), bm13xx.WriteAll(bm13xx.RegSimTicket, limit))
			if m.HardwareRolling {
				h.cmd(bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
				h.setLong(true)
			}
			job, hdr := testJob(t, m, 0x08, 21)
			h.send(bm13xx.EncodeJob(m, job))
			h.cmd(bm13xx.ReadChip(0, bm13xx.RegChipID))
			if got := h.collect(time.Second, 1, registers); len(got) != 1 {
				t.Fatal("no reply after the job")
			}
			runFor(t, c, clk, 500*time.Millisecond)

			var want [3]int
			total := 0
			for i, st := range c.Chips() {
				want[i] = int(st.Nonces)
				total += want[i]
			}
			var got [3]int
			for _, r := range h.collect(3*time.Second, total, func(r bm13xx.Response) bool { return r.Nonce }) {
				n, err := checkNonce(m, r, hdr, job.Version, limit)
				if err != nil {
					t.Fatalf("nonce %v: %v", r, err)
				}
				got[min(n.ChipField/0x55, 2)]++
			}
			if got != want || total < 30 {
				t.Errorf("nonces per chip slice on the line %v, counted by the chips %v (want ≥ 30 in all)", got, want)
			}
		})
	}
}

// TestPacingFollowsWallClock checks that with the real clock a chip
// hashes at its nominal rate, give or take a busy machine.
func TestPacingFollowsWallClock(t *testing.T) {
	const scaleDown = 1e6
	m := bm13xx.BM1366
	c, h := startChain(t, Config{Model: m, Chips: 1, ScaleDown: scaleDown})
	setUpMining(t, h, 1, 400, 0x000000ff)
	job, _ := testJob(t, m, 0x10, 9)
	h.send(bm13xx.EncodeJob(m, job))
	h.cmd(bm13xx.ReadChip(0, bm13xx.RegChipID))
	h.collect(time.Second, 1, registers) // the job is loaded
	h0, t0 := c.Chips()[0].HashesDone, time.Now()
	h.drain(time.Second)
	done, el := c.Chips()[0].HashesDone-h0, time.Since(t0)
	want := 400e6 * float64(m.Cores*m.SmallCores) / scaleDown * el.Seconds()
	t.Logf("%d hashes in %v, nominal %.0f", done, el, want)
	if float64(done) < 0.5*want || float64(done) > 1.3*want {
		t.Errorf("%d hashes in %v, want %.0f (-50%%, +30%%)", done, el, want)
	}
}

// TestLongChain runs a 126-chip chain the way stock firmware brings one
// up: 128 set-address frames two apart (the surplus ones unclaimed), then a
// job. The whole chain hashes from one goroutine.
func TestLongChain(t *testing.T) {
	const (
		chips = 126
		limit = 0x000fffff
	)
	m := bm13xx.BM1366
	before := runtime.NumGoroutine()
	c, h := startChain(t, Config{Model: m, Chips: chips, ScaleDown: 1e8})
	h.cmd(bm13xx.ChainInactive())
	for a := 0; a < 256; a += 2 {
		h.cmd(bm13xx.SetAddress(byte(a)))
	}
	h.cmd(bm13xx.ReadAll(bm13xx.RegChipID))
	got := h.collect(2*time.Second, chips, registers)
	if len(got) != chips {
		t.Fatalf("%d replies, want %d", len(got), chips)
	}
	for i, r := range got {
		if r.B6 != byte(2*i) {
			t.Fatalf("reply %d from %02x, want %02x", i, r.B6, 2*i)
		}
	}
	if st := c.Chips(); st[chips-1].Address != 2*(chips-1) {
		t.Fatalf("last chip at %02x, want %02x", st[chips-1].Address, 2*(chips-1))
	}
	configure(t, h, m.DefaultMHz, limit)
	job, hdr := testJob(t, m, 0x40, 4)
	h.send(bm13xx.EncodeJob(m, job))
	nonces := h.collect(5*time.Second, 60, func(r bm13xx.Response) bool { return r.Nonce })
	if len(nonces) < 60 {
		t.Fatalf("%d nonces, want 60", len(nonces))
	}
	seen := map[int]bool{}
	for _, r := range nonces {
		n, err := checkNonce(m, r, hdr, job.Version, limit)
		if err != nil {
			t.Fatalf("nonce %v: %v", r, err)
		}
		seen[n.ChipField/2] = true
	}
	if len(seen) < 30 {
		t.Errorf("nonces from %d chips, want ≥ 30 of %d", len(seen), chips)
	}
	// The serving chain adds its reader, writer and hashing loop, plus the
	// test's own Serve goroutine.
	if n := runtime.NumGoroutine() - before; n > 4 {
		t.Errorf("%d goroutines for a %d-chip chain, want ≤ 4", n, chips)
	}
}
