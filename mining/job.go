package mining

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Job is one mining.notify together with the session context it must be
// mined in: the extranonce1 and extranonce2 size from the subscription, the
// version-rolling mask and the share difficulty in force when it arrived.
// A Job is immutable once handed to a Dispatcher.
type Job struct {
	// ID is the pool's job_id, echoed verbatim on submit.
	ID string
	// PrevHash is the previous block hash in internal byte order.
	PrevHash [32]byte
	// Coinb1 and Coinb2 are the coinbase bytes before and after the
	// extranonce slot.
	Coinb1, Coinb2 []byte
	// Branches are the merkle siblings, internal order, leaf level first.
	Branches [][32]byte
	// Version, NBits and NTime are the header fields as integers.
	Version, NBits, NTime uint32
	// Clean is the notify's clean_jobs flag: earlier jobs are void.
	Clean bool

	// Extranonce1 is the pool-assigned coinbase prefix for this session.
	Extranonce1 []byte
	// Extranonce2Size is the number of extranonce2 bytes the miner rolls.
	Extranonce2Size int
	// VersionMask is the negotiated BIP 310 mask; 0 disables rolling.
	VersionMask uint32
	// Algo is the proof-of-work algorithm of the pool that issued the job;
	// the zero value is SHA256d.
	Algo Algorithm
	// Difficulty is the share difficulty that applies to this job.
	Difficulty float64
	// ShareTarget is Algo.TargetFromDifficulty(Difficulty).
	ShareTarget Target

	// Pool is the index of the pool that issued the job and Session the
	// connection it arrived on; shares go back to exactly that connection.
	Pool    int
	Session uint64
	// Received is when the job arrived; ntime rolls forward from it.
	Received time.Time
}

// Sha256d returns SHA256(SHA256(b)) in internal byte order.
func Sha256d(b []byte) [32]byte {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// Coinbase assembles coinb1 ‖ extranonce1 ‖ extranonce2 ‖ coinb2.
func (j *Job) Coinbase(en2 []byte) []byte {
	cb := make([]byte, 0, len(j.Coinb1)+len(j.Extranonce1)+len(en2)+len(j.Coinb2))
	cb = append(cb, j.Coinb1...)
	cb = append(cb, j.Extranonce1...)
	cb = append(cb, en2...)
	return append(cb, j.Coinb2...)
}

// MerkleRoot returns the merkle root (internal order) for one extranonce2.
func (j *Job) MerkleRoot(en2 []byte) [32]byte {
	return MerkleRoot(Sha256d(j.Coinbase(en2)), j.Branches)
}

// MerkleRoot folds a coinbase hash up a merkle branch; the running value is
// always the left half.
func MerkleRoot(coinbase [32]byte, branches [][32]byte) [32]byte {
	var buf [64]byte
	root := coinbase
	for i := range branches {
		copy(buf[:32], root[:])
		copy(buf[32:], branches[i][:])
		root = Sha256d(buf[:])
	}
	return root
}

// Header returns the 80-byte block header for the given merkle root, version,
// ntime and nonce.
func (j *Job) Header(root [32]byte, version, ntime, nonce uint32) [80]byte {
	var h [80]byte
	binary.LittleEndian.PutUint32(h[0:], version)
	copy(h[4:36], j.PrevHash[:])
	copy(h[36:68], root[:])
	binary.LittleEndian.PutUint32(h[68:], ntime)
	binary.LittleEndian.PutUint32(h[72:], j.NBits)
	binary.LittleEndian.PutUint32(h[76:], nonce)
	return h
}

// RollVersion places the low bits of index into the set bits of mask (lowest
// mask bit first) over the job version: (version &^ mask) | spread(index).
func RollVersion(version, mask uint32, index uint64) uint32 {
	v := version &^ mask
	for bit := uint32(1); bit != 0 && index != 0; bit <<= 1 {
		if mask&bit != 0 {
			if index&1 != 0 {
				v |= bit
			}
			index >>= 1
		}
	}
	return v
}

// Midstate returns the SHA-256 state words H0..H7 after compressing the first
// 64 bytes of header: fixed per (job, extranonce2, version), so hashing units
// only compress the last 16 bytes and the outer hash per nonce.
func Midstate(header *[80]byte) [8]uint32 {
	d := sha256.New()
	d.Write(header[:64])
	// The marshalled form is "sha\x03", then H0..H7 big-endian: a format the
	// standard library keeps stable so saved digests keep loading.
	b, err := d.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
	if err != nil || len(b) < 36 {
		panic("mining: sha256 state layout changed")
	}
	var m [8]uint32
	for i := range m {
		m[i] = binary.BigEndian.Uint32(b[4+4*i:])
	}
	return m
}
