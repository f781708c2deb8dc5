package stratumproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Proxy defaults, used where a ProxyConfig field is zero.
const (
	// DefaultPrefixSize is the bytes of upstream extranonce2 that name a
	// downstream connection (its extranonce1).
	DefaultPrefixSize = 2
	// DefaultProxyExtranonce2Size is the extranonce2 size downstream
	// miners roll; cgminer-class miners need at least 2.
	DefaultProxyExtranonce2Size = 2
)

// proxyUpWindow is how many upstream jobs the proxy remembers; the
// server's own window (srvJobWindow) is smaller.
const proxyUpWindow = 2 * srvJobWindow

// ProxyConfig configures a Proxy. Zero values take the defaults.
type ProxyConfig struct {
	// PrefixSize is each downstream connection's extranonce1 size (1..4);
	// prefix 0 is reserved for LocalJob. Extranonce2Size is what
	// downstream miners roll (2..8). The upstream extranonce2 size must be
	// at least their sum.
	PrefixSize, Extranonce2Size int
	// StartDifficulty is a new connection's difficulty; 0 takes the
	// upstream difficulty. MinDifficulty is the vardiff floor and the
	// lowest mining.suggest_difficulty honoured (default 1).
	StartDifficulty, MinDifficulty float64
	// TargetShareInterval is the time between shares vardiff aims at;
	// RetargetInterval how often it re-evaluates, brought forward by
	// RetargetShares shares.
	TargetShareInterval, RetargetInterval time.Duration
	RetargetShares                        int
	// VersionMask is the most the proxy grants downstream (default
	// DefaultServerVersionMask); the upstream's mask limits it further.
	VersionMask uint32
	// Workers, when not empty, lists the only worker names accepted, with
	// their passwords. Passthrough accepts any non-empty name instead.
	// Either way the upstream account is the proxy's own: downstream
	// names are for statistics only. One of the two is required.
	Workers     map[string]string
	Passthrough bool
	// AllowNets, when not empty, admits only peers in these networks.
	AllowNets []netip.Prefix
	// MaxConns and MaxConnsPerIP bound connections in all and per address.
	MaxConns, MaxConnsPerIP int
	// SubmitRate and SubmitBurst are each connection's submit bucket;
	// GlobalSubmitRate the proxy's (burst: one second's worth). A negative
	// rate is unlimited. MaxRefusals refused submits in a minute
	// disconnect the connection.
	SubmitRate       float64
	SubmitBurst      int
	GlobalSubmitRate float64
	MaxRefusals      int
	// HandshakeTimeout and IdleTimeout are as in ServerConfig.
	HandshakeTimeout, IdleTimeout time.Duration
	// Forward receives each downstream share that meets the upstream
	// difficulty, rewritten for the upstream job (wire Manager.Submit).
	// It is called on the connection's goroutine and must not block.
	Forward func(*mining.Share)
	// OnShare receives every downstream share outcome; it must be safe
	// for concurrent use and must not block.
	OnShare func(WorkerShare)
	// ProtocolLog logs every downstream line at debug level.
	ProtocolLog bool
	// Log receives the proxy's logs; nil discards them.
	Log *slog.Logger
	// Now is the clock for vardiff, limits, statistics and ntime checks;
	// nil is time.Now.
	Now func() time.Time
}

// Proxy is a farm proxy: downstream miners connect to it as to a pool,
// and it mines on the one upstream session the app's Manager keeps. Each
// downstream connection gets a fixed extranonce1 prefix carved out of the
// upstream extranonce2, so an upstream switch is only a clean job
// downstream. It re-hashes every share, answers downstream at the miner's
// own (vardiff) difficulty and forwards those that meet the upstream one.
type Proxy struct {
	cfg    ProxyConfig
	srv    *Server
	log    *slog.Logger
	now    func() time.Time
	rule   vardiffRule
	global syncBucket

	pubMu sync.Mutex // serialises upstream changes
	mu    sync.Mutex
	cur   *mining.Job            // current upstream job; nil when idle
	ups   map[string]*mining.Job // downstream source id -> upstream job
	upIDs []string
	upPad map[string]int
	seq   uint64
	local []proxyLocal // LocalJob results, newest last

	stats proxyStats
}

type proxyLocal struct{ local, up *mining.Job }

