package mining

import (
	"context"
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// MaxNTimeRoll bounds how far past the notify's ntime work may roll. Pools
// accept far more (ckpool 7000 s, slush 1000 s); ntime also never rolls
// faster than wall time, so in practice it stays within seconds of now.
const MaxNTimeRoll = 600

// maxVersionBits caps the rolled version bits: 16 is what BIP 320 frees
// (mask 1fffe000) and what BM1366-class chips report.
const maxVersionBits = 16

// maxEn2Bits caps the extranonce2 counter: 2^32 values per version per
// ntime second outlast any job.
const maxEn2Bits = 32

// Work is one unit of search: a header fixed in everything but the nonce,
// covering all 2^32 nonces. Two Works handed out by one Dispatcher never
// share (job, extranonce2, version, ntime), so no header is hashed twice.
type Work struct {
	Job *Job
	// Slot is the work's index in its job's search space.
	Slot uint64
	// Extranonce2 is the exact byte string in the coinbase.
	Extranonce2 []byte
	// Version is the rolled header version; NTime the header time.
	Version, NTime uint32
	// Header is the 80-byte header with nonce 0.
	Header [80]byte
	// Midstate is the SHA-256 state after the header's first 64 bytes.
	Midstate [8]uint32

	state *jobState
}

// Tail returns header bytes 64..75 as the three big-endian message words
// that open the header's second SHA-256 block (merkle tail, ntime, nbits).
func (w *Work) Tail() [3]uint32 {
	return [3]uint32{
		binary.BigEndian.Uint32(w.Header[64:]),
		binary.BigEndian.Uint32(w.Header[68:]),
		binary.BigEndian.Uint32(w.Header[72:]),
	}
}

// Expired reports whether a newer job has arrived, so hashing units should
// move to fresh work at their next convenient point.
func (w *Work) Expired() bool { return w.state != nil && w.state.superseded.Load() }

// Stale reports whether a clean job (or a pool switch) voided this work:
// shares found on it would be rejected.
func (w *Work) Stale() bool { return w.state != nil && w.state.stale.Load() }

// Space describes a job's search space: work slot k uses version index
// k mod Versions, extranonce2 counter (k / Versions) mod Extranonce2s and
// ntime offset k / (Versions·Extranonce2s) seconds.
type Space struct {
	Versions, Extranonce2s uint64
}

// SpaceOf returns the search space of a job.
func SpaceOf(j *Job) Space {
	vb := min(bits.OnesCount32(j.VersionMask), maxVersionBits)
	eb := min(8*j.Extranonce2Size, maxEn2Bits)
	return Space{Versions: 1 << vb, Extranonce2s: 1 << eb}
}

// Slot splits slot index k into its version index, extranonce2 counter and
// ntime offset.
func (s Space) Slot(k uint64) (version, en2, ntimeOffset uint64) {
	version = k % s.Versions
	k /= s.Versions
	return version, k % s.Extranonce2s, k / s.Extranonce2s
}

// Extranonce2 encodes counter as size little-endian bytes, the form cgminer
// and ESP-Miner use.
func Extranonce2(counter uint64, size int) []byte {
	b := make([]byte, size)
	for i := 0; i < size && i < 8; i++ {
		b[i] = byte(counter >> (8 * i))
	}
	return b
}

// NewWork builds the work for slot k of a job.
func NewWork(j *Job, k uint64) *Work { return SpaceOf(j).Work(j, k) }

// Work builds the work for slot k of job j in this space.
func (s Space) Work(j *Job, k uint64) *Work {
	vi, e, t := s.Slot(k)
	w := &Work{
		Job:         j,
		Slot:        k,
		Extranonce2: Extranonce2(e, j.Extranonce2Size),
		Version:     RollVersion(j.Version, j.VersionMask, vi),
		NTime:       j.NTime + uint32(t),
	}
	w.Header = j.Header(j.MerkleRoot(w.Extranonce2), w.Version, w.NTime, 0)
	w.Midstate = Midstate(&w.Header)
	return w
}

type jobState struct {
	job        *Job
	next       uint64 // guarded by Dispatcher.mu
	superseded atomic.Bool
	stale      atomic.Bool
}

// Dispatcher hands out the current job's work slots, in order, to every
// hashing unit that asks: the slots handed out are always exactly 0..n-1 of
// the current job, so the units never overlap and leave no gap.
type Dispatcher struct {
	now       func() time.Time
	unitsRoll bool

	mu      sync.Mutex
	cur     *jobState
	changed chan struct{} // closed when cur changes
}

// DispatcherOption configures a Dispatcher.
type DispatcherOption func(*Dispatcher)

// UnitsRollVersion is for hashing units that roll the version bits inside
// the mask themselves (BM1366-class chips): every work unit keeps the job's
// base version (mask bits clear) and slots step through extranonce2 and
// ntime only, so the units' own rolling never repeats another slot's.
func UnitsRollVersion() DispatcherOption { return func(d *Dispatcher) { d.unitsRoll = true } }

// NewDispatcher returns a dispatcher with no job. now may be nil for the
// wall clock.
func NewDispatcher(now func() time.Time, opts ...DispatcherOption) *Dispatcher {
	if now == nil {
		now = time.Now
	}
	d := &Dispatcher{now: now, changed: make(chan struct{})}
	for _, o := range opts {
		o(d)
	}
	return d
}

// space is the search space the dispatcher splits for job j.
func (d *Dispatcher) space(j *Job) Space {
	s := SpaceOf(j)
	if d.unitsRoll {
		s.Versions = 1
	}
	return s
}

// SetJob makes j the job to hash. Earlier work expires; it also goes stale
// when j is clean or comes from another pool connection.
func (d *Dispatcher) SetJob(j *Job) {
	d.swap(&jobState{job: j}, func(old *jobState) bool {
		return j.Clean || old.job.Pool != j.Pool || old.job.Session != j.Session
	})
}

// Clear withdraws the current job (the pool is gone): all work goes stale
// and Next blocks until the next SetJob.
func (d *Dispatcher) Clear() { d.swap(nil, func(*jobState) bool { return true }) }

func (d *Dispatcher) swap(next *jobState, stale func(old *jobState) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.cur; old != nil {
		if stale(old) {
			old.stale.Store(true)
		}
		old.superseded.Store(true)
	}
	d.cur = next
	close(d.changed)
	d.changed = make(chan struct{})
}

// Changed returns a channel that is closed when the job next changes (a new
// job or Clear): units that pace their own work, like chip drivers, select
// on it to send fresh work at once.
func (d *Dispatcher) Changed() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.changed
}

