package stratumproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Defaults of ServerConfig, used where a field is zero.
const (
	// DemoDifficulty is the default share difficulty: about 33 million
	// hashes a share, seconds for a CPU, so a newcomer sees shares at once.
	DemoDifficulty = 1.0 / 128
	// DefaultServerVersionMask is the version-rolling mask granted at
	// most: the 16 bits BIP 320 frees (13–28).
	DefaultServerVersionMask = 0x1fffe000
	// DefaultServerExtranonce1Size is the bytes of each connection's
	// extranonce1 (also its session id).
	DefaultServerExtranonce1Size = 4
	// DefaultServerExtranonce2Size is the bytes miners roll.
	DefaultServerExtranonce2Size = 4
	// DefaultServerJobInterval is how often a new job of the same block
	// goes out (ckpool re-sends work every 30 s).
	DefaultServerJobInterval = 30 * time.Second
	// DefaultServerBlockInterval is how often the demo "finds" a block.
	DefaultServerBlockInterval = 10 * time.Minute
	// DefaultServerMaxConns bounds concurrent connections.
	DefaultServerMaxConns = 256
	// DefaultServerHandshakeTimeout is how long a connection may take to
	// authorize a worker.
	DefaultServerHandshakeTimeout = 30 * time.Second
	// DefaultServerIdleTimeout drops a miner silent this long (NOMP's
	// example: 600 s).
	DefaultServerIdleTimeout = 10 * time.Minute
)

// ServerConfig configures a Server. Zero values take the defaults above.
type ServerConfig struct {
	// Source supplies the jobs; nil uses a fresh DemoSource for Algo.
	Source JobSource
	// Algo is the proof-of-work algorithm shares are checked with and the
	// scale of Difficulty; empty is SHA256d.
	Algo mining.Algorithm
	// Difficulty is the share difficulty sent to every miner (default
	// DemoDifficulty).
	Difficulty float64
	// MinDifficulty is the floor for mining.suggest_difficulty and the
	// minimum-difficulty extension: suggestions at or above it are
	// honoured; 0 ignores suggestions.
	MinDifficulty float64
	// VersionMask is what the server allows to roll; a miner that
	// configures version-rolling gets requested & VersionMask.
	VersionMask uint32
	// Extranonce1Size is the per-connection unique extranonce1 (1..8
	// bytes); Extranonce2Size what miners roll (2..16 bytes).
	Extranonce1Size, Extranonce2Size int
	// JobInterval is how often a new job (clean=false) goes out and
	// BlockInterval how often a new "block" (clean=true); a negative value
	// disables that timer.
	JobInterval, BlockInterval time.Duration
	// Authorize decides mining.authorize; nil accepts any non-empty user.
	Authorize func(user, password string) bool
	// MaxConns bounds concurrent connections; further ones are closed at
	// once.
	MaxConns int
	// MaxConnsPerIP bounds concurrent connections from one address; 0 is
	// no limit.
	MaxConnsPerIP int
	// AllowNets, when not empty, admits only peers inside one of these
	// networks; others are closed at accept and logged.
	AllowNets []netip.Prefix
	// HandshakeTimeout drops a connection not authorized within it;
	// IdleTimeout one that sends nothing for that long.
	HandshakeTimeout, IdleTimeout time.Duration
	// ProtocolLog logs every line in and out at debug level.
	ProtocolLog bool
	// Log receives the server's logs; nil discards them.
	Log *slog.Logger
	// Now is the clock for ntime checks and job times; nil is time.Now.
	Now func() time.Time
}

// ServerStats is a snapshot of a server's counters.
type ServerStats struct {
	// Connections is the number of open connections.
	Connections int
	// Accepted counts accepted shares and AcceptedDifficulty sums the
	// difficulty they were judged at (the work they prove).
	Accepted           uint64
	AcceptedDifficulty float64
	// Rejected counts refused shares by reason name (see ReasonOf).
	Rejected map[string]uint64
	// Workers counts accepted shares per worker name.
	Workers map[string]uint64
	// Blocks counts accepted shares that also met the network target.
	Blocks uint64
}

