package bm13xx

import (
	"encoding/binary"
	"fmt"
)

// Job sizes.
const (
	// headerJobLen is the size of a BM1366+ full-header job frame.
	headerJobLen = 88
	// headerJobLenByte is the length byte open firmware sends with it.
	headerJobLenByte = 0x56
	// midstateJobBase is the BM1397 length byte without midstates.
	midstateJobBase = 22
	// MaxMidstates is the most midstates a BM1397 job carries.
	MaxMidstates = 4
)

// Job is a job packet's content as header values; EncodeJob does every
// byte-order conversion (§6).
type Job struct {
	// ID is the job id (§6.3, Model.NextJobID).
	ID byte
	// NumMidstates is b5: on BM1397 how many midstates to use (1–4); on
	// BM1366+ open firmware writes 1.
	NumMidstates byte
	// StartNonce is the starting nonce value, sent in header[76:80] byte
	// order (little-endian); open firmware sends 0.
	StartNonce uint32
	// NBits and NTime are the header fields.
	NBits, NTime uint32
	// Version is the base header version (BM1366+; the chip ORs its rolled
	// bits in).
	Version uint32
	// MerkleRoot is the merkle root in internal (header) order. BM1397
	// jobs carry only its last four bytes.
	MerkleRoot [32]byte
	// PrevHash is the previous block hash in internal order (BM1366+).
	PrevHash [32]byte
	// Midstates are the SHA-256 states H0..H7 after header[0:64], one per
	// rolled version (BM1397), in mining.Midstate form.
	Midstates [][8]uint32
}

// EncodeJob returns the job frame for chips of model m: 88 bytes in the
// full-header format for BM1366+ (length byte 0x56), 24 + 32·n bytes in the
// midstate format for BM1397 with n = len(j.Midstates).
func EncodeJob(m Model, j Job) []byte {
	if m.HardwareRolling {
		return appendHeaderJob(make([]byte, 0, headerJobLen), j)
	}
	return appendMidstateJob(make([]byte, 0, 2+midstateJobBase+32*len(j.Midstates)+2), j)
}

// appendHeaderJob appends a BM1366+ job frame (§6.2).
func appendHeaderJob(b []byte, j Job) []byte {
	start := len(b)
	b = append(b, 0x55, 0xaa, hdrJob, headerJobLenByte, j.ID, j.NumMidstates)
	b = binary.LittleEndian.AppendUint32(b, j.StartNonce)
	b = binary.LittleEndian.AppendUint32(b, j.NBits)
	b = binary.LittleEndian.AppendUint32(b, j.NTime)
	b = appendWordsReversed(b, &j.MerkleRoot)
	b = appendWordsReversed(b, &j.PrevHash)
	b = binary.LittleEndian.AppendUint32(b, j.Version)
	return binary.BigEndian.AppendUint16(b, CRC16(b[start+2:]))
}

// appendMidstateJob appends a BM1397 job frame (§6.1).
func appendMidstateJob(b []byte, j Job) []byte {
	start := len(b)
	b = append(b, 0x55, 0xaa, hdrJob, byte(midstateJobBase+32*len(j.Midstates)), j.ID, j.NumMidstates)
	b = binary.LittleEndian.AppendUint32(b, j.StartNonce)
	b = binary.LittleEndian.AppendUint32(b, j.NBits)
	b = binary.LittleEndian.AppendUint32(b, j.NTime)
	b = append(b, j.MerkleRoot[28:32]...)
	for _, ms := range j.Midstates {
		for k := 7; k >= 0; k-- { // last state word first, each big-endian
			b = binary.BigEndian.AppendUint32(b, ms[k])
		}
	}
	return binary.BigEndian.AppendUint16(b, CRC16(b[start+2:]))
}

// appendWordsReversed appends h with the order of its 4-byte groups
// reversed and each group's bytes kept (wrev in the protocol notes).
func appendWordsReversed(b []byte, h *[32]byte) []byte {
	for k := 28; k >= 0; k -= 4 {
		b = append(b, h[k:k+4]...)
	}
	return b
}

// wordsReversed is the inverse of appendWordsReversed.
func wordsReversed(src []byte) (h [32]byte) {
	for k := 0; k < 32; k += 4 {
		copy(h[28-k:32-k], src[k:k+4])
	}
	return h
}

// jobLen returns the frame length of a job whose length byte is lb, or 0
// when lb is not valid for the model: BM1366+ frames are always 88 bytes
// whatever the length byte says; BM1397 frames carry 1–4 midstates.
func jobLen(m Model, lb byte) int {
	if m.HardwareRolling {
		return headerJobLen
	}
	n := int(lb) - midstateJobBase
	if n < 32 || n > 32*MaxMidstates || n%32 != 0 {
		return 0
	}
	return int(lb) + 2
}

// DecodeJob parses one whole job frame for model m and checks its CRC16. A
// BM1366+ frame is 88 bytes whatever its length byte; a BM1397 frame's size
// comes from its length byte.
func DecodeJob(m Model, frame []byte) (Job, error) {
	if len(frame) < 4 || frame[0] != 0x55 || frame[1] != 0xaa || frame[2] != hdrJob {
		return Job{}, fmt.Errorf("bm13xx: job % x: bad preamble or header: %w", head(frame), ErrFrame)
	}
	n := jobLen(m, frame[3])
	if n == 0 || len(frame) != n {
		return Job{}, fmt.Errorf("bm13xx: %s job: length byte %02x, size %d: %w", m.Name, frame[3], len(frame), ErrFrame)
	}
	if got, want := binary.BigEndian.Uint16(frame[n-2:]), CRC16(frame[2:n-2]); got != want {
		return Job{}, fmt.Errorf("bm13xx: %s job: crc %04x, want %04x: %w", m.Name, got, want, ErrCRC)
	}
	j := Job{
		ID:           frame[4],
		NumMidstates: frame[5],
		StartNonce:   binary.LittleEndian.Uint32(frame[6:]),
		NBits:        binary.LittleEndian.Uint32(frame[10:]),
		NTime:        binary.LittleEndian.Uint32(frame[14:]),
	}
	if m.HardwareRolling {
		j.MerkleRoot = wordsReversed(frame[18:50])
		j.PrevHash = wordsReversed(frame[50:82])
		j.Version = binary.LittleEndian.Uint32(frame[82:])
		return j, nil
	}
	copy(j.MerkleRoot[28:], frame[18:22])
	for p := 22; p < n-2; p += 32 {
		var ms [8]uint32
		for k := range ms {
			ms[7-k] = binary.BigEndian.Uint32(frame[p+4*k:])
		}
		j.Midstates = append(j.Midstates, ms)
	}
	return j, nil
}
