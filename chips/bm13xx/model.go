package bm13xx

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/kilnfw/kiln/hal"
)

// Model describes one chip family: its identification word, how many
// hashing units it has, how it packs job ids and nonces, and the limits of
// its clock generator. The four values BM1397, BM1366, BM1368 and BM1370 are
// the only models; a Model is a comparable value.
type Model struct {
	// Name is the part number, "BM1366".
	Name string
	// ID is the chip id in bits 31:16 of register 0x00.
	ID uint16
	// CoreByte is b4 of the chip-id reply: 0x18 on BM1397, 0 on BM1366+.
	CoreByte byte
	// Cores is the number of big cores; the nonce's core field is below it.
	Cores int
	// SmallCores is the number of small cores per big core. On BM1366+
	// small core s rolls only version fields whose low bits equal s; on
	// BM1397 it is the number of midstate slots (the midstate index sits
	// where the small-core id does).
	SmallCores int
	// HashingSmallCores is the number of small cores that hash, the factor
	// of the expected hash rate f·HashingSmallCores per chip.
	HashingSmallCores int
	// HardwareRolling is true when the chip rolls version bits itself
	// (register 0xA4, full-header jobs, 11-byte replies): BM1366+.
	HardwareRolling bool
	// DefaultMHz is the open-firmware default hash clock.
	DefaultMHz float64
	// DefaultFastBaud is the open-firmware line rate after the switch.
	DefaultFastBaud hal.Baud
	// JobIDStep is the open-firmware job-id increment (§6.3): ids stay
	// below 128 and step so that every slot is visited.
	JobIDStep byte
	// JobIDShift is how far the job id is shifted left in reply byte b7
	// before the small-core bits are put in its low bits.
	JobIDShift uint
	// CounterBits is the width of the nonce counter below the chip field
	// in W3 (the nonce bytes read big-endian); the core field sits above
	// the 8-bit chip field.
	CounterBits uint
	// FBDivMin and FBDivMax bound the PLL feedback divider the frequency
	// search may use.
	FBDivMin, FBDivMax int
	// PostDivMinusOne is true when the PLL post-divider fields hold the
	// divider minus one (BM1366+), false when they hold the divider.
	PostDivMinusOne bool
	// HCNGuard is subtracted from the open-firmware HCN (BM1370: 268,
	// "2 × 134" hardware erratum).
	HCNGuard uint32
	// JobPeriod is the job period of a one-chip chain, divided by the chain
	// length rounded up to a power of two; 0 means the period is the time
	// one core takes to sweep its nonce slice (BM1397).
	JobPeriod time.Duration
}

// The supported chip models (§9 of the protocol notes).
var (
	BM1397 = Model{
		Name: "BM1397", ID: 0x1397, CoreByte: 0x18, Cores: 168, SmallCores: 4,
		HashingSmallCores: 672, DefaultMHz: 425, DefaultFastBaud: hal.Baud3125K,
		JobIDStep: 4, CounterBits: 16, FBDivMin: 60, FBDivMax: 200,
	}
	BM1366 = Model{
		Name: "BM1366", ID: 0x1366, Cores: 112, SmallCores: 8,
		HashingSmallCores: 894, HardwareRolling: true, DefaultMHz: 485,
		DefaultFastBaud: hal.Baud1M, JobIDStep: 8, CounterBits: 17,
		FBDivMin: 144, FBDivMax: 235, PostDivMinusOne: true, JobPeriod: 2 * time.Second,
	}
	BM1368 = Model{
		Name: "BM1368", ID: 0x1368, Cores: 80, SmallCores: 16,
		HashingSmallCores: 1276, HardwareRolling: true, DefaultMHz: 490,
		DefaultFastBaud: hal.Baud1M, JobIDStep: 24, JobIDShift: 1, CounterBits: 17,
		FBDivMin: 144, FBDivMax: 235, PostDivMinusOne: true, JobPeriod: 500 * time.Millisecond,
	}
	BM1370 = Model{
		Name: "BM1370", ID: 0x1370, Cores: 128, SmallCores: 16,
		HashingSmallCores: 2040, HardwareRolling: true, DefaultMHz: 525,
		DefaultFastBaud: hal.Baud1M, JobIDStep: 24, JobIDShift: 1, CounterBits: 17,
		FBDivMin: 160, FBDivMax: 239, PostDivMinusOne: true, HCNGuard: 268,
		JobPeriod: 500 * time.Millisecond,
	}
)

