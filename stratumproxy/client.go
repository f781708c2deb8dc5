package stratumproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Client defaults, used where a ClientConfig field is zero.
const (
	DefaultUserAgent        = "kiln/0.1.0"
	DefaultIdleTimeout      = 120 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultSubmitTimeout    = 30 * time.Second
	DefaultConfigureTimeout = 3 * time.Second
	DefaultResponseTimeout  = 15 * time.Second
	DefaultStableAfter      = 30 * time.Second
)

// MaxReconnectWait caps the wait a pool may ask for in client.reconnect.
const MaxReconnectWait = 5 * time.Minute

// VersionRollingMask is the version-rolling mask asked for in
// mining.configure: the 16 bits BIP 320 frees (13–28). A pool's mask is
// always intersected with it.
const VersionRollingMask uint32 = 0x1fffe000

// clientSubmitQueue bounds the shares waiting for a client's goroutine.
const clientSubmitQueue = 1024

// Outcomes a client reports in EventDisconnected and ShareResult errors.
var (
	// ErrAuthRefused: mining.authorize was answered false or with an error.
	ErrAuthRefused = errors.New("stratum: authorization refused")
	// ErrSubmitTimeout: a submit got no reply in time; it counts as
	// rejected with reason "timeout".
	ErrSubmitTimeout = errors.New("stratum: no reply to submit")
	// ErrConnectionLost: the connection ended before a submit's reply; it
	// counts as rejected with reason "connection_lost", but not against
	// the pool's run of rejects (the disconnect is handled by itself).
	ErrConnectionLost = errors.New("stratum: connection lost before the reply")
)

var (
	errClientDropped         = errors.New("stratum: connection dropped on request")
	errClientConfigureClosed = errors.New("stratum: pool closed the connection after mining.configure")
	errClientReplyTimeout    = errors.New("stratum: no reply in time")
	errClientLineTooLong     = errors.New("stratum: line too long")
)

