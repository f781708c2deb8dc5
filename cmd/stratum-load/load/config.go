// Package load is the library behind the stratum-load command: it opens
// many Stratum V1 miner connections to a server, keeps them reading,
// submits real (and deliberately wrong) shares, and summarises handshake
// times, share replies, job fan-out latency and server memory.
package load

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// MaxConns is the hard cap on --conns: past it a single machine runs out of
// ephemeral ports and file descriptors long before the server is tested.
const MaxConns = 60000

// MaxSourceIPs bounds the --source-ips list.
const MaxSourceIPs = 65536

// maxReaders bounds --readers.
const maxReaders = 256

// DefaultMaxHashes is the per-share search budget: at difficulty 1/4096 a
// share takes 2^20 hashes on average.
const DefaultMaxHashes = 1 << 20

// ErrUsage marks a bad command line; Main exits 2 on it.
var ErrUsage = errors.New("usage")

// Config is one load run.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// Conns is how many connections to open, spread evenly over Ramp.
	Conns int
	// Duration bounds the whole run, ramp included.
	Duration, Ramp time.Duration
	// SubmitRate is shares per connection per second (0: none) and
	// Invalid the fraction of them made deliberately invalid.
	SubmitRate, Invalid float64
	// MaxHashes caps the nonce search of one valid share.
	MaxHashes uint64
	// User and Password go into mining.authorize.
	User, Password string
	// SourceIPs are the local addresses connections are bound to, round
	// robin; empty lets the kernel choose.
	SourceIPs []netip.Addr
	// PID, when non-zero, is the server process whose VmRSS is sampled.
	PID int
	// HandshakeTimeout bounds dial plus configure/subscribe/authorize.
	HandshakeTimeout time.Duration
	// Settle is how long to wait after every connection is up before the
	// second memory sample.
	Settle time.Duration
	// JSON prints the summary as one JSON object.
	JSON bool
	// Readers is how many threads read the established connections
	// (Linux; 0: one).
	Readers int
	// ReaderPriority is the scheduling of those threads: PriorityAuto
	// (the default; "" means it too), PriorityIdle or PriorityNormal.
	ReaderPriority string
}

// Reader thread priorities (Config.ReaderPriority, --reader-priority).
const (
	// PriorityAuto is PriorityIdle when the run submits no shares, and
	// PriorityNormal when it does: hashing then keeps the tool busy, and
	// replies should be read as they come.
	PriorityAuto = "auto"
	// PriorityIdle runs the reader threads under SCHED_IDLE: they read
	// only when the server under test leaves a core free, so the tool
	// does not slow the fan-out it measures. Arrivals are still timed
	// when the kernel received them.
	PriorityIdle = "idle"
	// PriorityNormal leaves them at the process's priority.
	PriorityNormal = "normal"
)

// readerIdle reports whether the reader threads run under SCHED_IDLE.
func (c *Config) readerIdle() bool {
	switch c.ReaderPriority {
	case PriorityIdle:
		return true
	case PriorityNormal:
		return false
	}
	return c.SubmitRate == 0
}