// srvMaxWorkerStats bounds the per-worker table; later names are counted
// under srvOtherWorkers.
const (
	srvMaxWorkerStats = 1024
	srvOtherWorkers   = "(other)"
)

// srvSessionResume is how long the extranonce1 of a closed connection stays
// reserved for a miner that resumes it (ckpool: 600 s), and
// srvMaxClosed bounds how many are kept.
const (
	srvSessionResume = 10 * time.Minute
	srvMaxClosed     = 4096
)

// Server is a Stratum V1 pool server: it hands out jobs from a JobSource
// and validates shares exactly as a pool does. It serves one listener at a
// time.
//
// Per connection: mining.configure answers every requested extension;
// mining.subscribe hands out a unique extranonce1 whose hex is the session
// id (a miner that resumes a session closed less than 10 minutes ago gets
// its extranonce1 back); once subscribed and authorized the miner gets
// mining.set_difficulty and the current job with clean_jobs=true. An
// honoured mining.suggest_difficulty takes effect at once: the server sends
// mining.set_difficulty followed by the current job again (same id,
// clean_jobs=false). Each job is judged at the lower of the difficulty it
// was sent at and the connection's current one. Submits are checked in the
// order of checkSubmit and answered with the conventional codes 20–25.
type Server struct {
	cfg ServerConfig
	src JobSource
	log *slog.Logger
	now func() time.Time

	rotMu sync.Mutex // serialises job changes
	book  *srvJobBook
	// hooks, set only by the farm proxy, adds vardiff, submit limits and
	// share forwarding; nil for a plain pool server.
	hooks srvHooks
	// mask is the version-rolling mask granted at most (cfg.VersionMask,
	// or the upstream's for the proxy).
	mask atomic.Uint32

	mu       sync.Mutex
	conns    map[*srvConn]struct{}
	serving  bool
	closing  bool
	connSeq  uint64
	en1Next  uint64
	en1InUse map[string]struct{}
	closed   map[string]time.Time // session id -> when its connection closed
	perIP    map[netip.Addr]int

	statsMu sync.Mutex
	stats   ServerStats
}

// NewServer checks cfg, fills in defaults and returns a server; the first
// job is built at once so the source's errors surface here.
func NewServer(cfg ServerConfig) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.rotate(true); err != nil {
		return nil, err
	}
	return s, nil
}

// newServer builds a server without a first job.
func newServer(cfg ServerConfig) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		src:      cfg.Source,
		log:      cfg.Log,
		now:      cfg.Now,
		book:     newSrvJobBook(uint64(rand.Uint32())),
		conns:    make(map[*srvConn]struct{}),
		en1Next:  rand.Uint64(),
		en1InUse: make(map[string]struct{}),
		closed:   make(map[string]time.Time),
		perIP:    make(map[netip.Addr]int),
		stats:    ServerStats{Rejected: map[string]uint64{}, Workers: map[string]uint64{}},
	}
	s.mask.Store(cfg.VersionMask)
	return s, nil
}

