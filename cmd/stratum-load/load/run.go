package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/stratumproxy"
)

// maxReplySamples bounds the share reply latencies kept.
const maxReplySamples = 1 << 20

// Main runs the command: parse, run, print. It returns the exit status:
// 2 on a usage error, 0 otherwise (a failed server is a result, not an
// error of the tool).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseArgs(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stratum-load:", err)
		return 2
	}
	lim := RaiseNofile()
	s := Run(ctx, cfg, nil)
	s.RlimitNofile = lim
	if cfg.JSON {
		err = s.WriteJSON(stdout)
	} else {
		err = s.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "stratum-load:", err)
	}
	return 0
}

// tally holds the counters every connection adds to.
type tally struct {
	notifies, malformed, skippedBusy, unsolved atomic.Uint64

	mu      sync.Mutex
	sentBy  map[string]uint64
	byKind  map[string]map[string]uint64
	replies []time.Duration
}

func (t *tally) sent(kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sentBy[kind]++
}

func (t *tally) shareReply(kind string, rep stratumproxy.Reply, took time.Duration) {
	outcome := "accepted"
	if !rep.OK {
		outcome = codeKey(rep.Code)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byKind[kind]
	if m == nil {
		m = make(map[string]uint64)
		t.byKind[kind] = m
	}
	m[outcome]++
	if len(t.replies) < maxReplySamples {
		t.replies = append(t.replies, took)
	}
}

// solverPool bounds concurrent nonce searches to the CPUs, so hashing
// never starves the connections' readers.
type solverPool chan struct{}

func (p solverPool) tryAcquire() bool {
	select {
	case p <- struct{}{}:
		return true
	default:
		return false
	}
}

func (p solverPool) release() { <-p }

// runner is one run's shared state.
type runner struct {
	cfg     Config
	log     *slog.Logger
	tally   tally
	solvers solverPool
	// poll reads established connections; nil leaves each with its own
	// goroutine.
	poll *poller
	// ended is set once the run's context is done: connections that end
	// afterwards are not drops, and endAt is when (run's goroutine only);
	// arrivals after it are not counted.
	ended atomic.Bool
	endAt time.Time

	rmu sync.Mutex
	rng *rand.Rand

	mu                             sync.Mutex
	conns                          []*conn
	dialFailed, hsFailed, nDropped int
}

func (r *runner) randFloat() float64 {
	r.rmu.Lock()
	defer r.rmu.Unlock()
	return r.rng.Float64()
}

// Run opens cfg.Conns connections over cfg.Ramp, keeps them busy until
// cfg.Duration has passed since the start (or ctx ends), closes them and
// returns the summary. log may be nil.
func Run(ctx context.Context, cfg Config, log *slog.Logger) *Summary {
	return newRunner(cfg, log).run(ctx)
}

// newRunner prepares a run and starts its poller threads; run, called
// once, stops them.
func newRunner(cfg Config, log *slog.Logger) *runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &runner{
		cfg: cfg, log: log,
		// Half the CPUs hash at most, so readers time notifies promptly.
		solvers: make(solverPool, max(1, runtime.GOMAXPROCS(0)/2)),
		rng:     rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)),
		tally:   tally{sentBy: map[string]uint64{}, byKind: map[string]map[string]uint64{}},
	}
	if p, err := newPoller(readerThreads(cfg.Readers), cfg.readerIdle(), r.dropped); err != nil {
		log.Debug("no poller: one reader goroutine per connection", "err", err)
	} else {
		r.poll = p
	}
	return r
}

// run is Run on a runner made by newRunner; it stops the runner's poller.
func (r *runner) run(ctx context.Context) *Summary {
	cfg := r.cfg
	start := time.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	defer cancel()
	var mem *MemoryStats
	if cfg.PID > 0 {
		mem = &MemoryStats{PID: cfg.PID}
		if v, err := ReadRSS(cfg.PID); err != nil {
			mem.Note = err.Error()
		} else {
			mem.BeforeBytes = v
		}
	}
	var wg sync.WaitGroup
	allUp := make(chan struct{})
	sampled := make(chan struct{})
	if mem != nil && mem.Note == "" {
		mem.Note = "run ended before all connections were up and settled"
		go r.sampleAfter(ctx, allUp, mem, sampled)
	} else {
		close(sampled)
	}
	attempted := r.launch(ctx, &wg, allUp)
	<-ctx.Done()
	r.endAt = time.Now()
	r.ended.Store(true)
	<-sampled
	r.mu.Lock()
	for _, c := range r.conns {
		c.shutdown()
	}
	r.mu.Unlock()
	wg.Wait()
	if r.poll != nil {
		r.poll.stop()
	}
	s := r.summarise(attempted, time.Since(start))
	if mem != nil {
		if s.Connections.Established > 0 && mem.AfterBytes > 0 {
			mem.PerConnBytes = float64(mem.AfterBytes-mem.BeforeBytes) / float64(s.Connections.Established)
			if mem.AfterBytes < mem.BeforeBytes {
				mem.Note = "rss fell: memory from earlier load was still resident at the first sample"
			}
		}
		s.Memory = mem
	}
	return s
}