// ClientConfig configures one upstream pool connection.
type ClientConfig struct {
	// URL is the pool, parsed by ParsePoolURL.
	URL string
	// User and Password override the URL's userinfo when not empty.
	User, Password string
	// Index is stamped on every job as mining.Job.Pool and on every event.
	Index int
	// Algo is the pool's proof-of-work algorithm, stamped on every job;
	// empty is SHA256d.
	Algo mining.Algorithm
	// UserAgent is sent in mining.subscribe and client.get_version replies.
	UserAgent string
	// SuggestDifficulty, when > 0, is sent as mining.suggest_difficulty
	// after authorization.
	SuggestDifficulty float64
	// IdleTimeout: no line from the pool for this long means it is dead.
	IdleTimeout time.Duration
	// DialTimeout bounds TCP connect plus TLS handshake; WriteTimeout each
	// write.
	DialTimeout, WriteTimeout time.Duration
	// SubmitTimeout: a submit without reply for this long is rejected
	// "timeout".
	SubmitTimeout time.Duration
	// ConfigureTimeout bounds the wait for the mining.configure reply (no
	// positive reply means no version rolling); ResponseTimeout the waits
	// for the subscribe and authorize replies.
	ConfigureTimeout, ResponseTimeout time.Duration
	// BackoffBase and BackoffMax bound reconnect delays (see Backoff).
	BackoffBase, BackoffMax time.Duration
	// StableAfter: a connection authorized for this long resets the
	// backoff.
	StableAfter time.Duration
	// ProtocolLog logs every line sent and received (passwords redacted).
	ProtocolLog bool
	// TLS is the base TLS configuration for stratum+ssl/tls pools (e.g.
	// RootCAs); ServerName defaults to the pool host.
	TLS *tls.Config
	// Log receives the client's log lines; nil discards them.
	Log *slog.Logger
	// Now stamps mining.Job.Received; nil uses time.Now.
	Now func() time.Time
	// Events receives everything the client reports, in order; nil drops
	// them. Sends give up when Run's context ends.
	Events chan<- Event
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds, in the order a healthy connection produces them.
const (
	// EventConnected: a new connection (Session) is up; handshake started.
	EventConnected EventKind = iota + 1
	// EventAuthorized: the handshake is complete; VersionMask and
	// Difficulty describe the session.
	EventAuthorized
	// EventJob: a new job (only after EventAuthorized of the session).
	EventJob
	// EventDifficulty: the pool set a new share difficulty.
	EventDifficulty
	// EventShare: a submitted share's outcome, or a share counted stale.
	EventShare
	// EventDisconnected: the connection ended or could not be made; Err
	// says why (wrapping ErrAuthRefused for a refused login).
	EventDisconnected
)

// Event is one report from a Client to its owner.
type Event struct {
	Kind EventKind
	// Pool is ClientConfig.Index; Session the connection it concerns.
	Pool    int
	Session uint64
	// Job is set for EventJob.
	Job *mining.Job
	// Difficulty is set for EventDifficulty and EventAuthorized.
	Difficulty float64
	// VersionMask is set for EventAuthorized: 0 when rolling was not
	// granted.
	VersionMask uint32
	// Share is set for EventShare.
	Share *ShareResult
	// Err is set for EventDisconnected.
	Err error
}

// Client is one upstream pool connection. Run dials, handshakes, turns
// pool messages into jobs and shares into submits, and reconnects with
// backoff until its context ends. Submit and Reconnect may be called from
// any goroutine; all connection state belongs to Run's goroutine.
type Client struct {
	cfg        ClientConfig
	url        PoolURL
	user, pass string
	display    string
	log        *slog.Logger
	submits    chan *mining.Share
	drops      chan uint64
	running    atomic.Bool

	// Owned by Run's goroutine.
	backoff     Backoff
	session     uint64
	sessionID   string
	noConfigure bool
	redirect    string
}

// NewClient checks cfg and returns a client ready to Run.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := ParsePoolURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("stratum: client: %w", err)
	}
	cfg = clientDefaults(cfg)
	c := &Client{
		cfg:     cfg,
		url:     u,
		user:    clientFirstNonEmpty(cfg.User, u.User),
		pass:    clientFirstNonEmpty(cfg.Password, u.Password),
		submits: make(chan *mining.Share, clientSubmitQueue),
		drops:   make(chan uint64, 1),
		backoff: Backoff{Base: cfg.BackoffBase, Max: cfg.BackoffMax},
	}
	// Displays show the pool as an address; the worker is a field of its own.
	shown := u
	shown.User, shown.Password = "", ""
	c.display = shown.String()
	c.log = cfg.Log.With("pool", c.display)
	return c, nil
}

func clientDefaults(cfg ClientConfig) ClientConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.DialTimeout, DefaultDialTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.SubmitTimeout, DefaultSubmitTimeout)
	def(&cfg.ConfigureTimeout, DefaultConfigureTimeout)
	def(&cfg.ResponseTimeout, DefaultResponseTimeout)
	def(&cfg.StableAfter, DefaultStableAfter)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

func clientFirstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// URL returns the pool URL with the password removed.
func (c *Client) URL() string { return c.display }

// User returns the worker name sent in mining.authorize and mining.submit.
func (c *Client) User() string { return c.user }

// Submit queues a share for the pool without blocking. The share is sent
// only if it belongs to the current, authorized connection; otherwise it
// is reported stale. It returns false when the queue is full (the caller
// counts the share stale).
func (c *Client) Submit(s *mining.Share) bool {
	select {
	case c.submits <- s:
		return true
	default:
		return false
	}
}

// Reconnect asks Run to drop connection session (from Event.Session) and
// dial again at once; it is ignored if that connection is already gone.
func (c *Client) Reconnect(session uint64) {
	for range 2 {
		select {
		case c.drops <- session:
			return
		default:
		}
		select {
		case <-c.drops: // an older request no longer matters
		default:
		}
	}
}

// sessionSeq numbers connections across every client of the process, so a
// share from a job of one client can never be taken for a share of another
// that replaced it (a manager rebuilt with a new pool list).
var sessionSeq atomic.Uint64

