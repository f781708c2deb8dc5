package cpu

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/mining"
)

// TestBackendMinesScrypt runs the backend on a scrypt job: every result
// must pass the host's check with golang.org/x/crypto/scrypt, and a share
// at a difficulty sized for a CPU must turn up.
func TestBackendMinesScrypt(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := mining.NewDispatcher(nil)
	shares := make(chan *mining.Share, 1)
	v := mining.NewValidator(nil, nil)
	c := &collector{v: v, jobs: map[string]int{}, got: make(chan struct{}, 1)}
	results := func(r mining.Result) {
		sh, err := v.Check(r)
		if err != nil && !errors.Is(err, mining.ErrDuplicate) {
			t.Errorf("result %08x: %v", r.Nonce, err)
			return
		}
		c.mu.Lock()
		c.jobs[r.Work.Job.ID]++
		c.mu.Unlock()
		select {
		case c.got <- struct{}{}:
		default:
		}
		if sh != nil {
			select {
			case shares <- sh:
			default:
			}
		}
	}
	// One result in 256 hashes: tens a second on one core.
	b, err := New(Config{Threads: 2, Work: d, Results: results, ScryptReportLimit: 0x00ffffff})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	j := testJob("s", true)
	j.Algo = mining.Scrypt
	// The scrypt target is DIFF1·65536/D: about 2^250 here, 1 share in 64
	// hashes.
	j.Difficulty = 1.0 / 1024
	j.ShareTarget, err = mining.Scrypt.TargetFromDifficulty(j.Difficulty)
	if err != nil {
		t.Fatal(err)
	}
	d.SetJob(j)
	c.await(t, "s", 5)
	select {
	case sh := <-shares:
		if sh.Difficulty < j.Difficulty {
			t.Errorf("share difficulty %v below the job's %v", sh.Difficulty, j.Difficulty)
		}
		if h := mining.Scrypt.PoWHash(headerOf(sh)); h != sh.Hash {
			t.Errorf("share hash %x, scrypt of its header %x", sh.Hash, h)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no scrypt share in 10 s")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if st := v.Stats(); st.HWErrors != 0 {
		t.Errorf("%d scrypt results failed host verification", st.HWErrors)
	}
}

// headerOf rebuilds a share's header.
func headerOf(sh *mining.Share) []byte {
	h := sh.Job.Header(sh.Job.MerkleRoot(sh.Extranonce2), sh.Version, sh.NTime, sh.Nonce)
	return h[:]
}

func TestAlgorithms(t *testing.T) {
	got := Algorithms()
	if len(got) != 2 || got[0] != mining.SHA256d || got[1] != mining.Scrypt {
		t.Errorf("Algorithms() = %v, want sha256d and scrypt", got)
	}
}
