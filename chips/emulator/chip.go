package emulator

import (
	"math"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

// resetMHz is the hash clock after reset (open firmware starts its ramp
// from it).
const resetMHz = 50

// chip is one emulated chip. Every field is guarded by Chain.mu.
type chip struct {
	index int
	addr  byte
	// waiting is set by chain inactive: the chip takes the next
	// set-address frame and relays no command downstream until then.
	waiting bool
	stopped bool
	regs    [256]uint32

	freqMHz float64
	// fmaxMHz is the hidden maximum stable frequency; set once by New.
	fmaxMHz float64
	baud    hal.Baud
	roll    rolling
	// long is set while the chip answers in 11-byte frames.
	long bool
	// limit is the top-word limit the kernel applies; target the exact
	// target a reported hash meets (checked in full only when exact is
	// false, i.e. under a ticket mask).
	limit  uint32
	target mining.Target
	exact  bool
	hcn    uint32

	// The search.
	job      *work
	sl       slice
	slValid  bool
	pos      uint64
	swept    uint64
	batchNo  uint64
	cur      batch
	curValid bool
	// tokens is the hash budget not yet spent, filled up to tokensAt.
	tokens   float64
	tokensAt time.Time

	// Telemetry.
	nonces, hashes, hwErrors uint64
	tempC                    float64
	tempAt                   time.Time
}

// newChip returns chip i in its reset state.
func newChip(m bm13xx.Model, i int, ambient float64, now time.Time) *chip {
	ch := &chip{index: i, tempC: ambient, tempAt: now, tokensAt: now}
	if reg, f, err := bm13xx.PLL(m, resetMHz); err == nil {
		ch.regs[bm13xx.RegPLL0] = reg
		ch.freqMHz = f
	} else {
		ch.freqMHz = resetMHz
	}
	// Reset values of the UART registers (§3): BT8D 26, 115 740 baud.
	uart := bm13xx.RegFastUART
	if m.HardwareRolling {
		ch.regs[bm13xx.RegFastUART] = 0x01301A00
	} else {
		uart = bm13xx.RegMiscControl
		ch.regs[bm13xx.RegMiscControl] = 0x00003A01
		ch.regs[bm13xx.RegFastUART] = 0x0600000F
	}
	ch.baud, _ = bm13xx.UARTBaud(m, uart, ch.regs[uart])
	ch.regs[bm13xx.RegUARTRelay] = 0x000F0000
	ch.setTicket(0, 0)
	return ch
}

// setTicket applies a ticket mask and a simulation ticket limit.
func (ch *chip) setTicket(mask, sim uint32) {
	if sim != 0 {
		ch.limit, ch.target, ch.exact = sim, mining.TargetFromTop32(sim), true
		return
	}
	ch.target = bm13xx.TicketTarget(mask)
	ch.limit = ch.target.Top32()
	ch.exact = ch.target == mining.TargetFromTop32(ch.limit)
}

// hashing reports whether the chip has work it can hash.
func (ch *chip) hashing() bool { return !ch.stopped && ch.job != nil && ch.freqMHz > 0 }

// resetSearch restarts the walk of the current job from its beginning.
func (ch *chip) resetSearch() {
	ch.pos, ch.swept, ch.batchNo, ch.curValid = 0, 0, 0, false
}

// readReg returns what a read of register reg answers.
func (c *Chain) readReg(ch *chip, reg byte) uint32 {
	m := c.cfg.Model
	switch reg {
	case bm13xx.RegChipID:
		return uint32(m.ID)<<16 | uint32(m.CoreByte)<<8 | uint32(ch.addr)
	case bm13xx.RegHashCounter:
		return c.hashCounter(ch, 1)
	case 0x88, 0x89, 0x8A, 0x8B:
		return c.hashCounter(ch, 4)
	case bm13xx.RegErrorCounter:
		return uint32(ch.hwErrors)
	}
	return ch.regs[reg]
}

// hashCounter returns the chip's hash counter in units of 2^32 hashes of
// the chip it stands for (real hashes × ScaleDown), split over parts
// domains.
func (c *Chain) hashCounter(ch *chip, parts float64) uint32 {
	n := float64(ch.hashes) * c.cfg.ScaleDown / parts / (1 << 32)
	return uint32(uint64(math.Mod(n, 1<<32)))
}

// writeReg applies a register write to one chip.
func (c *Chain) writeReg(ch *chip, reg byte, v uint32, now time.Time) {
	m := c.cfg.Model
	if reg == bm13xx.RegChipID {
		return // read-only
	}
	ch.regs[reg] = v
	if b, ok := bm13xx.UARTBaud(m, reg, v); ok {
		ch.baud = b
	}
	switch reg {
	case bm13xx.RegPLL0:
		c.advanceHeat(ch, now)
		c.accrue(ch, now)
		ch.freqMHz = bm13xx.PLLFrequency(m, v)
	case bm13xx.RegTicketMask, bm13xx.RegSimTicket:
		ch.setTicket(ch.regs[bm13xx.RegTicketMask], ch.regs[bm13xx.RegSimTicket])
	case bm13xx.RegHCN:
		ch.hcn = v
	case bm13xx.RegVersionRolling:
		if !m.HardwareRolling {
			return
		}
		r := rolling{on: v&0x80000000 != 0, field: uint16(v)}
		ch.long = r.on
		if r != ch.roll {
			ch.roll = r
			ch.resetSearch()
		}
	case bm13xx.RegCoreControl:
		c.coreAccess(ch, v)
	}
}

// coreAccess handles a write to the core-register control word: a read
// request (bit 31 set, bit 15 clear) makes the chip send register 0x40
// with the core-register value, as real chips do on their own.
func (c *Chain) coreAccess(ch *chip, v uint32) {
	if v&0x80000000 == 0 || v&0x8000 != 0 {
		return
	}
	core, id := v>>16&0x1ff, byte(v>>8&0x1f)
	val := c.coreRegs[coreKey{ch.index, id}]
	r := bm13xx.RegisterReply(ch.addr, bm13xx.RegCoreValue, core<<16|uint32(val), ch.long)
	c.send(r.Encode(), true)
}

// recordCoreWrite keeps the value of a core-register write.
func (c *Chain) recordCoreWrite(ch *chip, v uint32) {
	if v&0x80000000 != 0 && v&0x8000 != 0 {
		c.coreRegs[coreKey{ch.index, byte(v >> 8 & 0x1f)}] = byte(v)
	}
}

// coreKey names one core register of one chip (all cores share it).
type coreKey struct {
	chip int
	id   byte
}

// command applies a host command as the chain would: the frame travels
// from the chip nearest the host downstream; a chip waiting for an address
// (after chain inactive) relays nothing further; a stopped chip relays
// everything and acts on nothing.
func (c *Chain) command(cmd bm13xx.Command) {
	now := c.now()
	if cmd.Op == bm13xx.OpChainInactive {
		for _, ch := range c.chips {
			if !ch.stopped {
				ch.waiting = true
			}
		}
		return
	}
	for _, ch := range c.chips {
		if ch.stopped {
			continue
		}
		switch {
		case cmd.Op == bm13xx.OpSetAddress:
			if ch.waiting {
				ch.addr, ch.waiting = cmd.Addr, false
				c.log.Debug("address taken", "chip", ch.index, "addr", cmd.Addr)
				return
			}
		case cmd.Broadcast || ch.addr == cmd.Addr:
			c.act(ch, cmd, now)
		}
		if ch.waiting {
			return
		}
	}
}

// act applies a read or write that reached chip ch and is meant for it.
func (c *Chain) act(ch *chip, cmd bm13xx.Command, now time.Time) {
	switch cmd.Op {
	case bm13xx.OpRead:
		r := bm13xx.RegisterReply(ch.addr, cmd.Reg, c.readReg(ch, cmd.Reg), ch.long)
		c.send(r.Encode(), true)
	case bm13xx.OpWrite:
		if cmd.Reg == bm13xx.RegCoreControl {
			c.recordCoreWrite(ch, cmd.Value)
		}
		c.writeReg(ch, cmd.Reg, cmd.Value, now)
	}
}

// loadJob hands a job to every chip it reaches. A stopped chip keeps the
// job it is relaying, so that it hashes current work once resumed.
func (c *Chain) loadJob(j bm13xx.Job) {
	w := newWork(c.cfg.Model, j)
	now := c.now()
	for _, ch := range c.chips {
		c.accrue(ch, now)
		ch.job = w
		ch.resetSearch()
		if ch.waiting {
			break
		}
	}
	c.kick()
}