// Run connects and reconnects until ctx ends, then returns nil with every
// goroutine it started stopped.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("stratum: client: Run called twice")
	}
	defer c.running.Store(false)
	for ctx.Err() == nil {
		up, err := c.connectOnce(ctx)
		if ctx.Err() != nil {
			break
		}
		c.emit(ctx, Event{Kind: EventDisconnected, Err: err})
		c.pause(ctx, c.retryDelay(up, err))
	}
	return nil
}

// retryDelay decides how long to wait after a connection that stayed
// authorized for up and ended with err.
func (c *Client) retryDelay(up time.Duration, err error) time.Duration {
	var rc *clientReconnect
	switch {
	case errors.Is(err, errClientConfigureClosed) && !c.noConfigure:
		c.noConfigure = true
		c.log.Warn("pool closed the connection after mining.configure; retrying without it", "err", err)
		return 0
	case errors.As(err, &rc):
		c.redirect = rc.addr
		c.log.Info("pool asked to reconnect", "to", rc.addr, "wait", rc.wait)
		return rc.wait
	case errors.Is(err, errClientDropped):
		c.log.Info("reconnecting on request")
		return 0
	}
	if up >= c.cfg.StableAfter {
		c.backoff.Reset()
	}
	d := c.backoff.Next()
	c.log.Warn("pool connection failed", "err", err, "retry_in", d)
	return d
}

// pause waits d, reporting every share that arrives meanwhile as stale.
func (c *Client) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case s := <-c.submits:
			c.stale(ctx, s)
		case <-c.drops:
		}
	}
}

// connectOnce runs one connection to its end. It returns how long the
// connection stayed authorized and why it ended.
func (c *Client) connectOnce(ctx context.Context) (time.Duration, error) {
	addr := c.url.Addr()
	if c.redirect != "" {
		addr, c.redirect = c.redirect, ""
	}
	nc, err := c.dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	c.session = sessionSeq.Add(1)
	cc := newClientConn(c, nc)
	defer cc.close(ctx)
	c.log.Info("pool connected", "addr", addr, "session", c.session)
	c.emit(ctx, Event{Kind: EventConnected})
	if err := cc.handshake(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	err = cc.serve(ctx)
	return time.Since(start), err
}

func (c *Client) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{
		Timeout: c.cfg.DialTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: 60 * time.Second, Interval: 15 * time.Second, Count: 4,
		},
	}
	var nc net.Conn
	var err error
	if c.url.TLS() {
		conf := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.cfg.TLS != nil {
			conf = c.cfg.TLS.Clone()
		}
		if conf.ServerName == "" {
			conf.ServerName, _, _ = net.SplitHostPort(addr)
		}
		nc, err = (&tls.Dialer{NetDialer: d, Config: conf}).DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("stratum: dial %s: %w", addr, err)
	}
	return nc, nil
}

// emit hands an event to the owner, giving up when ctx ends.
func (c *Client) emit(ctx context.Context, ev Event) {
	if c.cfg.Events == nil {
		return
	}
	ev.Pool = c.cfg.Index
	if ev.Session == 0 {
		ev.Session = c.session
	}
	select {
	case c.cfg.Events <- ev:
	case <-ctx.Done():
	}
}

// stale reports a share that was not sent.
func (c *Client) stale(ctx context.Context, s *mining.Share) {
	if s == nil {
		return
	}
	c.emit(ctx, Event{Kind: EventShare, Share: &ShareResult{
		Pool: c.cfg.Index, URL: c.display, Share: s, Err: mining.ErrStale,
	}})
}

// logProto logs one protocol line when enabled.
func (c *Client) logProto(dir string, line []byte) {
	if c.cfg.ProtocolLog {
		c.log.Info("stratum line", "dir", dir, "line", string(clientTrimEOL(line)))
	}
}

// clientPoolClosed reports whether err means the pool hung up on us.
func clientPoolClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func clientTrimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// clientReconnect is the pool's client.reconnect: dial addr ("" for the
// configured pool) after wait.
type clientReconnect struct {
	addr string
	wait time.Duration
}

func (e *clientReconnect) Error() string {
	if e.addr == "" {
		return "stratum: pool asked to reconnect"
	}
	return "stratum: pool asked to reconnect to " + e.addr
}
