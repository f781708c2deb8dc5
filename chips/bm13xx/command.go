package bm13xx

import (
	"encoding/binary"
	"fmt"
)

// Register addresses (§3). Registers are 32 bits wide and addressed by one
// byte; values travel big-endian.
const (
	// RegChipID (0x00, read-only): [31:16] chip id, [15:8] core-number
	// byte, [7:0] chip address.
	RegChipID byte = 0x00
	// RegHashRate (0x04): BM1397 hash-rate estimate.
	RegHashRate byte = 0x04
	// RegPLL0 (0x08): hash-clock PLL, see PLL.
	RegPLL0 byte = 0x08
	// RegNonceOffset (0x0C): per-chip nonce offset (stock firmware).
	RegNonceOffset byte = 0x0C
	// RegHCN (0x10): hash counting number, how far a core scans before
	// moving to the next versions (BM1366+), see HCN.
	RegHCN byte = 0x10
	// RegTicketMask (0x14): the difficulty a nonce must meet before the
	// chip reports it, as byte-wise bit-reversed low-bit mask, see
	// TicketMask.
	RegTicketMask byte = 0x14
	// RegMiscControl (0x18): BM1397 baud divider and core soft reset;
	// BM1366+ opaque core-enable values.
	RegMiscControl byte = 0x18
	// RegOrderedClock (0x20): BM1397 ordered clock enable.
	RegOrderedClock byte = 0x20
	// RegFastUART (0x28): BM1366+ baud divider BT8D in [15:8].
	RegFastUART byte = 0x28
	// RegUARTRelay (0x2C): [31:16] gap count, bits 1:0 relay enables.
	RegUARTRelay byte = 0x2C
	// RegCoreControl (0x3C): core-register access, see CoreWrite.
	RegCoreControl byte = 0x3C
	// RegCoreValue (0x40): core-register read value.
	RegCoreValue byte = 0x40
	// RegErrorCounter (0x4C): nonce error counter.
	RegErrorCounter byte = 0x4C
	// RegAnalogMux (0x54): temperature diode / VDD mux select.
	RegAnalogMux byte = 0x54
	// RegIODriver (0x58): IO driver strength nibbles.
	RegIODriver byte = 0x58
	// RegPLL3 (0x68): PLL3 parameter (BM1397 UART clock); BM1368+ chains
	// write a pad-disable pattern there.
	RegPLL3 byte = 0x68
	// RegPLL0Divider (0x70): the four PLL0 output dividers.
	RegPLL0Divider byte = 0x70
	// RegClockOrder0 and RegClockOrder1 (0x80, 0x84): BM1397 clock order.
	RegClockOrder0 byte = 0x80
	RegClockOrder1 byte = 0x84
	// RegHashCounter (0x8C): total hash counter (BM1366+), Δ·2³² hashes.
	RegHashCounter byte = 0x8C
	// RegVersionRolling (0xA4): bit 31 enables hardware version rolling
	// (and 11-byte replies), bit 28 always set, [15:0] mask >> 13.
	RegVersionRolling byte = 0xA4
	// RegA8 (0xA8): soft-reset control, meaning unknown (replayed).
	RegA8 byte = 0xA8
	// RegB9 (0xB9): unknown BM1370 register (replayed).
	RegB9 byte = 0xB9
	// RegSimTicket (0xF0) is a simulation-only extension, not a register
	// of any real chip: a value L ≠ 0 makes the emulator report every nonce
	// whose hash's top 32 bits (of the hash as a little-endian 256-bit
	// integer) are ≤ L, overriding the ticket mask. It is how ticket
	// difficulties below 1 work in simulation; the driver writes it only
	// when the configured chip difficulty is below 1.
	RegSimTicket byte = 0xF0
)

// Op is the command code in bits 3:0 of a command's header byte.
type Op byte

// Command codes (§1.2).
const (
	OpSetAddress    Op = 0
	OpWrite         Op = 1
	OpRead          Op = 2
	OpChainInactive Op = 3
)

// String names the op.
func (o Op) String() string {
	switch o {
	case OpSetAddress:
		return "set-address"
	case OpWrite:
		return "write"
	case OpRead:
		return "read"
	case OpChainInactive:
		return "chain-inactive"
	}
	return fmt.Sprintf("op%d", byte(o))
}

// Header bytes: bit 6:5 type (job 0x20, command 0x40), bit 4 all chips.
const (
	hdrJob       = 0x21
	hdrCommand   = 0x40
	hdrBroadcast = 0x10
)

// Command is a host → chip command frame: set address, register write,
// register read or chain inactive.
type Command struct {
	Op Op
	// Broadcast is header bit 4: the command is for every chip.
	Broadcast bool
	// Addr is the chip address in b4 (0 for broadcast frames).
	Addr byte
	// Reg is the register address in b5.
	Reg byte
	// Value is the written value (OpWrite only), big-endian on the wire.
	Value uint32
}

