package emulator

import (
	"context"
	"time"

	"github.com/kilnfw/kiln/hal/cpu/kernel"
)

// Pacing. One goroutine per chain hashes for every chip in turn; each chip
// has a token bucket filled at its scaled hash rate, and a step (one
// position of its slice, every version of its batch) spends the hashes it
// computes.
const (
	// mineTick is how often the loop refills the buckets.
	mineTick = 4 * time.Millisecond
	// burstWindow caps a bucket at this much of the chip's rate, so a chip
	// that fell behind (a busy CPU) does not race to catch up.
	burstWindow = 200 * time.Millisecond
	// stepsPerLock bounds the steps taken under one hold of the lock, so
	// host commands are never kept waiting long.
	stepsPerLock = 4
)

// mineLoop hashes for every chip until ctx ends.
func (c *Chain) mineLoop(ctx context.Context) {
	tick := time.NewTicker(mineTick)
	defer tick.Stop()
	for {
		if !c.anyHashing() {
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.wake:
		}
		now := c.now()
		for i := range c.chips {
			if ctx.Err() != nil {
				return
			}
			c.mineChip(ctx, i, now)
		}
	}
}

// anyHashing reports whether some chip has work to hash.
func (c *Chain) anyHashing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.chips {
		if ch.hashing() {
			return true
		}
	}
	return false
}

// rate returns ch's hash rate in H/s. Callers hold c.mu.
func (c *Chain) rate(ch *chip) float64 {
	m := c.cfg.Model
	return ch.freqMHz * 1e6 * float64(m.Cores*m.SmallCores) / c.cfg.ScaleDown
}

// accrue fills ch's bucket for the time since it was last filled, at its
// current rate. Callers hold c.mu and call it before anything changes the
// rate or whether the chip hashes, so that hashing starts the moment work
// arrives and each rate applies to its own interval.
func (c *Chain) accrue(ch *chip, now time.Time) {
	switch dt := now.Sub(ch.tokensAt).Seconds(); {
	case !ch.hashing():
		ch.tokens = 0
	case dt > 0:
		ch.tokens += c.rate(ch) * dt
	}
	if now.After(ch.tokensAt) {
		ch.tokensAt = now
	}
}

// mineChip refills chip i's bucket up to now and spends it, stopping early
// when ctx ends (a slow host may need long to spend a bucket).
func (c *Chain) mineChip(ctx context.Context, i int, now time.Time) {
	c.mu.Lock()
	ch := c.chips[i]
	c.accrue(ch, now)
	if !ch.hashing() {
		c.mu.Unlock()
		return
	}
	rate := c.rate(ch)
	first := true
	for {
		for range stepsPerLock {
			cost := c.prepare(ch)
			if first {
				ch.tokens = min(ch.tokens, max(rate*burstWindow.Seconds(), 2*cost))
				first = false
			}
			if cost == 0 || ch.tokens < cost {
				c.mu.Unlock()
				return
			}
			c.step(ch)
			ch.tokens -= cost
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if !ch.hashing() {
			c.mu.Unlock()
			return
		}
	}
}

// nextAddr returns the address that bounds chip i's slice: the next chip's
// address when it is above chip i's, 256 otherwise. Callers hold c.mu.
func (c *Chain) nextAddr(i int) int {
	if i+1 < len(c.chips) && c.chips[i+1].addr > c.chips[i].addr {
		return int(c.chips[i+1].addr)
	}
	return 256
}

// prepare brings ch's slice and version batch up to date and returns the
// hashes its next step costs, 0 when it has nothing to hash. Callers hold
// c.mu.
func (c *Chain) prepare(ch *chip) float64 {
	m := c.cfg.Model
	if next := c.nextAddr(ch.index); !ch.slValid || ch.sl.addr != int(ch.addr) || ch.sl.next != next {
		ch.sl = newSlice(m, int(ch.addr), next)
		ch.slValid = true
		ch.pos, ch.swept = 0, 0
	}
	if len(ch.sl.rows) == 0 {
		return 0
	}
	if !ch.curValid {
		ch.cur = newBatch(m, ch.job, ch.roll, ch.batchNo)
		ch.curValid = true
	}
	r, _ := ch.sl.at(ch.pos)
	return float64(len(ch.cur.mids)) * float64(m.Cores) * float64(r.width)
}

// window returns how many nonces per core a chip sweeps before moving to
// its next version batch: 2·HCN·f/25 (HCN counts 25 MHz reference ticks),
// 0 meaning the whole slice (no HCN written, BM1397).
func (c *Chain) window(ch *chip) uint64 {
	if !c.cfg.Model.HardwareRolling || ch.hcn == 0 {
		return 0
	}
	return uint64(2 * float64(ch.hcn) * ch.freqMHz / 25)
}

// step hashes one position of ch's slice for every version of its batch,
// reports what meets the ticket and advances the walk. Callers hold c.mu
// and have called prepare.
func (c *Chain) step(ch *chip) {
	r, x := ch.sl.at(ch.pos)
	start, count := runStart(r, x), r.tHi-r.tLo+1
	for j := range ch.cur.mids {
		c.found = kernel.Scan(&ch.cur.mids[j], &ch.job.tail, start, count, ch.limit, c.found[:0])
		for _, v := range c.found {
			if ch.sl.owns(r, v) {
				c.report(ch, j, v)
			}
		}
	}
	ch.hashes += uint64(len(ch.cur.mids)) * uint64(c.cfg.Model.Cores) * r.width
	ch.pos++
	ch.swept += r.width
	if w := c.window(ch); ch.pos >= ch.sl.positions() || (w > 0 && ch.swept >= w) {
		ch.pos, ch.swept = 0, 0
		ch.batchNo = (ch.batchNo + 1) % batchCount(c.cfg.Model, ch.roll)
		ch.curValid = false
	}
}

// report sends a nonce response for nonce value v found with version j of
// ch's batch, if its hash meets the chip's ticket; with the chain's error
// probability one bit of it is flipped first. Callers hold c.mu.
func (c *Chain) report(ch *chip, j int, v uint32) {
	nb := nonceBytes(v)
	if !ch.exact {
		last := ch.job.lastBlock(nb)
		h, ok := sha256dFromMid(&ch.cur.mids[j], &last)
		if !ok || !ch.target.Meets(&h) {
			return
		}
	}
	if p := c.errorRate(ch); p > 0 && c.rng.Float64() < p {
		nb = c.corrupt(ch, j, nb)
		ch.hwErrors++
	}
	resp := c.cfg.Model.EncodeNonce(ch.job.id, ch.cur.subs[j], nb, ch.cur.fields[j])
	resp.Long = ch.long
	ch.nonces++
	c.send(resp.Encode(), true)
}

// corrupt flips one bit of a nonce, choosing one whose result misses the
// chip's ticket so that the host can tell. Callers hold c.mu.
func (c *Chain) corrupt(ch *chip, j int, nb [4]byte) [4]byte {
	first := c.rng.IntN(32)
	var bad [4]byte
	for k := range 32 {
		bit := (first + k) % 32
		bad = nb
		bad[bit/8] ^= 1 << (bit % 8)
		last := ch.job.lastBlock(bad)
		if h, ok := sha256dFromMid(&ch.cur.mids[j], &last); !ok || !ch.target.Meets(&h) {
			return bad
		}
	}
	return bad
}
