package stratumproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Manager defaults, used where a ManagerConfig field is zero.
const (
	DefaultRejectRun     = 10
	DefaultNoWorkTimeout = 120 * time.Second
	DefaultFailbackGrace = 60 * time.Second
	// DefaultStartupWait is how long, at start, a backup pool waits for a
	// higher-priority pool still making its first connection.
	DefaultStartupWait = 3 * time.Second
)

// Pool states reported in PoolStatus.State.
const (
	// PoolActive: the pool whose jobs are being hashed.
	PoolActive = "active"
	// PoolStandby: connected, authorized and holding a job; ready to take
	// over at once.
	PoolStandby = "standby"
	// PoolConnecting: dialling or handshaking, not yet usable.
	PoolConnecting = "connecting"
	// PoolDead: the last connection failed; retrying with backoff.
	PoolDead = "dead"
)

// PoolConfig is one pool, as the user configured it.
type PoolConfig struct {
	// URL is stratum+tcp://[USER[:PASS]@]HOST:PORT (or +ssl/+tls).
	URL string
	// User and Password override the URL's userinfo when not empty.
	User, Password string
	// Algo is the pool's proof-of-work algorithm; empty is SHA256d. It
	// sets the jobs' Algo and the scale of the pool's share difficulty.
	Algo mining.Algorithm
}

// ManagerConfig configures a Manager. Zero durations and counts take the
// Default* values. The callbacks (nil: ignored) run on Run's goroutine and
// must not block; the one exception is a share Submit could not queue,
// which is reported stale to OnShare from Submit's caller, so OnShare must
// also be safe for concurrent use.
type ManagerConfig struct {
	// Pools in priority order (index 0 first); at least one.
	Pools []PoolConfig
	// UserAgent is sent to pools ("kiln/0.1.0").
	UserAgent string
	// OnJob receives every new job of the active pool, and the new active
	// pool's latest job right after a switch.
	OnJob func(*mining.Job)
	// OnIdle is called when no pool is usable: stop hashing.
	OnIdle func()
	// OnShare receives every share outcome: accepted, rejected with a
	// reason, or stale (never sent).
	OnShare func(ShareResult)
	// OnSwitch is told every change of the active pool: from and to are
	// redacted URLs ("none" for no pool), reason says why.
	OnSwitch func(from, to, reason string)
	// RejectRun consecutive rejected shares demote a pool.
	RejectRun int
	// NoWorkTimeout without a new job demotes a pool.
	NoWorkTimeout time.Duration
	// FailbackGrace is how long a pool must stay healthy before the
	// manager returns to it from a lower-priority one (or, after it was
	// demoted, before it is chosen over another usable pool).
	FailbackGrace time.Duration
	// StartupWait: until some pool has been active, a pool is not taken
	// while a higher-priority one is still on its first connection attempt
	// (neither usable nor failed), for at most this long from Run. Without
	// it, whichever pool answers first wins the start and the primary only
	// gets its turn after FailbackGrace.
	StartupWait time.Duration
	// SuggestDifficulty, when > 0, is suggested to every pool.
	SuggestDifficulty float64
	// IdleTimeout, DialTimeout and SubmitTimeout are passed to every
	// client (see ClientConfig).
	IdleTimeout, DialTimeout, SubmitTimeout time.Duration
	// BackoffBase and BackoffMax bound reconnect delays.
	BackoffBase, BackoffMax time.Duration
	// ProtocolLog logs every Stratum line (passwords redacted).
	ProtocolLog bool
	// TLS is the base TLS configuration for TLS pools.
	TLS *tls.Config
	// Log receives the manager's and clients' log lines; nil discards.
	Log *slog.Logger
	// Now is the clock for timeouts and grace periods; nil uses time.Now.
	Now func() time.Time
}

// ShareResult is the outcome of one share.
type ShareResult struct {
	// Pool is the index of the pool the share was for; URL its redacted
	// URL.
	Pool int
	URL  string
	// Share is the share as submitted.
	Share *mining.Share
	// Accepted is true only for result true with a null error.
	Accepted bool
	// Err is nil when accepted, a *RejectError when the pool refused it
	// (of kind ErrSubmitTimeout or ErrConnectionLost when no reply came),
	// or mining.ErrStale when it was never sent.
	Err error
	// Latency is the submit round-trip time (0 for stale shares).
	Latency time.Duration
}

// PoolStatus is a snapshot of one pool for displays and APIs.
type PoolStatus struct {
	// Priority is the pool's index: 0 is preferred.
	Priority int
	// URL is redacted (no password).
	URL  string
	User string
	// State is PoolActive, PoolStandby, PoolConnecting or PoolDead.
	State string
	// Difficulty is the pool's current share difficulty.
	Difficulty float64
	// Accepted, Rejected and Stale count shares; RejectedByReason splits
	// Rejected by ReasonOf, plus "timeout" and "connection_lost" for
	// submits that got no reply.
	Accepted, Rejected uint64
	RejectedByReason   map[string]uint64
	Stale              uint64
	// LastShare is when the pool last answered a share; Latency that
	// answer's round-trip time.
	LastShare time.Time
	Latency   time.Duration
	// VersionRolling reports whether the current session rolls versions.
	VersionRolling bool
	// LastError says why the pool last failed or was demoted.
	LastError string
	// session is the pool's current connection, for tests.
	session uint64
}