// Models lists every supported model.
func Models() []Model { return []Model{BM1397, BM1366, BM1368, BM1370} }

// ModelByName returns the model with the given part number, ignoring case
// ("bm1366").
func ModelByName(name string) (Model, error) {
	for _, m := range Models() {
		if strings.EqualFold(m.Name, strings.TrimSpace(name)) {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("bm13xx: model %q: %w", name, ErrModel)
}

// ModelByID returns the model whose chip-id word carries id (0x1366).
func ModelByID(id uint16) (Model, error) {
	for _, m := range Models() {
		if m.ID == id {
			return m, nil
		}
	}
	return Model{}, fmt.Errorf("bm13xx: chip id %04x: %w", id, ErrModel)
}

// String returns the part number.
func (m Model) String() string { return m.Name }

// LongReplies reports whether the chips answer in 11-byte frames once
// version rolling is enabled (BM1366+).
func (m Model) LongReplies() bool { return m.HardwareRolling }

// smallCoreBits is the width of the small-core (or midstate) field in b7.
func (m Model) smallCoreBits() uint { return uint(bits.TrailingZeros(uint(m.SmallCores))) }

// NextJobID returns the job id that follows id in the open-firmware
// sequence (§6.3): BM1397 +4, BM1366 +8, BM1368/BM1370 +24, modulo 128.
func (m Model) NextJobID(id byte) byte { return (id + m.JobIDStep) & 0x7f }

// JobSlots returns how many distinct job ids the sequence visits: a job's
// id is reused, and its late nonces become stale, after that many jobs.
func (m Model) JobSlots() int {
	seen := map[byte]bool{}
	for id := byte(0); !seen[id]; id = m.NextJobID(id) {
		seen[id] = true
	}
	return len(seen)
}

// JobByte returns reply byte b7 for a nonce of job id found by small core
// (BM1366+) or for midstate index sub (BM1397).
func (m Model) JobByte(id byte, sub int) byte {
	mask := byte(1)<<m.smallCoreBits() - 1
	return (id<<m.JobIDShift)&^mask | byte(sub)&mask
}

// JobInterval returns the open-firmware period between jobs for a chain of
// chips at mhz (§6.3).
func (m Model) JobInterval(chips int, mhz float64) time.Duration {
	n := nextPow2(max(chips, 1))
	if m.JobPeriod > 0 {
		return m.JobPeriod / time.Duration(n)
	}
	if !(mhz > 0) {
		mhz = m.DefaultMHz
	}
	nonces := float64(uint64(1)<<32/256) / float64(n)
	return time.Duration(nonces / (mhz * 1e6) * float64(time.Second))
}

// Nonce is a decoded nonce response.
type Nonce struct {
	// JobID is the id of the job the nonce belongs to.
	JobID byte
	// SubIndex is the midstate index on BM1397 and the small core on
	// BM1366+.
	SubIndex int
	// VersionBits is the rolled version field shifted into place
	// (u16be(b8..b9) << 13) on BM1366+; 0 on BM1397, whose version comes
	// from the midstate index.
	VersionBits uint32
	// VersionField is the raw 16-bit version field (BM1366+).
	VersionField uint16
	// Bytes are the nonce bytes exactly as they go into header[76:80].
	Bytes [4]byte
	// Value is the nonce value: Bytes read little-endian, the number
	// mining.Result.Nonce and Stratum submit take.
	Value uint32
	// Core and ChipField are the core and chip fields of W3 under the
	// model's nonce layout (see NonceRange).
	Core, ChipField int
}

// W3 returns the nonce bytes read big-endian, the word SHA-256 consumes.
func (n Nonce) W3() uint32 {
	return uint32(n.Bytes[0])<<24 | uint32(n.Bytes[1])<<16 | uint32(n.Bytes[2])<<8 | uint32(n.Bytes[3])
}

// DecodeNonce unpacks a nonce response (§7.1): job id and small core (or
// midstate index) from b7, the version field from b8..b9, and the core and
// chip fields from the nonce word.
func (m Model) DecodeNonce(r Response) Nonce {
	mask := byte(1)<<m.smallCoreBits() - 1
	n := Nonce{
		JobID:    (r.B7 &^ mask) >> m.JobIDShift,
		SubIndex: int(r.B7 & mask),
		Bytes:    r.Data,
		Value:    uint32(r.Data[0]) | uint32(r.Data[1])<<8 | uint32(r.Data[2])<<16 | uint32(r.Data[3])<<24,
	}
	if m.HardwareRolling {
		n.VersionField = r.Version
		n.VersionBits = uint32(r.Version) << 13
	}
	w3 := n.W3()
	n.ChipField = int(w3>>m.CounterBits) & 0xff
	n.Core = int(w3 >> (m.CounterBits + 8))
	return n
}

// EncodeNonce builds the nonce response a chip of this model sends for the
// given job id, small core (or midstate index), nonce bytes and version
// field: what an emulated chip writes.
func (m Model) EncodeNonce(jobID byte, sub int, nonce [4]byte, versionField uint16) Response {
	return Response{
		Nonce:   true,
		Data:    nonce,
		B7:      m.JobByte(jobID, sub),
		Version: versionField,
		Long:    m.HardwareRolling,
	}
}

// NonceRange returns the inclusive bounds of the nonce words (W3) that core
// of a chip at address addr scans when the next chip on the chain has
// address next (256 after the last chip).
//
// The search-space model shared by driver and emulator: BM1366+ puts the
// core in W3[31:25], the chip field in W3[24:17] and a counter in W3[16:0];
// BM1397 (layout unconfirmed on hardware) uses W3[31:24], W3[23:16] and
// W3[15:0]. A chip scans chip-field values [addr, next), every counter
// value, for every core below Cores. On BM1366+ small core s produces only
// version fields whose low bits equal s (SmallCoreOf).
func (m Model) NonceRange(addr, next int, core int) (lo, hi uint32) {
	c := uint32(core) << (m.CounterBits + 8)
	lo = c | uint32(addr)<<m.CounterBits
	hi = c | (uint32(next)<<m.CounterBits - 1)
	return lo, hi
}

// SmallCoreOf returns the small core that produces a version field (BM1366+)
// or handles a midstate index (BM1397): its low bits.
func (m Model) SmallCoreOf(versionField uint16) int {
	return int(versionField) & (m.SmallCores - 1)
}

// AddressInterval returns the address step for a chain of chips:
// 256 / next_pow2(chips), as stock firmware does (§14.2), so that every chip
// owns whole address bits. It returns 0 for fewer than 1 or more than 256
// chips.
func AddressInterval(chips int) int {
	if chips < 1 || chips > 256 {
		return 0
	}
	return 256 / nextPow2(chips)
}

// Addresses returns the chip addresses i·AddressInterval(chips) for
// i = 0 … chips−1, in chain order (nearest the host first); nil when the
// count is out of range.
func Addresses(chips int) []byte {
	step := AddressInterval(chips)
	if step == 0 {
		return nil
	}
	a := make([]byte, chips)
	for i := range a {
		a[i] = byte(i * step)
	}
	return a
}

// ChipIndex returns the index of the chip on a chain of chips whose slice
// holds chip field (or address) field: field / interval, the last chip also
// taking the unclaimed fields above it. It returns -1 for a bad chip count.
func ChipIndex(field, chips int) int {
	step := AddressInterval(chips)
	if step == 0 || field < 0 {
		return -1
	}
	return min(field/step, chips-1)
}

// nextPow2 returns the smallest power of two ≥ n (n ≥ 1).
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