// NewProxy checks cfg, applies defaults and returns a proxy with no work
// until the first SetUpstreamJob.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Proxy{
		cfg: cfg, log: cfg.Log, now: cfg.Now,
		rule: vardiffRule{target: cfg.TargetShareInterval, every: cfg.RetargetInterval,
			maxShares: cfg.RetargetShares, min: cfg.MinDifficulty},
		global: syncBucket{b: newTokenBucket(cfg.GlobalSubmitRate, max(int(cfg.GlobalSubmitRate), 1))},
		ups:    make(map[string]*mining.Job),
		upPad:  make(map[string]int),
		stats:  newProxyStats(cfg.Now()),
	}
	srv, err := newServer(ServerConfig{
		Source:           proxyNoSource{},
		Difficulty:       1,
		MinDifficulty:    cfg.MinDifficulty,
		VersionMask:      cfg.VersionMask,
		Extranonce1Size:  cfg.PrefixSize,
		Extranonce2Size:  cfg.Extranonce2Size,
		JobInterval:      -1,
		BlockInterval:    -1,
		Authorize:        p.authorize,
		MaxConns:         cfg.MaxConns,
		MaxConnsPerIP:    cfg.MaxConnsPerIP,
		AllowNets:        cfg.AllowNets,
		HandshakeTimeout: cfg.HandshakeTimeout,
		IdleTimeout:      cfg.IdleTimeout,
		ProtocolLog:      cfg.ProtocolLog,
		Log:              cfg.Log,
		Now:              cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("stratum proxy: %w", err)
	}
	srv.hooks = p
	p.srv = srv
	return p, nil
}

