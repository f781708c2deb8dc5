package emulator

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"math/bits"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// The search-space walk. A chip's slice is what bm13xx.Model.NonceRange
// gives it: for every core below Cores, the nonce words W3 (header bytes
// 76..79 read big-endian) whose chip field lies in [addr, next). The kernel
// scans runs of consecutive nonce values (the same bytes read
// little-endian), and consecutive values differ only in header byte 76, the
// top byte of W3, which holds the core field and, on BM1366+, the top bit
// of the chip field. So the walk fixes the low 24 bits of W3 (a row of the
// chip field's lower bits and a counter) and hashes one run over the top
// byte per step: every core of the chip at once, as the real cores advance
// their counters together.

// row is one value of the chip field's bits below W3's top byte.
type row struct {
	// low is the chip field's bits below the top byte.
	low uint32
	// high has bit h set when chip field (h << lowBits | low) belongs to
	// the chip; h is the chip field's part inside the top byte.
	high uint8
	// tLo and tHi bound the run of top bytes a step scans.
	tLo, tHi uint32
	// width is the number of set bits of high: the chip-field values the
	// row stands for.
	width uint64
}

// slice is a chip's part of the nonce space.
type slice struct {
	addr, next int
	rows       []row
	// e is the number of chip-field bits inside W3's top byte; the core
	// field sits above them.
	e uint
	// counterBits is the width of the counter below the chip field.
	counterBits uint
	cores       uint32
}

// newSlice returns the slice of a chip at addr whose downstream neighbour
// has address next (256 after the last chip), following the layout of
// m.NonceRange: core above an 8-bit chip field above CounterBits of
// counter.
func newSlice(m bm13xx.Model, addr, next int) slice {
	s := slice{addr: addr, next: next, counterBits: m.CounterBits, cores: uint32(m.Cores)}
	s.e = m.CounterBits + 8 - 24
	lowBits := 8 - s.e
	var high [256]uint8
	for cf := addr; cf < next && cf < 256; cf++ {
		high[cf&(1<<lowBits-1)] |= 1 << (cf >> lowBits)
	}
	for low, h := range high {
		if h == 0 {
			continue
		}
		r := row{low: uint32(low), high: h, width: uint64(bits.OnesCount8(h))}
		r.tLo = uint32(bits.TrailingZeros8(h))
		r.tHi = (s.cores-1)<<s.e | uint32(7-bits.LeadingZeros8(h))
		s.rows = append(s.rows, r)
	}
	return s
}

// positions returns the number of steps that cover the slice once.
func (s *slice) positions() uint64 { return uint64(len(s.rows)) << s.counterBits }

// perCore returns the number of nonces each core scans in the slice.
func (s *slice) perCore() uint64 {
	var n uint64
	for _, r := range s.rows {
		n += r.width
	}
	return n << s.counterBits
}

// at returns the row and the low 24 bits of W3 for step position p.
func (s *slice) at(p uint64) (*row, uint32) {
	r := &s.rows[p>>s.counterBits]
	x := r.low<<s.counterBits | uint32(p)&(1<<s.counterBits-1)
	return r, x
}

// owns reports whether the run value v (a nonce value from the kernel)
// belongs to the chip: its top byte names a real core and a chip field of
// the row.
func (s *slice) owns(r *row, v uint32) bool {
	t := v & 0xff
	return t>>s.e < s.cores && r.high&(1<<(t&(1<<s.e-1))) != 0
}

// runStart returns the first nonce value of a row's run for low bits x:
// byte 76 is the top byte of W3, bytes 77..79 are x big-endian.
func runStart(r *row, x uint32) uint32 { return bits.ReverseBytes32(x) | r.tLo }

// work is a job as a chip hashes it: immutable once built.
type work struct {
	id byte
	// header is the BM1366+ header with the base version and a zero
	// nonce; on BM1397 only bytes 64..76 are filled.
	header [80]byte
	// base is the BM1366+ base version.
	base uint32
	// tail is header bytes 64..75 as big-endian words, as kernel.Scan
	// takes them.
	tail [3]uint32
	// mids are the BM1397 job's midstates in use.
	mids [][8]uint32
}

