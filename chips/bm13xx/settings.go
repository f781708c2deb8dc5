package bm13xx

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

// TicketMask returns the RegTicketMask value for chip difficulty d (§3.2):
// m = 2^k − 1 with k = floor(log2 d), split into four bytes big-endian and
// each byte bit-reversed. D = 256 gives 000000FF, 512 gives 000080FF.
// Difficulties below 1 give the mask of difficulty 1 (0); simulation goes
// lower with RegSimTicket.
func TicketMask(d float64) uint32 {
	k := 0
	if d >= 1 {
		k = min(int(math.Floor(math.Log2(d))), 32)
	}
	m := uint32(uint64(1)<<k - 1)
	return reverseBytesBits(m)
}

// reverseBytesBits bit-reverses each byte of v in place.
func reverseBytesBits(v uint32) uint32 {
	return uint32(bits.Reverse8(byte(v>>24)))<<24 | uint32(bits.Reverse8(byte(v>>16)))<<16 |
		uint32(bits.Reverse8(byte(v>>8)))<<8 | uint32(bits.Reverse8(byte(v)))
}

// ticketBits returns k for a ticket mask: the number of extra leading zero
// bits (beyond 32) a reported hash has, the width of the low-bit mask.
func ticketBits(mask uint32) int { return bits.Len32(reverseBytesBits(mask)) }

// TicketDifficulty returns the chip difficulty a ticket mask stands for,
// the inverse of TicketMask: 2^k for a mask of k low bits.
func TicketDifficulty(mask uint32) float64 {
	return float64(uint64(reverseBytesBits(mask)) + 1)
}

// TicketTarget returns the exact target the chips promise under a ticket
// mask of k low bits: every reported hash has at least 32 + k leading zero
// bits (in display order), i.e. is at most 2^(224−k) − 1. It is slightly
// above TargetFromDifficulty(2^k), whose definition uses 0xFFFF·2^208 for
// difficulty 1.
func TicketTarget(mask uint32) mining.Target {
	return leadingZerosTarget(32 + ticketBits(mask))
}

// leadingZerosTarget returns the target whose first z bits are zero and all
// others one.
func leadingZerosTarget(z int) mining.Target {
	var t mining.Target
	for i := range t {
		switch {
		case 8*(i+1) <= z:
			t[i] = 0
		case 8*i >= z:
			t[i] = 0xff
		default:
			t[i] = 0xff >> uint(z-8*i)
		}
	}
	return t
}

// SimTicketLimit returns the RegSimTicket value for a chip difficulty below
// 1: the top 32 bits of mining.TargetFromDifficulty(d). It is 0 (the
// extension off) for d ≥ 1, where the ticket mask is exact, and for
// invalid d.
func SimTicketLimit(d float64) uint32 {
	t, err := mining.TargetFromDifficulty(d)
	if err != nil {
		return 0
	}
	return t.Top32()
}

// ChipTarget returns the exact target chips configured for difficulty d
// report at: the sim-ticket limit's target below difficulty 1 (when the
// limit is non-zero), the ticket mask's otherwise.
func ChipTarget(d float64) mining.Target {
	if d < 1 {
		if l := SimTicketLimit(d); l != 0 {
			return mining.TargetFromTop32(l)
		}
	}
	return TicketTarget(TicketMask(d))
}

// PLL returns the RegPLL0 value that brings the hash clock closest to mhz,
// the frequency it gives, or an error wrapping ErrRange when no divider
// setting comes within 1 %.
//
// The search follows open firmware (§5.2): REFDIV 2 then 1, post dividers
// 7 ≥ P1 > P2 ≥ 1, FBDIV = round(f·REFDIV·P1·P2/25) within the model's range;
// the smallest error wins, then the lowest VCO, then the smallest P1·P2.
// Word layout: [30] enable, [28] VCO ≥ 2400 MHz (BM1366+), [27:16] FBDIV,
// [13:8] REFDIV, [6:4] and [2:0] post dividers (minus one on BM1366+).
func PLL(m Model, mhz float64) (reg uint32, actualMHz float64, err error) {
	if !(mhz > 0) || math.IsInf(mhz, 0) {
		return 0, 0, fmt.Errorf("bm13xx: %s PLL for %v MHz: %w", m.Name, mhz, ErrRange)
	}
	type cand struct {
		fb, ref, p1, p2 int
		f, err, vco     float64
	}
	var best *cand
	better := func(c *cand) bool {
		const eps = 1e-9
		switch {
		case best == nil:
			return true
		case math.Abs(c.err-best.err) > eps:
			return c.err < best.err
		case math.Abs(c.vco-best.vco) > eps:
			return c.vco < best.vco
		}
		return c.p1*c.p2 < best.p1*best.p2
	}
	for _, ref := range []int{2, 1} {
		for p1 := 1; p1 <= 7; p1++ {
			for p2 := 1; p2 < p1; p2++ {
				fb := int(math.Round(mhz * float64(ref*p1*p2) / 25))
				if fb < m.FBDivMin || fb > m.FBDivMax {
					continue
				}
				f := 25 * float64(fb) / float64(ref*p1*p2)
				c := &cand{fb: fb, ref: ref, p1: p1, p2: p2, f: f, err: math.Abs(f - mhz), vco: 25 * float64(fb) / float64(ref)}
				if better(c) {
					best = c
				}
			}
		}
	}
	if best == nil || best.err > mhz/100 {
		return 0, 0, fmt.Errorf("bm13xx: %s PLL for %v MHz: %w", m.Name, mhz, ErrRange)
	}
	p1f, p2f := best.p1, best.p2
	top := uint32(0x40)
	if m.PostDivMinusOne {
		p1f, p2f = p1f-1, p2f-1
		if best.vco >= 2400 {
			top |= 0x10
		}
	}
	reg = top<<24 | uint32(best.fb)<<16 | uint32(best.ref)<<8 | uint32(p1f)<<4 | uint32(p2f)
	return reg, best.f, nil
}

