package stratumproxy

import (
	"time"

	"github.com/kilnfw/kiln/mining"
)

// MaxNTimeAhead is how far past the server's clock a share's ntime may lie,
// in seconds. Pools allow 1000–7200 s; 600 s is ample for miners that roll
// ntime no faster than wall time.
const MaxNTimeAhead = 600

// ServerShare is a share the server accepted (or, from ValidateShare, one
// that passed every check of its job).
type ServerShare struct {
	// Worker is the authorized name the share was submitted under.
	Worker string
	// JobID is the server's job id; SourceJobID the JobSource's own.
	JobID, SourceJobID string
	Extranonce1        []byte
	Extranonce2        []byte
	NTime, Nonce       uint32
	// Version is the header version hashed; VersionBits the submitted
	// rolled bits (0 without rolling).
	Version, VersionBits uint32
	// Header is the rebuilt 80-byte block header and Hash its
	// proof-of-work hash (the job's algorithm) in internal byte order.
	Header [80]byte
	Hash   [32]byte
	// Difficulty is what the hash achieved; Target the share difficulty
	// it was judged at.
	Difficulty, Target float64
	// Block reports that the hash also meets the job's nbits target.
	Block bool
}

// ValidateShare is the validation core of the server: it checks a submit
// against one job as seen by one connection (j carries the connection's
// Extranonce1, Extranonce2Size, granted VersionMask, and the Difficulty and
// ShareTarget the share is judged at), rebuilds the header and hashes it.
// Checks, in order: extranonce2 length, ntime range, version bits inside
// the mask, hash at or below the share target. Errors are RejectErrors
// (ErrOther, ErrLowDifficulty). Worker authorization, job lookup, staleness
// and duplicates need server state and are checked by the caller.
func ValidateShare(j *mining.Job, s Submit, now time.Time) (ServerShare, error) {
	if len(s.Extranonce2) != j.Extranonce2Size {
		return ServerShare{}, Reject(ErrOther, "invalid extranonce2 size")
	}
	if s.NTime < j.NTime || int64(s.NTime) > now.Unix()+MaxNTimeAhead {
		return ServerShare{}, Reject(ErrOther, "ntime out of range")
	}
	version := j.Version
	if s.HasVersion {
		// Bits outside the granted mask (any bit at all when rolling was
		// not negotiated) would hash a header the miner was not given.
		if s.VersionBits&^j.VersionMask != 0 {
			return ServerShare{}, Reject(ErrOther, "invalid version mask")
		}
		version = j.Version&^j.VersionMask | s.VersionBits&j.VersionMask
	}
	target := j.ShareTarget
	if target == (mining.Target{}) {
		t, err := j.Algo.TargetFromDifficulty(j.Difficulty)
		if err != nil {
			return ServerShare{}, Reject(ErrOther, "no share difficulty")
		}
		target = t
	}
	sh := ServerShare{
		JobID:       j.ID,
		Extranonce1: j.Extranonce1,
		Extranonce2: s.Extranonce2,
		NTime:       s.NTime,
		Nonce:       s.Nonce,
		Version:     version,
		VersionBits: s.VersionBits,
		Worker:      s.Worker,
		Target:      j.Difficulty,
	}
	if !(sh.Target > 0) {
		sh.Target = target.Difficulty() * j.Algo.DifficultyFactor()
	}
	sh.Header = j.Header(j.MerkleRoot(s.Extranonce2), version, s.NTime, s.Nonce)
	sh.Hash = j.Algo.PoWHash(sh.Header[:])
	if !target.Meets(&sh.Hash) {
		return ServerShare{}, Reject(ErrLowDifficulty, "low difficulty share")
	}
	sh.Difficulty = j.Algo.HashDifficulty(&sh.Hash)
	if nt, err := mining.TargetFromNBits(j.NBits); err == nil {
		sh.Block = nt.Meets(&sh.Hash)
	}
	return sh, nil
}