// Manager keeps a client connected to every configured pool and mines on
// the highest-priority usable one, failing over and back. Its state
// belongs to Run's goroutine; Submit, Status and Active are safe from any
// goroutine.
type Manager struct {
	cfg     ManagerConfig
	log     *slog.Logger
	now     func() time.Time
	clients []*Client
	events  chan Event
	dropped []atomic.Uint64 // shares refused because a client queue was full
	running atomic.Bool

	// Owned by Run's goroutine (and NewManager before it).
	pools    []*managedPool
	activeIx int
	// settled is set once a pool has been active or StartupWait is over.
	settled bool
	started time.Time

	// The snapshot Status and Active read, published by Run's goroutine.
	mu      sync.Mutex
	snap    []PoolStatus
	snapIdx int
	snapURL string
}

// NewManager checks cfg, applies defaults and builds the clients.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if len(cfg.Pools) == 0 {
		return nil, errors.New("stratum: manager: no pools configured")
	}
	cfg = managerDefaults(cfg)
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Log,
		now:      cfg.Now,
		events:   make(chan Event, 64),
		dropped:  make([]atomic.Uint64, len(cfg.Pools)),
		activeIx: -1,
		snapIdx:  -1,
	}
	for i, pc := range cfg.Pools {
		c, err := NewClient(ClientConfig{
			URL: pc.URL, User: pc.User, Password: pc.Password, Index: i, Algo: pc.Algo,
			UserAgent: cfg.UserAgent, SuggestDifficulty: cfg.SuggestDifficulty,
			IdleTimeout: cfg.IdleTimeout, DialTimeout: cfg.DialTimeout,
			SubmitTimeout: cfg.SubmitTimeout, BackoffBase: cfg.BackoffBase,
			BackoffMax: cfg.BackoffMax, ProtocolLog: cfg.ProtocolLog, TLS: cfg.TLS,
			Log: cfg.Log, Now: cfg.Now, Events: m.events,
		})
		if err != nil {
			return nil, fmt.Errorf("stratum: manager: pool %d: %w", i, err)
		}
		m.clients = append(m.clients, c)
		m.pools = append(m.pools, &managedPool{
			url: c.URL(), user: c.User(), byReason: map[string]uint64{},
		})
	}
	m.publish()
	return m, nil
}

func managerDefaults(cfg ManagerConfig) ManagerConfig {
	if cfg.RejectRun <= 0 {
		cfg.RejectRun = DefaultRejectRun
	}
	if cfg.NoWorkTimeout <= 0 {
		cfg.NoWorkTimeout = DefaultNoWorkTimeout
	}
	if cfg.StartupWait <= 0 {
		cfg.StartupWait = DefaultStartupWait
	}
	if cfg.FailbackGrace <= 0 {
		cfg.FailbackGrace = DefaultFailbackGrace
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnJob == nil {
		cfg.OnJob = func(*mining.Job) {}
	}
	if cfg.OnIdle == nil {
		cfg.OnIdle = func() {}
	}
	if cfg.OnShare == nil {
		cfg.OnShare = func(ShareResult) {}
	}
	if cfg.OnSwitch == nil {
		cfg.OnSwitch = func(string, string, string) {}
	}
	return cfg
}

// Run runs every pool's client concurrently (backups stay connected so
// failover is instant) and the failover logic, until ctx ends. It returns
// nil once every goroutine it started has stopped. Run may be called once.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("stratum: manager: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.started = m.now()
	var wg sync.WaitGroup
	for _, c := range m.clients {
		wg.Go(func() { _ = c.Run(ctx) })
	}
	m.loop(ctx)
	cancel()
	wg.Wait()
	return nil
}

// Submit routes a share to the pool that issued its job, never another.
// It does not block: when that client's queue is full the share is counted
// stale (and OnShare is called from the caller's goroutine).
func (m *Manager) Submit(s *mining.Share) {
	if s == nil || s.Job == nil || s.Job.Pool < 0 || s.Job.Pool >= len(m.clients) {
		m.log.Warn("dropping a share that no pool issued")
		return
	}
	i := s.Job.Pool
	if m.clients[i].Submit(s) {
		return
	}
	m.dropped[i].Add(1)
	m.cfg.OnShare(ShareResult{Pool: i, URL: m.clients[i].URL(), Share: s, Err: mining.ErrStale})
}

// Status returns a snapshot of every pool, in priority order.
func (m *Manager) Status() []PoolStatus {
	m.mu.Lock()
	out := make([]PoolStatus, len(m.snap))
	copy(out, m.snap)
	m.mu.Unlock()
	for i := range out {
		out[i].RejectedByReason = maps.Clone(out[i].RejectedByReason)
		out[i].Stale += m.dropped[i].Load()
	}
	return out
}

// Active returns the index and redacted URL of the pool being mined, or
// -1 and "" when none is.
func (m *Manager) Active() (index int, url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapIdx, m.snapURL
}