// PLLFrequency returns the hash clock in MHz a RegPLL0 value gives, 0 when
// a divider is zero.
func PLLFrequency(m Model, reg uint32) float64 {
	fb := float64(reg >> 16 & 0xfff)
	ref := float64(reg >> 8 & 0x3f)
	p1, p2 := float64(reg>>4&7), float64(reg&7)
	if m.PostDivMinusOne {
		p1, p2 = p1+1, p2+1
	}
	if ref == 0 || p1 == 0 || p2 == 0 {
		return 0
	}
	return 25 * fb / (ref * p1 * p2)
}

// VersionRollingReg returns the RegVersionRolling value for a BIP 310
// version mask: 0x90000000 | (mask >> 13) & 0xFFFF (enable, always-set bit,
// mask field). Mask 1FFFE000 gives 9000FFFF.
func VersionRollingReg(mask uint32) uint32 { return 0x90000000 | (mask>>13)&0xffff }

// VersionMaskOf returns the version mask a RegVersionRolling value enables,
// 0 when rolling is off.
func VersionMaskOf(reg uint32) uint32 {
	if reg&0x80000000 == 0 {
		return 0
	}
	return (reg & 0xffff) << 13
}

// HCN returns the RegHCN value open firmware writes for a chain of chips at
// mhz (§8): floor(2³² / next_pow2(cores) / next_pow2(chips) · 25 / mhz / 2),
// less the model's guard. It is 0 for BM1397, which has no such register.
func HCN(m Model, chips int, mhz float64) uint32 {
	if !m.HardwareRolling || !(mhz > 0) || chips < 1 {
		return 0
	}
	slice := float64(uint64(1)<<32) / float64(nextPow2(m.Cores)) / float64(nextPow2(chips))
	v := math.Floor(slice * 25 / mhz * 0.5)
	if v <= float64(m.HCNGuard) {
		return 0
	}
	return uint32(min(v, math.MaxUint32)) - m.HCNGuard
}

// uartBase is the chips' UART clock (25 MHz CLKI) divided by 8.
const uartBase = 3125000

// FastUARTReg returns the register write that moves the chips to baud
// (§4.4): BM1366+ register 0x28 with BT8D in [15:8] (1 Mbaud → 11300200),
// BM1397 register 0x18 with BT8D split over [12:8] and [27:24]
// (3.125 Mbaud → 00006031). The chips run at 3 125 000 / (BT8D+1); it is an
// error wrapping ErrRange when that is more than 5 % from baud.
func FastUARTReg(m Model, baud hal.Baud) (reg byte, value uint32, err error) {
	if baud == 0 || baud > uartBase {
		return 0, 0, fmt.Errorf("bm13xx: %s baud %d: %w", m.Name, baud, ErrRange)
	}
	bt := int(math.Round(float64(uartBase)/float64(baud))) - 1
	chip := float64(uartBase) / float64(bt+1)
	if math.Abs(chip-float64(baud)) > 0.05*float64(baud) {
		return 0, 0, fmt.Errorf("bm13xx: %s baud %d: nearest chip rate %.0f: %w", m.Name, baud, chip, ErrRange)
	}
	if m.HardwareRolling {
		if bt > 0xff {
			return 0, 0, fmt.Errorf("bm13xx: %s baud %d: %w", m.Name, baud, ErrRange)
		}
		return RegFastUART, 0x11300000 | uint32(bt)<<8, nil
	}
	if bt > 0x1ff {
		return 0, 0, fmt.Errorf("bm13xx: %s baud %d: %w", m.Name, baud, ErrRange)
	}
	return RegMiscControl, 0x00006031 | uint32(bt&0x1f)<<8 | uint32(bt>>5)<<24, nil
}

// UARTBaud returns the chip line rate a register write sets, and false when
// the write does not set it (another register, or a UART clock taken from a
// PLL, which this package does not model).
func UARTBaud(m Model, reg byte, v uint32) (hal.Baud, bool) {
	var bt uint32
	switch {
	case m.HardwareRolling && reg == RegFastUART:
		if v>>26&3 != 0 {
			return 0, false
		}
		bt = v >> 8 & 0xff
	case !m.HardwareRolling && reg == RegMiscControl:
		if v&(1<<16) != 0 {
			return 0, false
		}
		bt = v>>8&0x1f | (v>>24&0xf)<<5
	default:
		return 0, false
	}
	return hal.Baud(uartBase / (bt + 1)), true
}
