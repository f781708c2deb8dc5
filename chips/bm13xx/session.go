package bm13xx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// session is one run of a chain on one opened port: init, then mining,
// until the port fails, the chain falls silent or the context ends.
type session struct {
	c    *Chain
	m    Model
	port Port
	rr   *ResponseReader
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	wmu  sync.Mutex    // one frame on the line at a time
	regs chan Response // register replies, for init

	addrs    []byte
	interval time.Duration // job period
	mask     uint32        // version mask in the chips' 0xA4 (sender only)
	warned   bool          // misconfigured work source reported (sender only)
	mining   atomic.Bool
	lastAny  atomic.Int64 // unix nanoseconds of the last good frame
	// jobs maps a job id to the work it was built from; a reused or
	// invalidated slot drops late nonces as stale.
	jobs [256]atomic.Pointer[jobEntry]
}

// jobEntry is the work behind one job id: one Work on BM1366+, one per
// midstate on BM1397.
type jobEntry struct {
	works []*mining.Work
}

func newSession(c *Chain, port Port) *session {
	s := &session{
		c:    c,
		m:    c.cfg.Model,
		port: port,
		rr:   NewResponseReader(port, c.cfg.Model.LongReplies()),
		log:  c.log,
		regs: make(chan Response, 512),
	}
	c.mu.Lock()
	c.reader = s.rr
	c.mu.Unlock()
	return s
}

// run initialises the chain (or, with preset addresses, takes it as
// initialised) and mines until the session ends. It returns whether mining
// started and, unless parent ended, why the session ended.
func (s *session) run(parent context.Context, preset []byte) (mined bool, err error) {
	s.ctx, s.cancel = context.WithCancelCause(parent)
	s.wg.Go(s.readLoop)
	defer s.stop()
	if preset == nil {
		if err := s.init(); err != nil {
			return false, err
		}
	} else {
		s.addrs, s.mask = preset, defaultVersionMask
		s.c.installChips(preset)
		s.c.setFrequency(s.c.cfg.FrequencyMHz)
	}
	s.startMining()
	<-s.ctx.Done()
	if parent.Err() != nil {
		return true, nil
	}
	return true, s.cause()
}

// stop ends the session's goroutines and closes the port.
func (s *session) stop() {
	s.cancel(nil)
	_ = s.port.Close() // releases a blocked Read
	s.wg.Wait()
	st := s.rr.Stats()
	c := s.c
	c.mu.Lock()
	c.baseCRC += st.CRCErrors
	c.baseSkipped += st.SkippedBytes
	c.reader = nil
	c.mu.Unlock()
}

// cause returns why the session's context ended.
func (s *session) cause() error { return context.Cause(s.ctx) }

// startMining starts the job sender and the poller.
func (s *session) startMining() {
	c := s.c
	s.interval = c.cfg.JobInterval
	if s.interval <= 0 {
		s.interval = s.m.JobInterval(len(s.addrs), c.frequency())
	}
	s.lastAny.Store(time.Now().UnixNano())
	s.mining.Store(true)
	c.setState(StateMining, "")
	s.log.Info("mining", "chips", len(s.addrs), "job_interval", s.interval)
	s.wg.Go(s.sendLoop)
	s.wg.Go(s.pollLoop)
	s.wg.Go(s.clockLoop)
}

// readLoop decodes responses until the port fails or the session ends:
// nonces go to handleNonce, register replies to the liveness bookkeeping
// and to init.
func (s *session) readLoop() {
	for {
		r, err := s.rr.Next()
		if err != nil {
			if errors.Is(err, ErrNoData) && s.ctx.Err() == nil {
				continue
			}
			if s.ctx.Err() == nil {
				s.cancel(fmt.Errorf("bm13xx: chain %d: read: %w", s.c.cfg.Index, err))
			}
			return
		}
		now := time.Now()
		s.lastAny.Store(now.UnixNano())
		if r.Nonce {
			if s.mining.Load() {
				s.handleNonce(r, now)
			}
			continue
		}
		if s.mining.Load() {
			s.c.heard(s.addrs, r.B6, now)
		}
		select {
		case s.regs <- r:
		default:
		}
	}
}