func (c *ProxyConfig) fill() error {
	c.PrefixSize = srvDefault(c.PrefixSize, DefaultPrefixSize)
	c.Extranonce2Size = srvDefault(c.Extranonce2Size, DefaultProxyExtranonce2Size)
	if c.PrefixSize < 1 || c.PrefixSize > 4 {
		return fmt.Errorf("stratum proxy: prefix size %d out of range 1..4", c.PrefixSize)
	}
	if c.Extranonce2Size < 2 || c.Extranonce2Size > 8 {
		return fmt.Errorf("stratum proxy: extranonce2 size %d out of range 2..8", c.Extranonce2Size)
	}
	if len(c.Workers) == 0 && !c.Passthrough {
		return errors.New("stratum proxy: no workers configured and passthrough off")
	}
	if c.VersionMask == 0 {
		c.VersionMask = DefaultServerVersionMask
	}
	if c.MinDifficulty == 0 {
		c.MinDifficulty = DefaultProxyMinDifficulty
	}
	if _, err := mining.TargetFromDifficulty(c.MinDifficulty); err != nil {
		return fmt.Errorf("stratum proxy: min difficulty %v: %w", c.MinDifficulty, err)
	}
	if c.StartDifficulty != 0 {
		if _, err := mining.TargetFromDifficulty(c.StartDifficulty); err != nil {
			return fmt.Errorf("stratum proxy: start difficulty %v: %w", c.StartDifficulty, err)
		}
	}
	c.TargetShareInterval = srvDefault(c.TargetShareInterval, DefaultTargetShareInterval)
	c.RetargetInterval = srvDefault(c.RetargetInterval, DefaultRetargetInterval)
	c.RetargetShares = srvDefault(c.RetargetShares, DefaultRetargetShares)
	if c.TargetShareInterval < 0 || c.RetargetInterval < 0 || c.RetargetShares < 0 {
		return errors.New("stratum proxy: negative vardiff setting")
	}
	c.MaxConns = srvDefault(c.MaxConns, DefaultProxyMaxConns)
	c.MaxConnsPerIP = srvDefault(c.MaxConnsPerIP, DefaultProxyMaxConnsPerIP)
	c.SubmitRate = proxyRate(c.SubmitRate, DefaultSubmitRate)
	c.SubmitBurst = srvDefault(c.SubmitBurst, DefaultSubmitBurst)
	c.GlobalSubmitRate = proxyRate(c.GlobalSubmitRate, DefaultGlobalSubmitRate)
	c.MaxRefusals = srvDefault(c.MaxRefusals, DefaultMaxRefusals)
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// proxyRate applies the default to 0 and makes a negative rate unlimited
// (0 inside tokenBucket).
func proxyRate(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// proxyNoSource is the server's placeholder source: the proxy publishes
// upstream jobs itself, so the server never asks.
type proxyNoSource struct{}

func (proxyNoSource) Job(JobRequest) (Notify, error) {
	return Notify{}, errors.New("stratum proxy: jobs come from upstream")
}

// Serve accepts downstream miners on ln until ctx ends (see Server.Serve).
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	return p.srv.Serve(ctx, ln)
}

// SetUpstreamJob makes up, a job of the active upstream session (from
// ManagerConfig.OnJob), the downstream miners' work: one notify line for
// every connection. A change of upstream session, extranonce, version
// mask or difficulty makes it a clean job downstream. An upstream whose
// extranonce2 is too small to carve leaves the proxy idle and drops every
// downstream connection.
func (p *Proxy) SetUpstreamJob(up *mining.Job) {
	if up == nil {
		return
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	pad := up.Extranonce2Size - p.cfg.PrefixSize - p.cfg.Extranonce2Size
	if pad < 0 {
		p.log.Error("stratum proxy: upstream extranonce2 too small to carve; dropping all miners",
			"upstream_extranonce2_size", up.Extranonce2Size, "prefix_size", p.cfg.PrefixSize,
			"extranonce2_size", p.cfg.Extranonce2Size, "pool", up.Pool)
		p.goIdle()
		p.srv.DropAll()
		return
	}
	p.mu.Lock()
	prev := p.cur
	clean := up.Clean || prev == nil || proxyNewSession(prev, up)
	p.seq++
	id := strconv.FormatUint(p.seq, 16)
	p.cur = up
	p.ups[id], p.upPad[id] = up, pad
	p.upIDs = append(p.upIDs, id)
	if len(p.upIDs) > proxyUpWindow {
		delete(p.ups, p.upIDs[0])
		delete(p.upPad, p.upIDs[0])
		p.upIDs = p.upIDs[1:]
	}
	p.mu.Unlock()
	if prev == nil || prev.VersionMask != up.VersionMask {
		p.srv.setVersionMask(up.VersionMask & p.cfg.VersionMask)
	}
	cb1 := make([]byte, 0, len(up.Coinb1)+len(up.Extranonce1))
	cb1 = append(append(cb1, up.Coinb1...), up.Extranonce1...)
	cb2 := make([]byte, pad, pad+len(up.Coinb2))
	cb2 = append(cb2, up.Coinb2...)
	p.srv.publish(Notify{
		JobID: id, PrevHash: up.PrevHash, Coinb1: cb1, Coinb2: cb2, Branches: up.Branches,
		Version: up.Version, NBits: up.NBits, NTime: up.NTime, Clean: clean,
	})
}

// proxyNewSession reports whether up differs from prev in what makes
// downstream work void: the session, its extranonce, mask or difficulty.
func proxyNewSession(prev, up *mining.Job) bool {
	return prev.Pool != up.Pool || prev.Session != up.Session ||
		!bytes.Equal(prev.Extranonce1, up.Extranonce1) ||
		prev.Extranonce2Size != up.Extranonce2Size ||
		prev.VersionMask != up.VersionMask || prev.Difficulty != up.Difficulty
}

// UpstreamIdle stops handing out work (from ManagerConfig.OnIdle): shares
// on earlier jobs become stale and miners get nothing until the next
// SetUpstreamJob, which is clean.
func (p *Proxy) UpstreamIdle() {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.log.Warn("stratum proxy: no upstream work; miners wait")
	p.goIdle()
}

func (p *Proxy) goIdle() {
	p.mu.Lock()
	p.cur = nil
	p.mu.Unlock()
	p.srv.withdraw()
}

// upstream returns the upstream job behind a downstream source id and the
// padding it needs.
func (p *Proxy) upstream(id string) (*mining.Job, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ups[id], p.upPad[id]
}

// currentUpstream returns the current upstream job or nil.
func (p *Proxy) currentUpstream() *mining.Job {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// LocalJob returns the job the controller's own hash boards should mine
// beside the downstream miners: up with the reserved prefix 0 (never
// given to a connection) appended to Extranonce1 and Extranonce2Size
// reduced by the prefix size. It returns nil when up's extranonce2 is too
// small. Map its shares back with UpstreamShare.
func (p *Proxy) LocalJob(up *mining.Job) *mining.Job {
	if up == nil || up.Extranonce2Size-p.cfg.PrefixSize < 1 {
		return nil
	}
	l := *up
	l.Extranonce1 = append(append(make([]byte, 0, len(up.Extranonce1)+p.cfg.PrefixSize),
		up.Extranonce1...), make([]byte, p.cfg.PrefixSize)...)
	l.Extranonce2Size = up.Extranonce2Size - p.cfg.PrefixSize
	p.mu.Lock()
	defer p.mu.Unlock()
	p.local = append(p.local, proxyLocal{local: &l, up: up})
	if len(p.local) > proxyUpWindow {
		p.local[0] = proxyLocal{}
		p.local = p.local[1:]
	}
	return &l
}

// UpstreamShare maps a share of a LocalJob job back to its upstream job:
// Extranonce2 becomes prefix 0 ‖ the local extranonce2 ‖ zero padding. It
// returns nil for a share whose job LocalJob did not make recently.
func (p *Proxy) UpstreamShare(local *mining.Share) *mining.Share {
	if local == nil || local.Job == nil {
		return nil
	}
	var up *mining.Job
	p.mu.Lock()
	for i := len(p.local) - 1; i >= 0; i-- {
		if p.local[i].local == local.Job {
			up = p.local[i].up
			break
		}
	}
	p.mu.Unlock()
	if up == nil {
		return nil
	}
	s := *local
	s.Job = up
	s.Extranonce2 = proxyUpEn2(make([]byte, p.cfg.PrefixSize), local.Extranonce2, up.Extranonce2Size)
	s.VersionBits = s.Version & up.VersionMask
	return &s
}

// proxyUpEn2 is prefix ‖ en2 ‖ zeros, size bytes in all.
func proxyUpEn2(prefix, en2 []byte, size int) []byte {
	out := make([]byte, 0, max(size, len(prefix)+len(en2)))
	out = append(append(out, prefix...), en2...)
	for len(out) < size {
		out = append(out, 0)
	}
	return out
}