// launch starts connection i at start + ramp·i/N. It returns how many were
// started; allUp closes once every started one has resolved its handshake
// and no more will start.
func (r *runner) launch(ctx context.Context, wg *sync.WaitGroup, allUp chan struct{}) int {
	n, start := r.cfg.Conns, time.Now()
	var launched, resolved atomic.Int64
	launched.Store(int64(n))
	var once sync.Once
	resolve := func() {
		if resolved.Add(1) == launched.Load() {
			once.Do(func() { close(allUp) })
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range n {
		due := start.Add(time.Duration(int64(r.cfg.Ramp) * int64(i) / int64(n)))
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			// Connections never started count as resolved.
			if launched.Add(int64(i-n)) == resolved.Load() {
				once.Do(func() { close(allUp) })
			}
			return i
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runConn(ctx, i, wg, resolve)
		}()
	}
	return n
}

// runConn dials, handshakes and reads one connection until it closes.
func (r *runner) runConn(ctx context.Context, i int, wg *sync.WaitGroup, resolve func()) {
	started := time.Now()
	d := net.Dialer{Timeout: r.cfg.HandshakeTimeout}
	if len(r.cfg.SourceIPs) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: r.cfg.SourceIPs[i%len(r.cfg.SourceIPs)].AsSlice()}
	}
	nc, err := d.DialContext(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		if ctx.Err() == nil {
			r.count(&r.dialFailed)
			r.log.Debug("dial failed", "conn", i, "err", err)
		}
		resolve()
		return
	}
	c := newConn(r, nc, started)
	// Each connection starts the cycle of invalid kinds at a different
	// one, so a short run with few invalid shares per connection still
	// sends every kind.
	c.invalidSeq = i % 3
	r.mu.Lock()
	r.conns = append(r.conns, c)
	closing := ctx.Err() != nil
	r.mu.Unlock()
	if closing {
		_ = nc.Close()
	}
	go func() {
		<-c.done
		resolve()
		if c.established() && r.cfg.SubmitRate > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.submitLoop(ctx, r.cfg.SubmitRate, r.cfg.Invalid, r.cfg.MaxHashes, r.cfg.User)
			}()
		}
	}()
	c.startHandshake(r.cfg.User, r.cfg.Password)
	var handoff func([]byte) (bool, error)
	if r.poll != nil {
		handoff = func(buffered []byte) (bool, error) { return r.poll.adopt(c, buffered) }
	}
	err = c.readLoop(started.Add(r.cfg.HandshakeTimeout), handoff)
	if errors.Is(err, errAdopted) {
		return // the poller reads it from now on, and reports its end
	}
	c.shutdown()
	switch {
	case ctx.Err() != nil:
	case !c.established():
		r.count(&r.hsFailed)
		r.log.Debug("handshake failed", "conn", i, "err", err)
	case !errors.Is(err, net.ErrClosed):
		r.dropped(c, err)
	}
	c.finish()
}

// dropped counts an established connection that ended before the run did.
func (r *runner) dropped(c *conn, err error) {
	if r.ended.Load() {
		return
	}
	r.count(&r.nDropped)
	r.log.Debug("connection dropped", "local", c.nc.LocalAddr().String(), "err", err)
}

// readerThreads is how many poller threads read the connections: the
// configured number, or one (see poller).
func readerThreads(n int) int {
	return max(n, 1)
}

func (r *runner) count(n *int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*n++
}

// sampleAfter reads the server's RSS once every connection is up and the
// settle pause has passed; if the run ends first, mem keeps its note. It
// closes done when finished.
func (r *runner) sampleAfter(ctx context.Context, allUp <-chan struct{}, mem *MemoryStats, done chan<- struct{}) {
	defer close(done)
	select {
	case <-allUp:
	case <-ctx.Done():
		return
	}
	select {
	case <-time.After(r.cfg.Settle):
	case <-ctx.Done():
		return
	}
	if v, err := ReadRSS(mem.PID); err != nil {
		mem.Note = err.Error()
	} else {
		mem.AfterBytes, mem.Note = v, ""
	}
}