// ParseArgs parses the command line. Errors wrap ErrUsage.
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	var c Config
	var sources string
	fs := flag.NewFlagSet("stratum-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:3334", "Stratum server `host:port`")
	fs.IntVar(&c.Conns, "conns", 1, fmt.Sprintf("connections to open (at most %d)", MaxConns))
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "hard bound on the whole run")
	fs.DurationVar(&c.Ramp, "ramp", time.Second, "spread connection starts over this time")
	fs.Float64Var(&c.SubmitRate, "submit-rate", 0, "shares per connection per second (0: none)")
	fs.Float64Var(&c.Invalid, "invalid", 0, "fraction of shares made invalid (0..1)")
	fs.Uint64Var(&c.MaxHashes, "max-hashes", DefaultMaxHashes, "nonce search budget per valid share")
	fs.StringVar(&c.User, "user", "stratum-load", "worker name for mining.authorize")
	fs.StringVar(&c.Password, "password", "x", "password for mining.authorize")
	fs.StringVar(&sources, "source-ips", "", "local source addresses, e.g. 127.0.0.2-127.0.0.80,127.0.1.1")
	fs.IntVar(&c.PID, "pid", 0, "server process id whose VmRSS is sampled (Linux)")
	fs.DurationVar(&c.HandshakeTimeout, "handshake-timeout", 10*time.Second, "dial and handshake bound")
	fs.DurationVar(&c.Settle, "settle", time.Second, "pause after all connections are up before sampling memory")
	fs.BoolVar(&c.JSON, "json", false, "print the summary as one JSON object")
	fs.IntVar(&c.Readers, "readers", 0, "threads reading established connections (0: one)")
	fs.StringVar(&c.ReaderPriority, "reader-priority", PriorityAuto,
		"scheduling of the reader threads: idle (read when the server leaves a core free), normal, or auto (idle unless submitting)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, fmt.Errorf("%w: help requested", ErrUsage)
		}
		return c, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if sources != "" {
		ips, err := ParseSourceIPs(sources)
		if err != nil {
			return c, fmt.Errorf("%w: --source-ips: %v", ErrUsage, err)
		}
		c.SourceIPs = ips
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Validate checks ranges. Errors wrap ErrUsage.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...)
	}
	switch {
	case c.Addr == "" || !strings.Contains(c.Addr, ":"):
		return bad("--addr %q is not host:port", c.Addr)
	case c.Conns < 1 || c.Conns > MaxConns:
		return bad("--conns %d out of range 1..%d", c.Conns, MaxConns)
	case c.Duration <= 0:
		return bad("--duration must be positive")
	case c.Ramp < 0 || c.Ramp >= c.Duration:
		return bad("--ramp %v must be in [0, duration)", c.Ramp)
	case !(c.SubmitRate >= 0) || c.SubmitRate > 1000 || math.IsInf(c.SubmitRate, 0):
		return bad("--submit-rate %v out of range 0..1000", c.SubmitRate)
	case !(c.Invalid >= 0 && c.Invalid <= 1):
		return bad("--invalid %v out of range 0..1", c.Invalid)
	case c.MaxHashes < 1:
		return bad("--max-hashes must be at least 1")
	case c.User == "":
		return bad("--user must not be empty")
	case c.PID < 0:
		return bad("--pid %d is negative", c.PID)
	case c.HandshakeTimeout <= 0 || c.Settle < 0:
		return bad("--handshake-timeout must be positive and --settle not negative")
	case c.Readers < 0 || c.Readers > maxReaders:
		return bad("--readers %d out of range 0..%d", c.Readers, maxReaders)
	case !slices.Contains([]string{"", PriorityAuto, PriorityIdle, PriorityNormal}, c.ReaderPriority):
		return bad("--reader-priority %q: want %s, %s or %s", c.ReaderPriority, PriorityAuto, PriorityIdle, PriorityNormal)
	}
	return nil
}

// ParseSourceIPs reads a comma-separated list of addresses and inclusive
// ranges "A-B" (same family, A ≤ B), e.g. "127.0.0.2-127.0.0.80,::1".
func ParseSourceIPs(s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty item in %q", s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("bad address %q", lo)
		}
		last := first
		if isRange {
			if last, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("bad address %q", hi)
			}
		}
		if first.Is4() != last.Is4() || first.Zone() != last.Zone() {
			return nil, fmt.Errorf("range %q mixes address families", item)
		}
		if last.Less(first) {
			return nil, fmt.Errorf("range %q runs backwards", item)
		}
		for a := first; ; a = a.Next() {
			if len(out) >= MaxSourceIPs {
				return nil, fmt.Errorf("more than %d addresses", MaxSourceIPs)
			}
			out = append(out, a)
			if a == last {
				break
			}
		}
	}
	return out, nil
}
