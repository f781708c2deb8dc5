package bm13xx

import (
	"fmt"
	"math"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// Initialisation constants.
const (
	// resetMHz is the hash clock after reset, where the ramp starts.
	resetMHz = 50
	// rampStepMHz is the frequency step of the ramp.
	rampStepMHz = 6.25
	// defaultVersionMask is the mask written to 0xA4 at init (9000FFFF),
	// before any job says otherwise.
	defaultVersionMask = 0x1fffe000
)

// initPlan is a model's register sequence around addressing (§4.2).
type initPlan struct {
	// a4Repeats is how often 0xA4 is written before enumeration.
	a4Repeats int
	// beforeInactive, beforeAddress, broadcast and tail are written in that
	// order around chain inactive and addressing; perChip to every chip
	// after broadcast; afterRamp once the clock is up.
	beforeInactive, beforeAddress, broadcast, tail []Command
	perChip                                        func(addr byte) []Command
	afterRamp                                      func(chips int, mhz float64) []Command
}

// planFor returns the open-firmware init sequence of model m with ticket
// mask ticket (§4.2 of the protocol notes).
func planFor(m Model, ticket uint32) initPlan {
	w := WriteAll
	core := func(id, val byte) Command { return w(RegCoreControl, CoreWrite(0, id, val)) }
	chipCores := func(c0, c1 Command) func(byte) []Command {
		return func(a byte) []Command {
			return []Command{
				WriteChip(a, RegA8, 0x000701f0), WriteChip(a, RegMiscControl, 0xf000c100),
				WriteChip(a, RegCoreControl, c0.Value), WriteChip(a, RegCoreControl, c1.Value),
				WriteChip(a, RegCoreControl, CoreWrite(0, 2, 0xaa)),
			}
		}
	}
	hcn := func(extra ...Command) func(int, float64) []Command {
		return func(n int, f float64) []Command {
			return append([]Command{w(RegHCN, HCN(m, n, f))}, extra...)
		}
	}
	rolling := w(RegVersionRolling, VersionRollingReg(defaultVersionMask))
	switch m.ID {
	case BM1366.ID:
		return initPlan{
			a4Repeats:      3,
			beforeInactive: []Command{w(RegA8, 0x00070000), w(RegMiscControl, 0xff0fc100)},
			broadcast: []Command{core(5, 0x40), core(0, 0x20), w(RegTicketMask, ticket),
				w(RegAnalogMux, 3), w(RegIODriver, 0x02111111), WriteChip(0, RegUARTRelay, 0x007c0003)},
			perChip:   chipCores(core(5, 0x40), core(0, 0x20)),
			afterRamp: hcn(rolling),
		}
	case BM1368.ID:
		return initPlan{
			a4Repeats: 4,
			beforeAddress: []Command{w(RegA8, 0x00070000), w(RegMiscControl, 0xff0fc100),
				core(11, 0x00), core(0, 0x18), w(RegTicketMask, ticket), w(RegAnalogMux, 3),
				w(RegIODriver, 0x02111111)},
			perChip:   chipCores(core(11, 0x00), core(0, 0x18)),
			tail:      []Command{w(RegTicketMask, ticket)},
			afterRamp: hcn(rolling),
		}
	case BM1370.ID:
		return initPlan{
			a4Repeats:      3,
			beforeInactive: []Command{rolling, w(RegA8, 0x00070000), w(RegMiscControl, 0xf000c100)},
			broadcast: []Command{core(11, 0x00), core(0, 0x0c), w(RegTicketMask, ticket),
				w(RegIODriver, 0x00011111)},
			perChip: chipCores(core(11, 0x00), core(0, 0x0c)),
			tail: []Command{w(RegB9, 0x00004480), w(RegAnalogMux, 2), w(RegB9, 0x00004480),
				core(13, 0xee)},
			afterRamp: hcn(),
		}
	}
	return initPlan{ // BM1397
		broadcast: []Command{w(RegClockOrder0, 0), w(RegClockOrder1, 0), w(RegOrderedClock, 1),
			core(0, 0x74), w(RegTicketMask, ticket), w(RegPLL3, 0xc0700111),
			w(RegFastUART, 0x0600000f), w(RegMiscControl, 0x00007a31)},
		afterRamp: func(int, float64) []Command { return nil },
	}
}

// init brings the chain from reset to ready for jobs (§4): reset, version
// rolling on (BM1366+), enumeration, addressing, the model's register
// sequence, the clock ramp, HCN and the fast baud rate.
func (s *session) init() error {
	c, m := s.c, s.m
	if err := s.setBaud(hal.Baud115200); err != nil {
		return err
	}
	if c.cfg.Reset != nil {
		if err := c.cfg.Reset.Reset(s.ctx); err != nil {
			return fmt.Errorf("bm13xx: chain %d: reset: %w", c.cfg.Index, err)
		}
		c.setFast(false)
	}
	plan := planFor(m, TicketMask(c.cfg.Difficulty))
	n, err := s.enumerate(plan)
	if err == nil && n == 0 && c.cfg.Reset == nil && c.isFast() {
		// Without a reset line the chips may still run at the fast rate.
		if err = s.setBaud(c.cfg.FastBaud); err == nil {
			n, err = s.enumerate(plan)
		}
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("bm13xx: chain %d: %w", c.cfg.Index, ErrNoChips)
	}
	if exp := c.cfg.ExpectedChips; exp > 0 && n != exp {
		s.log.Warn("chip count differs from the board's", "found", n, "expected", exp)
	}
	s.log.Info("chips enumerated", "chips", n, "model", m.Name)
	s.addrs = Addresses(n)
	c.installChips(s.addrs)
	if err := s.configure(plan); err != nil {
		return err
	}
	mhz, err := s.ramp()
	if err != nil {
		return err
	}
	if err := s.sendAll(plan.afterRamp(n, mhz)...); err != nil {
		return err
	}
	s.mask = defaultVersionMask
	return s.switchBaud()
}

// enumerate turns version rolling on (BM1366+), reads register 0x00 of
// every chip and counts the chip-id replies until EnumerateWait of silence.
func (s *session) enumerate(plan initPlan) (int, error) {
	for range plan.a4Repeats {
		if err := s.send(WriteAll(RegVersionRolling, VersionRollingReg(defaultVersionMask))); err != nil {
			return 0, err
		}
	}
	for len(s.regs) > 0 { // replies from before this read do not count
		<-s.regs
	}
	if err := s.send(ReadAll(RegChipID)); err != nil {
		return 0, err
	}
	wait := s.c.cfg.EnumerateWait
	t := time.NewTimer(wait)
	defer t.Stop()
	count := 0
	for {
		select {
		case <-s.ctx.Done():
			return 0, s.cause()
		case r := <-s.regs:
			if r.B7 == RegChipID && r.Value()>>16 == uint32(s.m.ID) {
				count++
				t.Reset(wait)
			}
		case <-t.C:
			return min(count, 256), nil
		}
	}
}

// configure writes the model's register sequence around addressing.
func (s *session) configure(plan initPlan) error {
	seq := append([]Command(nil), plan.beforeInactive...)
	seq = append(seq, ChainInactive())
	seq = append(seq, plan.beforeAddress...)
	for _, a := range s.addrs {
		seq = append(seq, SetAddress(a))
	}
	seq = append(seq, plan.broadcast...)
	if plan.perChip != nil {
		for _, a := range s.addrs {
			seq = append(seq, plan.perChip(a)...)
		}
	}
	seq = append(seq, plan.tail...)
	if d := s.c.cfg.Difficulty; d < 1 {
		if l := SimTicketLimit(d); l != 0 {
			seq = append(seq, WriteAll(RegSimTicket, l))
		}
	}
	return s.sendAll(seq...)
}

// rampSteps returns the frequencies a ramp from one clock to another
// writes: every multiple of 6.25 MHz strictly between them, then the target.
func rampSteps(from, to float64) []float64 {
	var steps []float64
	const eps = 1e-9
	if to > from {
		for f := (math.Floor(from/rampStepMHz+eps) + 1) * rampStepMHz; f < to-eps; f += rampStepMHz {
			steps = append(steps, f)
		}
	} else {
		for f := (math.Ceil(from/rampStepMHz-eps) - 1) * rampStepMHz; f > to+eps; f -= rampStepMHz {
			steps = append(steps, f)
		}
	}
	return append(steps, to)
}

// ramp moves the hash clock from the reset frequency to the configured one
// in 6.25 MHz steps, RampStep apart, and returns the frequency reached.
func (s *session) ramp() (float64, error) {
	m := s.m
	var mhz float64
	for i, f := range rampSteps(resetMHz, s.c.cfg.FrequencyMHz) {
		if i > 0 {
			if err := s.sleep(s.c.cfg.RampStep); err != nil {
				return 0, err
			}
		}
		reg, actual, err := PLL(m, f)
		if err != nil {
			return 0, fmt.Errorf("bm13xx: chain %d: ramp: %w", s.c.cfg.Index, err)
		}
		if !m.PostDivMinusOne { // BM1397 resets the output divider first
			if err := s.send(WriteAll(RegPLL0Divider, 0x0f0f0f00)); err != nil {
				return 0, err
			}
		}
		if err := s.send(WriteAll(RegPLL0, reg)); err != nil {
			return 0, err
		}
		mhz = actual
		s.c.setFrequency(actual)
	}
	s.log.Info("frequency reached", "mhz", mhz)
	return mhz, nil
}

// switchBaud moves chips and host to the fast rate (§4.4): write at the
// old rate, wait until it has left, switch the host, flush what arrived.
func (s *session) switchBaud() error {
	c := s.c
	reg, v, err := FastUARTReg(s.m, c.cfg.FastBaud)
	if err != nil {
		return err
	}
	if err := s.send(WriteAll(reg, v)); err != nil {
		return err
	}
	if err := s.port.Drain(); err != nil {
		return fmt.Errorf("bm13xx: chain %d: drain: %w", c.cfg.Index, err)
	}
	c.setFast(true)
	if err := s.setBaud(c.cfg.FastBaud); err != nil {
		return err
	}
	if err := s.port.ResetInput(); err != nil {
		return fmt.Errorf("bm13xx: chain %d: reset input: %w", c.cfg.Index, err)
	}
	return nil
}

// setBaud changes the host rate.
func (s *session) setBaud(b hal.Baud) error {
	if err := s.port.SetBaud(b); err != nil {
		return fmt.Errorf("bm13xx: chain %d: set baud %d: %w", s.c.cfg.Index, b, err)
	}
	return nil
}

// sleep waits d or until the session ends.
func (s *session) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return s.cause()
	case <-t.C:
		return nil
	}
}
