package cpu

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/mining"
)

func testJob(id string, clean bool) *mining.Job {
	j := &mining.Job{
		ID:              id,
		Coinb1:          []byte{1, 0, 0, 0, 1},
		Coinb2:          []byte{0xff, 0xff, 0xff, 0xff, 0},
		Version:         0x20000000,
		NBits:           0x1d00ffff,
		NTime:           0x66255d00,
		Clean:           clean,
		Extranonce1:     []byte{0xf0, 0, 0, 0x0f},
		Extranonce2Size: 4,
		VersionMask:     0x1fffe000,
		Difficulty:      1.0 / 65536,
		Received:        time.Now(),
	}
	j.PrevHash[0] = byte(len(id))
	j.ShareTarget = mining.MustTarget(j.Difficulty)
	return j
}

// collector verifies every result as the controller does.
type collector struct {
	v    *mining.Validator
	mu   sync.Mutex
	jobs map[string]int
	got  chan struct{}
}

func (c *collector) result(r mining.Result) {
	if _, err := c.v.Check(r); err == nil {
		c.mu.Lock()
		c.jobs[r.Work.Job.ID]++
		c.mu.Unlock()
		select {
		case c.got <- struct{}{}:
		default:
		}
	}
}

// await waits for n verified results on job, failing after 10 s: a worker
// that never leaves older work would take minutes to get there.
func (c *collector) await(t *testing.T, job string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for c.count(job) < n {
		select {
		case <-c.got:
		case <-deadline:
			t.Fatalf("only %d results on job %q after 10 s, want %d", c.count(job), job, n)
		}
	}
}

func (c *collector) count(job string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[job]
}

func TestBackendMinesVerifiableResults(t *testing.T) {
	defer goleak.VerifyNone(t)
	d := mining.NewDispatcher(nil)
	c := &collector{v: mining.NewValidator(nil, nil), jobs: map[string]int{}, got: make(chan struct{}, 1)}
	b, err := New(Config{Threads: 2, Work: d, Results: c.result})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	d.SetJob(testJob("a", true))
	c.await(t, "a", 20)
	if runtime.GOMAXPROCS(0) <= b.Units() {
		t.Errorf("GOMAXPROCS %d, want more than the %d workers", runtime.GOMAXPROCS(0), b.Units())
	}
	// A new job: workers leave the old work at their next chunk.
	d.SetJob(testJob("bb", true))
	c.await(t, "bb", 20)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if st := c.v.Stats(); st.HWErrors != 0 {
		t.Errorf("%d results failed host verification", st.HWErrors)
	}
	if b.Hashes() == 0 {
		t.Error("no hashes counted")
	}
}

func TestNewNeedsWorkAndResults(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a config with no work source")
	}
	b, err := New(Config{Work: mining.NewDispatcher(nil), Results: func(mining.Result) {}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Units() != runtime.NumCPU() || b.Kernel() == "" {
		t.Errorf("defaults: units %d kernel %q", b.Units(), b.Kernel())
	}
}