// handleNonce turns one nonce response into a mining.Result: job lookup,
// the version it was found at, then cfg.Results, whose verdict (the host's
// SHA-256d check) counts against the chip when it is a hardware error.
func (s *session) handleNonce(r Response, now time.Time) {
	c := s.c
	n := s.m.DecodeNonce(r)
	chip := ChipIndex(n.ChipField, len(s.addrs))
	e := s.jobs[n.JobID].Load()
	if e == nil {
		c.stale.Add(1)
		c.heard(s.addrs, s.addrs[chip], now)
		return
	}
	var w *mining.Work
	var version uint32
	if s.m.HardwareRolling {
		w = e.works[0]
		version = w.Version | n.VersionBits
	} else {
		if n.SubIndex >= len(e.works) { // a midstate that was not sent
			c.hwErrors.Add(1)
			c.countNonce(chip, now, false)
			return
		}
		w = e.works[n.SubIndex]
		version = w.Version
	}
	if w.Stale() {
		c.stale.Add(1)
		c.heard(s.addrs, s.addrs[chip], now)
		return
	}
	err := c.cfg.Results(mining.Result{
		Work: w, Nonce: n.Value, Version: version, Target: c.target, Unit: c.cfg.Index*1000 + chip,
	})
	good := !errors.Is(err, mining.ErrHardware)
	if !good {
		c.hwErrors.Add(1)
	}
	c.countNonce(chip, now, good)
}

// sendLoop sends a job every interval, and at once when the work source
// changes job.
func (s *session) sendLoop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var id byte
	n := 1
	var prev *mining.Work
	var pending []*mining.Work // fetched but not sent
	byChange := false
	for {
		changed := s.c.cfg.Work.Changed()
		works := pending
		pending = nil
		if works == nil || works[0].Expired() {
			var ok bool
			if works, ok = s.nextWork(n); !ok {
				return
			}
		}
		if byChange && prev != nil && works[0].Job == prev.Job {
			// The change that woke us was already in the last job sent
			// (it happened while fetching it): keep the work for later.
			pending = works
		} else {
			if prev != nil && works[0].Job != prev.Job && prev.Stale() {
				s.invalidate() // a clean job: late nonces of older jobs are stale
			}
			if s.sendJob(id, works) != nil {
				return
			}
			prev = works[0]
			id = s.m.NextJobID(id)
			n = s.worksPerJob(works[0].Job)
			timer.Reset(s.jobInterval())
		}
		select {
		case <-s.ctx.Done():
			return
		case <-changed:
			byChange = true
		case <-timer.C:
			byChange = false
		}
	}
}

// jobInterval is the pause between jobs: the configured one, or the time
// the fastest chip takes to run through its share of the nonce space.
func (s *session) jobInterval() time.Duration {
	if s.c.cfg.JobInterval > 0 {
		return s.c.cfg.JobInterval
	}
	return s.m.JobInterval(len(s.addrs), s.c.maxChipFrequency())
}

// nextWork fetches n work slots, waiting while the source has none; false
// means the session ended.
func (s *session) nextWork(n int) ([]*mining.Work, bool) {
	for {
		works, err := s.c.cfg.Work.NextN(s.ctx, n)
		if err == nil && len(works) > 0 {
			return works, true
		}
		if s.ctx.Err() != nil {
			return nil, false
		}
		s.log.Warn("no work", "err", err)
		if s.sleep(s.interval) != nil {
			return nil, false
		}
	}
}

// worksPerJob is how many work slots one job takes: four versions (four
// midstates) on BM1397 when the job's mask allows it, else one.
func (s *session) worksPerJob(j *mining.Job) int {
	if s.m.HardwareRolling || bits.OnesCount32(j.VersionMask) < 2 {
		return 1
	}
	return MaxMidstates
}

// invalidate forgets every job id.
func (s *session) invalidate() {
	for i := range s.jobs {
		s.jobs[i].Store(nil)
	}
}