func (c *ServerConfig) fill() error {
	if !c.Algo.Known() {
		return fmt.Errorf("stratum server: %w %q", mining.ErrUnknownAlgorithm, string(c.Algo))
	}
	c.Algo = c.Algo.Canonical()
	if c.Source == nil {
		c.Source = NewDemoSourceFor(c.Algo)
	}
	if c.Difficulty == 0 {
		c.Difficulty = DemoDifficulty
	}
	if _, err := mining.TargetFromDifficulty(c.Difficulty); err != nil {
		return fmt.Errorf("stratum server: difficulty %v: %w", c.Difficulty, err)
	}
	if c.MinDifficulty < 0 || math.IsNaN(c.MinDifficulty) || math.IsInf(c.MinDifficulty, 0) {
		return fmt.Errorf("stratum server: min difficulty %v out of range", c.MinDifficulty)
	}
	if c.VersionMask == 0 {
		c.VersionMask = DefaultServerVersionMask
	}
	c.Extranonce1Size = srvDefault(c.Extranonce1Size, DefaultServerExtranonce1Size)
	c.Extranonce2Size = srvDefault(c.Extranonce2Size, DefaultServerExtranonce2Size)
	if c.Extranonce1Size < 1 || c.Extranonce1Size > 8 {
		return fmt.Errorf("stratum server: extranonce1 size %d out of range 1..8", c.Extranonce1Size)
	}
	if c.Extranonce2Size < 2 || c.Extranonce2Size > MaxExtranonce2Size {
		return fmt.Errorf("stratum server: extranonce2 size %d out of range 2..%d",
			c.Extranonce2Size, MaxExtranonce2Size)
	}
	c.JobInterval = srvDefault(c.JobInterval, DefaultServerJobInterval)
	c.BlockInterval = srvDefault(c.BlockInterval, DefaultServerBlockInterval)
	c.MaxConns = srvDefault(c.MaxConns, DefaultServerMaxConns)
	if c.MaxConnsPerIP < 0 {
		return errors.New("stratum server: negative per-address connection limit")
	}
	c.HandshakeTimeout = srvDefault(c.HandshakeTimeout, DefaultServerHandshakeTimeout)
	c.IdleTimeout = srvDefault(c.IdleTimeout, DefaultServerIdleTimeout)
	if c.MaxConns < 0 || c.HandshakeTimeout < 0 || c.IdleTimeout < 0 {
		return errors.New("stratum server: negative connection limit or timeout")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

func srvDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Serve accepts miners on ln until ctx ends, then closes ln and every
// connection and returns once all its goroutines have stopped. It returns
// nil after ctx ends, or the listener's error if accepting fails first.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("stratum server: already serving")
	}
	s.serving, s.closing = true, false
	s.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var conns, loops sync.WaitGroup
	acceptErr := make(chan error, 1)
	loops.Add(2)
	go func() {
		defer loops.Done()
		defer cancel()
		acceptErr <- s.acceptLoop(ctx, ln, &conns)
	}()
	go func() {
		defer loops.Done()
		s.jobLoop(ctx)
	}()

	<-ctx.Done()
	_ = ln.Close()
	s.closeAll()
	loops.Wait()
	conns.Wait()
	s.mu.Lock()
	s.serving = false
	s.mu.Unlock()
	s.log.Info("stratum server stopped", "addr", ln.Addr().String())
	return <-acceptErr
}

// jobLoop issues new jobs on the job and block timers and when the source
// reports a change.
func (s *Server) jobLoop(ctx context.Context) {
	jobTick := newSrvTicker(s.cfg.JobInterval)
	defer jobTick.stop()
	blockTick := newSrvTicker(s.cfg.BlockInterval)
	defer blockTick.stop()
	var changed <-chan struct{}
	if n, ok := s.src.(JobNotifier); ok {
		changed = n.JobsChanged()
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-jobTick.c:
			err = s.rotate(false)
		case <-blockTick.c:
			err = s.rotate(true)
		case _, ok := <-changed:
			if !ok {
				changed = nil // the source is done announcing
				continue
			}
			err = s.rotate(false)
		}
		if err != nil {
			s.log.Warn("stratum server: no new job", "err", err)
		}
	}
}

// srvTicker is a time.Ticker that may be disabled (nil channel).
type srvTicker struct {
	t *time.Ticker
	c <-chan time.Time
}

func newSrvTicker(d time.Duration) srvTicker {
	if d <= 0 {
		return srvTicker{}
	}
	t := time.NewTicker(d)
	return srvTicker{t: t, c: t.C}
}

func (t srvTicker) stop() {
	if t.t != nil {
		t.t.Stop()
	}
}

