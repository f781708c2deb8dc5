package mining

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Outcomes of checking a result that callers branch on with errors.Is.
var (
	// ErrHardware: the hash does not meet the target the unit claimed, or
	// the unit rolled version bits outside the negotiated mask.
	ErrHardware = errors.New("mining: hardware error: result does not verify")
	// ErrStale: the result's job was voided by a clean job or pool switch.
	ErrStale = errors.New("mining: stale result")
	// ErrDuplicate: the same header was reported before.
	ErrDuplicate = errors.New("mining: duplicate result")
)

// Result is a nonce a hashing unit reports for a Work.
type Result struct {
	Work  *Work
	Nonce uint32
	// Version is the header version the unit hashed; 0 means Work.Version
	// (units that roll version bits themselves report theirs).
	Version uint32
	// Target is what the unit claims the hash meets: the threshold at which
	// it reports (a chip's ticket mask, the CPU kernel's top-word limit).
	Target Target
	// Unit identifies the hashing unit (core, chip) for statistics.
	Unit int
}

// Share is a result whose hash meets its job's share target: ready to submit
// to the pool that issued the job.
type Share struct {
	Job         *Job
	Extranonce2 []byte
	NTime       uint32
	Nonce       uint32
	// Version is the full rolled header version; VersionBits is
	// Version & Job.VersionMask, the 6th mining.submit parameter.
	Version, VersionBits uint32
	// Hash is the header's proof-of-work hash (the job's algorithm) in
	// internal byte order.
	Hash [32]byte
	// Difficulty is the share difficulty the hash achieved, on the job
	// algorithm's scale.
	Difficulty float64
	Found      time.Time
	Unit       int
}

// ValidatorStats counts what a Validator has seen.
type ValidatorStats struct {
	Results, HWErrors, Stale, Duplicates, Shares uint64
	// Hashes is the work the verified results stand for: the sum of their
	// targets' expected hashes. It is how much hashing was done, for any
	// kind of unit.
	Hashes uint64
}

// dupWindow bounds the duplicate filter: this many recent hashes are kept in
// each of two generations.
const dupWindow = 4096

// Validator re-verifies every result on the host with its job's
// proof-of-work algorithm. It is safe
// for concurrent use.
type Validator struct {
	now      func() time.Time
	hashrate *Hashrate

	results, hwErrors, stale, dups, shares, hashes atomic.Uint64

	mu        sync.Mutex
	seen, old map[[32]byte]struct{}
}

// NewValidator returns a validator feeding hr (which may be nil); now may be
// nil for the wall clock.
func NewValidator(hr *Hashrate, now func() time.Time) *Validator {
	if now == nil {
		now = time.Now
	}
	return &Validator{now: now, hashrate: hr, seen: make(map[[32]byte]struct{})}
}

// Check verifies one result. It returns the share when the hash meets the
// job's share target, (nil, nil) for a good result below it, and an error
// wrapping ErrHardware, ErrStale or ErrDuplicate otherwise. Every result that
// verifies counts toward the hash rate, stale or not: the work was done.
func (v *Validator) Check(r Result) (*Share, error) {
	v.results.Add(1)
	w := r.Work
	version := r.Version
	if version == 0 {
		version = w.Version
	}
	if (version^w.Job.Version)&^w.Job.VersionMask != 0 {
		v.hwErrors.Add(1)
		return nil, ErrHardware
	}
	hdr := w.Header
	hdr[0], hdr[1], hdr[2], hdr[3] = byte(version), byte(version>>8), byte(version>>16), byte(version>>24)
	hdr[76], hdr[77], hdr[78], hdr[79] = byte(r.Nonce), byte(r.Nonce>>8), byte(r.Nonce>>16), byte(r.Nonce>>24)
	hash := w.Job.Algo.PoWHash(hdr[:])
	if !r.Target.Meets(&hash) {
		v.hwErrors.Add(1)
		return nil, ErrHardware
	}
	now := v.now()
	work := r.Target.ExpectedHashes()
	v.hashes.Add(uint64(work))
	if v.hashrate != nil {
		v.hashrate.Add(now, work)
	}
	if v.duplicate(hash) {
		v.dups.Add(1)
		return nil, ErrDuplicate
	}
	if !w.Job.ShareTarget.Meets(&hash) {
		return nil, nil
	}
	if w.Stale() {
		v.stale.Add(1)
		return nil, ErrStale
	}
	v.shares.Add(1)
	return &Share{
		Job:         w.Job,
		Extranonce2: w.Extranonce2,
		NTime:       w.NTime,
		Nonce:       r.Nonce,
		Version:     version,
		VersionBits: version & w.Job.VersionMask,
		Hash:        hash,
		Difficulty:  w.Job.Algo.HashDifficulty(&hash),
		Found:       now,
		Unit:        r.Unit,
	}, nil
}

// duplicate records hash and reports whether it was seen recently.
func (v *Validator) duplicate(hash [32]byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.seen[hash]; ok {
		return true
	}
	if _, ok := v.old[hash]; ok {
		return true
	}
	if len(v.seen) >= dupWindow {
		v.old, v.seen = v.seen, make(map[[32]byte]struct{}, dupWindow)
	}
	v.seen[hash] = struct{}{}
	return false
}

// Stats returns the counters so far.
func (v *Validator) Stats() ValidatorStats {
	return ValidatorStats{
		Results:    v.results.Load(),
		HWErrors:   v.hwErrors.Load(),
		Stale:      v.stale.Load(),
		Duplicates: v.dups.Load(),
		Shares:     v.shares.Load(),
		Hashes:     v.hashes.Load(),
	}
}
