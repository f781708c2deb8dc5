package load

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/stratumproxy"
)

// ctxCheckEvery is how many hashes a search runs between context checks.
const ctxCheckEvery = 1 << 13

// shareWork is what one share is built from: a snapshot of the current job
// and a fresh extranonce2 (and version bits when rolling was granted).
type shareWork struct {
	job     *mining.Job
	en2     []byte
	version uint32
	bits    uint32
	rolled  bool
}

// nextWork snapshots the current job with a fresh extranonce2; nil before
// the first job.
func (c *conn) nextWork() *shareWork {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.job
	if j == nil || j.Extranonce2Size < 1 {
		return nil
	}
	c.en2++
	w := &shareWork{job: j, en2: mining.Extranonce2(c.en2, j.Extranonce2Size), version: j.Version}
	if j.VersionMask != 0 {
		// Roll a few version bits too, so servers see 6-parameter submits.
		v := mining.RollVersion(j.Version, j.VersionMask, c.en2&0xff)
		w.version, w.bits, w.rolled = v, v&j.VersionMask, true
	}
	return w
}

func (w *shareWork) submit(user string, ntime, nonce uint32) stratumproxy.Submit {
	return stratumproxy.Submit{
		Worker: user, JobID: w.job.ID, Extranonce2: w.en2, NTime: ntime, Nonce: nonce,
		VersionBits: w.bits, HasVersion: w.rolled,
	}
}

// solve searches nonces 0..maxHashes-1 for a hash meeting the job's share
// target; ok is false when none did or ctx ended.
func (w *shareWork) solve(ctx context.Context, maxHashes uint64) (nonce uint32, ok bool) {
	root := w.job.MerkleRoot(w.en2)
	h := w.job.Header(root, w.version, w.job.NTime, 0)
	limit := min(maxHashes, 1<<32)
	for n := uint64(0); n < limit; n++ {
		if n%ctxCheckEvery == 0 && ctx.Err() != nil {
			return 0, false
		}
		binary.LittleEndian.PutUint32(h[76:], uint32(n))
		first := sha256.Sum256(h[:])
		hash := sha256.Sum256(first[:])
		if w.job.ShareTarget.Meets(&hash) {
			return uint32(n), true
		}
	}
	return 0, false
}

// missNonce returns a nonce whose hash does NOT meet the share target
// (almost any does at a sane difficulty), starting from start.
func (w *shareWork) missNonce(start uint32) (uint32, bool) {
	root := w.job.MerkleRoot(w.en2)
	for i := range uint32(64) {
		h := w.job.Header(root, w.version, w.job.NTime, start+i)
		hash := mining.Sha256d(h[:])
		if !w.job.ShareTarget.Meets(&hash) {
			return start + i, true
		}
	}
	return 0, false
}

// submitOne builds and sends one share: invalid with probability invalid
// (cycling low difficulty, duplicate, bad ntime), otherwise a valid one.
func (c *conn) submitOne(ctx context.Context, invalid float64, maxHashes uint64, user string) {
	if invalid > 0 && c.r.randFloat() < invalid {
		c.submitInvalid(user)
		return
	}
	w := c.nextWork()
	if w == nil {
		return
	}
	if !c.r.solvers.tryAcquire() {
		c.r.tally.skippedBusy.Add(1)
		return
	}
	nonce, ok := w.solve(ctx, maxHashes)
	c.r.solvers.release()
	if ctx.Err() != nil {
		return
	}
	if !ok {
		c.r.tally.unsolved.Add(1)
		return
	}
	s := w.submit(user, w.job.NTime, nonce)
	c.mu.Lock()
	c.lastValid = &s
	c.mu.Unlock()
	c.sendShare(kindValid, s)
}

func (c *conn) submitInvalid(user string) {
	c.mu.Lock()
	kind := []string{kindLowDiff, kindDuplicate, kindBadNTime}[c.invalidSeq%3]
	c.invalidSeq++
	dup := c.lastValid
	if dup != nil && (c.job == nil || c.job.ID != dup.JobID) {
		// The pool may have forgotten an older job: that is a stale
		// share, not a duplicate.
		dup = nil
	}
	c.mu.Unlock()
	if kind == kindDuplicate && dup != nil {
		c.sendShare(kindDuplicate, *dup)
		return
	}
	if kind == kindDuplicate {
		kind = kindLowDiff // nothing to duplicate yet
	}
	w := c.nextWork()
	if w == nil {
		return
	}
	if kind == kindBadNTime {
		// An ntime before the job's is out of range on every pool; the
		// check comes before the hash.
		c.sendShare(kindBadNTime, w.submit(user, w.job.NTime-1, 0))
		return
	}
	nonce, ok := w.missNonce(uint32(c.r.randFloat() * (1 << 32)))
	if !ok {
		return
	}
	c.sendShare(kindLowDiff, w.submit(user, w.job.NTime, nonce))
}

func (c *conn) sendShare(kind string, s stratumproxy.Submit) {
	c.r.tally.sent(kind)
	c.request(kind, func(id uint64) []byte { return stratumproxy.EncodeSubmit(id, s) })
}