// newWork turns a decoded job into work.
func newWork(m bm13xx.Model, j bm13xx.Job) *work {
	w := &work{id: j.ID, base: j.Version}
	h := &w.header
	binary.LittleEndian.PutUint32(h[0:], j.Version)
	copy(h[4:36], j.PrevHash[:])
	copy(h[36:68], j.MerkleRoot[:])
	binary.LittleEndian.PutUint32(h[68:], j.NTime)
	binary.LittleEndian.PutUint32(h[72:], j.NBits)
	for i := range w.tail {
		w.tail[i] = binary.BigEndian.Uint32(h[64+4*i:])
	}
	if !m.HardwareRolling {
		n := min(max(int(j.NumMidstates), 1), len(j.Midstates), m.SmallCores)
		w.mids = j.Midstates[:n]
	}
	return w
}

// batch is the set of versions a chip hashes at each position: one per
// small core (BM1366+) or one per midstate (BM1397).
type batch struct {
	mids []([8]uint32)
	// fields are the BM1366+ version fields (0 on BM1397 and without
	// rolling); subs the small core or midstate index reported in b7.
	fields []uint16
	subs   []int
}

// rolling describes a chip's version-rolling setting.
type rolling struct {
	on    bool
	field uint16 // mask field: the mask >> 13
}

// fieldCount returns how many version fields the mask allows.
func (r rolling) fieldCount() uint64 {
	if !r.on {
		return 1
	}
	return 1 << bits.OnesCount16(r.field)
}

// batchSize returns how many versions a chip hashes per position.
func batchSize(m bm13xx.Model, w *work, r rolling) int {
	if !m.HardwareRolling {
		return len(w.mids)
	}
	return int(min(uint64(m.SmallCores), r.fieldCount()))
}

// batchCount returns how many batches cover every version of a job.
func batchCount(m bm13xx.Model, r rolling) uint64 {
	if !m.HardwareRolling {
		return 1
	}
	return max(1, r.fieldCount()/uint64(m.SmallCores))
}

// newBatch returns batch number b of a job: on BM1366+ the version fields
// b·SmallCores … spread into the mask (field i goes to small core
// SmallCoreOf(field)); on BM1397 the job's midstates.
func newBatch(m bm13xx.Model, w *work, r rolling, b uint64) batch {
	var out batch
	if !m.HardwareRolling {
		out.mids = w.mids
		out.fields = make([]uint16, len(w.mids))
		out.subs = make([]int, len(w.mids))
		for i := range out.subs {
			out.subs[i] = i
		}
		return out
	}
	n := batchSize(m, w, r)
	count := r.fieldCount()
	h := w.header
	for s := 0; s < n; s++ {
		var field uint16
		if r.on {
			idx := (b*uint64(m.SmallCores) + uint64(s)) % count
			field = uint16(mining.RollVersion(0, uint32(r.field), idx))
		}
		binary.LittleEndian.PutUint32(h[0:], w.base|uint32(field)<<13)
		out.mids = append(out.mids, mining.Midstate(&h))
		out.fields = append(out.fields, field)
		out.subs = append(out.subs, m.SmallCoreOf(field))
	}
	return out
}

// sha256dFromMid returns the SHA-256d of a header given the state after
// its first 64 bytes and its last 16 bytes, by restoring the state into
// crypto/sha256 (the marshalled form mining.Midstate reads). ok is false if
// that form is not accepted.
func sha256dFromMid(mid *[8]uint32, last16 *[16]byte) (hash [32]byte, ok bool) {
	var st [4 + 32 + 64 + 8]byte
	copy(st[:4], "sha\x03")
	for i, w := range mid {
		binary.BigEndian.PutUint32(st[4+4*i:], w)
	}
	binary.BigEndian.PutUint64(st[100:], 64)
	d := sha256.New()
	u, isU := d.(encoding.BinaryUnmarshaler)
	if !isU || u.UnmarshalBinary(st[:]) != nil {
		return hash, false
	}
	d.Write(last16[:])
	var first [32]byte
	d.Sum(first[:0])
	return sha256.Sum256(first[:]), true
}

// lastBlock returns header bytes 64..79 of w with the given nonce bytes.
func (w *work) lastBlock(nonce [4]byte) (b [16]byte) {
	copy(b[:12], w.header[64:76])
	copy(b[12:], nonce[:])
	return b
}

// nonceBytes returns the header bytes of a nonce value.
func nonceBytes(v uint32) (b [4]byte) {
	binary.LittleEndian.PutUint32(b[:], v)
	return b
}