// NewBlock issues a clean job now (a new prevhash from the demo source).
// When it returns, shares on earlier jobs are stale and every miner has the
// new job queued.
func (s *Server) NewBlock() {
	if err := s.rotate(true); err != nil {
		s.log.Warn("stratum server: no new block", "err", err)
	}
}

// rotate asks the source for a job, makes it current and sends it to every
// mining connection.
func (s *Server) rotate(newBlock bool) error {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	n, err := s.src.Job(JobRequest{
		Now:            s.now(),
		NewBlock:       newBlock,
		ExtranonceSize: s.cfg.Extranonce1Size + s.cfg.Extranonce2Size,
	})
	if err != nil {
		return fmt.Errorf("stratum server: job source: %w", err)
	}
	s.publishLocked(n)
	return nil
}

// publish makes n the current job and sends it to every mining
// connection; the proxy calls it for each upstream job.
func (s *Server) publish(n Notify) *srvJob {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	return s.publishLocked(n)
}

func (s *Server) publishLocked(n Notify) *srvJob {
	j := s.book.add(n)
	s.log.Debug("stratum server: new job", "job", j.job.ID, "clean", j.job.Clean)
	fanOut(s.snapshot(), func(c *srvConn) { c.pushJob(j) })
	return j
}

// fanOutChunk is the fewest connections worth a goroutine of their own,
// and fanOutGrab how many a goroutine takes at a time.
const (
	fanOutChunk = 512
	fanOutGrab  = 64
)

// fanOut runs f on every connection, spread over the cores: with thousands
// of miners the per-connection work (vardiff, writing the line) would
// otherwise sit on one core while the others idle. The goroutines take
// small runs of connections from a shared cursor, so one that loses its
// core for a while does not leave a whole share of the miners waiting.
func fanOut(conns []*srvConn, f func(*srvConn)) {
	parts := min(runtime.GOMAXPROCS(0), (len(conns)+fanOutChunk-1)/fanOutChunk)
	if parts <= 1 {
		for _, c := range conns {
			f(c)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			hi := int(next.Add(fanOutGrab))
			lo := hi - fanOutGrab
			if lo >= len(conns) {
				return
			}
			for _, c := range conns[lo:min(hi, len(conns))] {
				f(c)
			}
		}
	}
	var wg sync.WaitGroup
	for range parts - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// withdraw voids every job: no work is handed out until the next publish,
// and shares on earlier jobs are stale.
func (s *Server) withdraw() {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	s.book.voidAll()
}

func (s *Server) snapshot() []*srvConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*srvConn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Broadcast queues line (a complete Stratum line; a newline is added if
// missing) to every connection, e.g. a client.reconnect.
func (s *Server) Broadcast(line []byte) {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line[:len(line):len(line)], '\n')
	}
	for _, c := range s.snapshot() {
		c.send(line)
	}
}

// DropAll closes every open connection; miners are free to reconnect.
func (s *Server) DropAll() {
	for _, c := range s.snapshot() {
		c.kill()
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.Connections = n
	st.Rejected = make(map[string]uint64, len(s.stats.Rejected))
	for k, v := range s.stats.Rejected {
		st.Rejected[k] = v
	}
	st.Workers = make(map[string]uint64, len(s.stats.Workers))
	for k, v := range s.stats.Workers {
		st.Workers[k] = v
	}
	return st
}

func (s *Server) countAccepted(sh *ServerShare) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Accepted++
	s.stats.AcceptedDifficulty += sh.Target
	if sh.Block {
		s.stats.Blocks++
	}
	w := sh.Worker
	if _, ok := s.stats.Workers[w]; !ok && len(s.stats.Workers) >= srvMaxWorkerStats {
		w = srvOtherWorkers
	}
	s.stats.Workers[w]++
}

func (s *Server) countRejected(err error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	s.stats.Rejected[ReasonOf(err)]++
}
