package stratumproxy

import (
	"sync"
	"time"
)

// Abuse-limit defaults, used where a ProxyConfig field is zero.
const (
	// DefaultProxyMaxConns bounds the proxy's connections in all and
	// DefaultProxyMaxConnsPerIP those from one address.
	DefaultProxyMaxConns      = 20000
	DefaultProxyMaxConnsPerIP = 256
	// DefaultSubmitRate and DefaultSubmitBurst are each connection's
	// submit token bucket, DefaultGlobalSubmitRate the whole proxy's.
	DefaultSubmitRate       = 50.0
	DefaultSubmitBurst      = 100
	DefaultGlobalSubmitRate = 100000.0
	// DefaultMaxRefusals refused submits within a minute disconnect a
	// connection.
	DefaultMaxRefusals = 200
)

// refusalWindow is the span over which refused submits are counted.
const refusalWindow = time.Minute

// tokenBucket admits rate events a second with bursts of burst; rate ≤ 0
// admits everything. Not safe for concurrent use.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// allow takes a token if one is there at now.
func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		if dt := now.Sub(b.last).Seconds(); dt > 0 {
			b.tokens = min(b.burst, b.tokens+dt*b.rate)
		}
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// syncBucket is a tokenBucket shared by every connection.
type syncBucket struct {
	mu sync.Mutex
	b  tokenBucket
}

func (s *syncBucket) allow(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.allow(now)
}

// refusals counts a connection's refused submits over refusalWindow.
type refusals struct {
	n     int
	since time.Time
}

// add counts one refusal at now and returns the count in the window.
func (r *refusals) add(now time.Time) int {
	if r.since.IsZero() || now.Sub(r.since) > refusalWindow {
		r.n, r.since = 0, now
	}
	r.n++
	return r.n
}