// SetAddress returns the command that gives the first unaddressed chip
// address a.
func SetAddress(a byte) Command { return Command{Op: OpSetAddress, Addr: a} }

// ChainInactive returns the broadcast that stops every chip relaying
// commands until it is given an address.
func ChainInactive() Command { return Command{Op: OpChainInactive, Broadcast: true} }

// WriteAll returns a broadcast write of value v to register reg.
func WriteAll(reg byte, v uint32) Command {
	return Command{Op: OpWrite, Broadcast: true, Reg: reg, Value: v}
}

// WriteChip returns a write of v to register reg of the chip at addr.
func WriteChip(addr, reg byte, v uint32) Command {
	return Command{Op: OpWrite, Addr: addr, Reg: reg, Value: v}
}

// ReadAll returns a broadcast read of register reg: every chip answers.
func ReadAll(reg byte) Command { return Command{Op: OpRead, Broadcast: true, Reg: reg} }

// ReadChip returns a read of register reg of the chip at addr.
func ReadChip(addr, reg byte) Command { return Command{Op: OpRead, Addr: addr, Reg: reg} }

// CoreWrite returns the RegCoreControl value that writes val to core
// register id of core core (§3.1).
func CoreWrite(core int, id, val byte) uint32 {
	return 0x80000000 | uint32(core&0x1ff)<<16 | 0x8000 | uint32(id&0x1f)<<8 | uint32(val)
}

// header returns the frame's header byte.
func (c Command) header() byte {
	h := byte(hdrCommand) | byte(c.Op)&0x0f
	if c.Broadcast {
		h |= hdrBroadcast
	}
	return h
}

// Encode returns the whole frame: preamble 55 AA, header, length, payload
// and CRC5 in the low bits of the last byte. Writes are 11 bytes, the other
// commands 7.
func (c Command) Encode() []byte {
	return c.AppendEncode(make([]byte, 0, 11))
}

// AppendEncode appends the encoded frame to b.
func (c Command) AppendEncode(b []byte) []byte {
	start := len(b)
	b = append(b, 0x55, 0xaa, c.header(), 5, c.Addr, c.Reg)
	if c.Op == OpWrite {
		b[start+3] = 9
		b = binary.BigEndian.AppendUint32(b, c.Value)
	}
	return append(b, CRC5(b[start+2:]))
}

// String renders the command for logs and test failures.
func (c Command) String() string {
	to := fmt.Sprintf("chip %02x", c.Addr)
	if c.Broadcast {
		to = "all"
	}
	switch c.Op {
	case OpWrite:
		return fmt.Sprintf("write %s reg %02x = %08x", to, c.Reg, c.Value)
	case OpRead:
		return fmt.Sprintf("read %s reg %02x", to, c.Reg)
	case OpSetAddress:
		return fmt.Sprintf("set-address %02x", c.Addr)
	}
	return fmt.Sprintf("%s %s", c.Op, to)
}

// commandLen returns the frame length a command header announces, or 0 when
// the header and length byte are not a valid command.
func commandLen(header, length byte) int {
	if header&0xe0 != hdrCommand || header&0x0f > byte(OpChainInactive) {
		return 0
	}
	want := byte(5)
	if Op(header&0x0f) == OpWrite {
		want = 9
	}
	if length != want {
		return 0
	}
	return int(length) + 2
}

// DecodeCommand parses one whole command frame and checks its CRC5 by
// recomputing it (the residue trick does not work on commands, §1.3).
func DecodeCommand(frame []byte) (Command, error) {
	if len(frame) < 4 || frame[0] != 0x55 || frame[1] != 0xaa {
		return Command{}, fmt.Errorf("bm13xx: command % x: bad preamble: %w", head(frame), ErrFrame)
	}
	n := commandLen(frame[2], frame[3])
	if n == 0 || len(frame) != n {
		return Command{}, fmt.Errorf("bm13xx: command % x: bad header, length or size %d: %w", head(frame), len(frame), ErrFrame)
	}
	if got, want := frame[n-1], CRC5(frame[2:n-1]); got != want {
		return Command{}, fmt.Errorf("bm13xx: command % x: crc %02x, want %02x: %w", head(frame), got, want, ErrCRC)
	}
	c := Command{
		Op:        Op(frame[2] & 0x0f),
		Broadcast: frame[2]&hdrBroadcast != 0,
		Addr:      frame[4],
		Reg:       frame[5],
	}
	if c.Op == OpWrite {
		c.Value = binary.BigEndian.Uint32(frame[6:10])
	}
	return c, nil
}

// head returns at most the first 12 bytes of b, for error messages.
func head(b []byte) []byte { return b[:min(len(b), 12)] }
