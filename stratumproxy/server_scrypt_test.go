package stratumproxy

import (
	"errors"
	"testing"

	"github.com/kilnfw/kiln/mining"
)

// srvMineScrypt scans nonces for one whose scrypt hash meets (want true) or
// misses (want false) scrypt share difficulty diff.
func srvMineScrypt(t *testing.T, n Notify, en1, en2 []byte, diff float64, want bool) uint32 {
	t.Helper()
	j := mining.Job{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branches: n.Branches,
		NBits: n.NBits, Extranonce1: en1}
	root := j.MerkleRoot(en2)
	target, err := mining.Scrypt.TargetFromDifficulty(diff)
	if err != nil {
		t.Fatal(err)
	}
	for nonce := range uint32(4096) {
		h := j.Header(root, n.Version, n.NTime, nonce)
		hash := mining.Scrypt.PoWHash(h[:])
		if target.Meets(&hash) == want {
			return nonce
		}
	}
	t.Fatalf("no nonce found at scrypt difficulty %v", diff)
	return 0
}

// TestServerScrypt runs a scrypt demo pool over TCP: a share that meets the
// scrypt target (DIFF1·65536/D) is accepted, one that misses it is refused
// as low difficulty, and the demo's nbits is scrypt's difficulty 1.
func TestServerScrypt(t *testing.T) {
	srvLeakCheck(t)
	const diff = 1.0 / 2048 // 1 share in 32 scrypt hashes
	s, addr := srvStart(t, ServerConfig{Algo: mining.Scrypt, Difficulty: diff})
	c := srvDial(t, addr)
	d, n := c.handshake("ltc.worker")
	if d != diff {
		t.Fatalf("set_difficulty %v, want %v", d, diff)
	}
	if want := mining.NBitsFromTarget(mining.Scrypt.Diff1Target()); n.NBits != want {
		t.Errorf("demo nbits %08x, want scrypt diff 1 %08x", n.NBits, want)
	}
	en2 := make([]byte, c.en2Size)
	good := srvMineScrypt(t, n, c.en1, en2, diff, true)
	srvWantAccept(t, c.submit("ltc.worker", n.JobID, en2, n.NTime, good))
	bad := srvMineScrypt(t, n, c.en1, en2, diff, false)
	srvWantReject(t, c.submit("ltc.worker", n.JobID, en2, n.NTime, bad), 23, "low difficulty share")
	if st := s.Stats(); st.Accepted != 1 {
		t.Errorf("accepted %d, want 1", st.Accepted)
	}
}

func TestServerRejectsUnknownAlgorithm(t *testing.T) {
	_, err := NewServer(ServerConfig{Algo: "x11"})
	if !errors.Is(err, mining.ErrUnknownAlgorithm) {
		t.Fatalf("NewServer with x11: %v, want ErrUnknownAlgorithm", err)
	}
}