// Job returns the job being hashed, or nil.
func (d *Dispatcher) Job() *Job {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil {
		return nil
	}
	return d.cur.job
}

// Next returns the next unused work slot of the current job. It blocks while
// there is no job, or while every slot needs ntime further ahead than wall
// time allows, until ctx ends.
func (d *Dispatcher) Next(ctx context.Context) (*Work, error) {
	ws, err := d.NextN(ctx, 1)
	if err != nil {
		return nil, err
	}
	return ws[0], nil
}

// NextN returns the next n consecutive slots of the current job at once, so
// a unit that hashes several versions of one header (a BM1397 fed four
// midstates) gets slots no other unit can interleave with. With the version
// index varying fastest, n aligned slots share their extranonce2 when n
// divides the job's version count.
func (d *Dispatcher) NextN(ctx context.Context, n int) ([]*Work, error) {
	for {
		ws, wait, changed := d.tryNext(max(n, 1))
		if ws != nil {
			return ws, nil
		}
		var t *time.Timer
		var timer <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			err := ctx.Err()
			stopTimer(t)
			return nil, err
		case <-changed:
		case <-timer:
		}
		stopTimer(t) // each wait's own timer, not one deferred per loop
	}
}

func (d *Dispatcher) tryNext(n int) ([]*Work, time.Duration, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.cur
	if st == nil {
		return nil, 0, d.changed
	}
	space := d.space(st.job)
	_, _, off := space.Slot(st.next + uint64(n) - 1)
	elapsed := d.now().Sub(st.job.Received)
	if off > MaxNTimeRoll {
		return nil, 0, d.changed // exhausted: wait for a new job
	}
	if time.Duration(off)*time.Second > elapsed {
		return nil, time.Duration(off)*time.Second - elapsed, d.changed
	}
	ws := make([]*Work, n)
	for i := range ws {
		ws[i] = space.Work(st.job, st.next)
		ws[i].state = st
		st.next++
	}
	return ws, 0, d.changed
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