// sendJob records the job under id and writes it (with a new 0xA4 first
// when the version mask changed).
func (s *session) sendJob(id byte, works []*mining.Work) error {
	w := works[0]
	j := Job{ID: id, NumMidstates: 1, NBits: w.Job.NBits, NTime: w.NTime, Version: w.Version}
	copy(j.PrevHash[:], w.Header[4:36])
	copy(j.MerkleRoot[:], w.Header[36:68])
	if s.m.HardwareRolling {
		if w.Version&w.Job.VersionMask != 0 && !s.warned {
			s.warned = true
			s.log.Warn("work has rolled version bits: the work source must be a Dispatcher with mining.UnitsRollVersion()",
				"version", fmt.Sprintf("%08x", w.Version))
		}
		if mask := w.Job.VersionMask; mask != s.mask {
			if err := s.send(WriteAll(RegVersionRolling, VersionRollingReg(mask))); err != nil {
				return err
			}
			s.mask = mask
		}
		s.jobs[id].Store(&jobEntry{works: works[:1]})
		return s.write(EncodeJob(s.m, j))
	}
	used := works[:1]
	for _, x := range works[1:] { // midstates share the header's last 16 bytes
		if [12]byte(x.Header[64:76]) != [12]byte(w.Header[64:76]) {
			break
		}
		used = works[:len(used)+1]
	}
	j.NumMidstates = byte(len(used))
	for _, x := range used {
		j.Midstates = append(j.Midstates, x.Midstate)
	}
	s.jobs[id].Store(&jobEntry{works: used})
	return s.write(EncodeJob(s.m, j))
}

// pollLoop reads register 0x00 of every chip each poll interval, and ends
// the session when nothing at all arrived for three intervals.
func (s *session) pollLoop() {
	poll := s.c.cfg.PollInterval
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, s.lastAny.Load())) > silentPolls*poll {
			s.cancel(fmt.Errorf("bm13xx: chain %d: nothing heard for %v: %w", s.c.cfg.Index, silentPolls*poll, ErrSilent))
			return
		}
		for _, a := range s.addrs {
			if s.send(ReadChip(a, RegChipID)) != nil {
				return
			}
		}
	}
}

// send writes one command.
func (s *session) send(c Command) error { return s.write(c.Encode()) }

// sendAll writes commands in order.
func (s *session) sendAll(cmds ...Command) error {
	for _, c := range cmds {
		if err := s.send(c); err != nil {
			return err
		}
	}
	return nil
}

// write puts one frame on the line; a failed write ends the session.
func (s *session) write(b []byte) error {
	s.wmu.Lock()
	_, err := s.port.Write(b)
	s.wmu.Unlock()
	if err != nil {
		err = fmt.Errorf("bm13xx: chain %d: write: %w", s.c.cfg.Index, err)
		s.cancel(err)
	}
	return err
}

// installChips starts the per-chip bookkeeping for a chain with the given
// addresses, keeping the counters when the chain has the same chips.
func (c *Chain) installChips(addrs []byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chips) == len(addrs) {
		for _, ch := range c.chips {
			ch.lastHeard = now
		}
		return
	}
	c.chips = make([]*chipStats, len(addrs))
	for i, a := range addrs {
		c.chips[i] = &chipStats{addr: a, lastHeard: now, window: mining.NewRateWindow(now, chipRateWindow, chipRateSlots),
			freqMHz: c.freqMHz}
	}
}

// heard marks the chip at addr as alive.
func (c *Chain) heard(addrs []byte, addr byte, now time.Time) {
	i := ChipIndex(int(addr), len(addrs))
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= 0 && i < len(c.chips) && c.chips[i].addr == addr {
		c.chips[i].lastHeard = now
	}
}

// countNonce counts a nonce of chip i, good or a hardware error.
func (c *Chain) countNonce(i int, now time.Time, good bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 0 || i >= len(c.chips) {
		return
	}
	ch := c.chips[i]
	ch.nonces++
	ch.lastNonce, ch.lastHeard = now, now
	if good {
		ch.window.Add(now, c.perNonce)
	} else {
		ch.hwErrors++
	}
}

// setFrequency records the clock last written to every chip.
func (c *Chain) setFrequency(mhz float64) {
	c.mu.Lock()
	c.freqMHz = mhz
	for _, ch := range c.chips {
		ch.freqMHz = mhz
	}
	c.mu.Unlock()
}

func (c *Chain) frequency() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.freqMHz
}

// setFast records whether the chips were switched to the fast rate.
func (c *Chain) setFast(fast bool) {
	c.mu.Lock()
	c.fastBaud = fast
	c.mu.Unlock()
}

func (c *Chain) isFast() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fastBaud
}
