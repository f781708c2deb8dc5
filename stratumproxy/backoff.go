package stratumproxy

import (
	"math/rand/v2"
	"time"
)

// Default reconnect backoff bounds.
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = time.Minute
)

// Backoff computes reconnect delays: capped exponential growth with full
// jitter. Attempt n (from 0) waits a uniformly random duration in
// [0, min(Max, Base·2^n)], so many miners that lose the same pool do not
// come back in lockstep. The zero value uses DefaultBackoffBase and
// DefaultBackoffMax. A Backoff is not safe for concurrent use; each client
// owns one.
type Backoff struct {
	Base, Max time.Duration
	// Rand returns a uniform value in [0, n]; nil uses math/rand/v2. Tests
	// inject a deterministic one.
	Rand func(n int64) int64

	attempt int
}

// Ceiling returns the upper bound of the next delay without consuming an
// attempt: min(Max, Base·2^attempt).
func (b *Backoff) Ceiling() time.Duration {
	base, limit := b.Base, b.Max
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if limit <= 0 {
		limit = DefaultBackoffMax
	}
	if limit < base {
		limit = base
	}
	d := base
	for i := 0; i < b.attempt && d < limit; i++ {
		d *= 2 // stops long before overflow: d < limit ≤ MaxInt64/2 in practice
		if d <= 0 {
			return limit
		}
	}
	return min(d, limit)
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	ceil := b.Ceiling()
	b.attempt++
	r := b.Rand
	if r == nil {
		r = func(n int64) int64 { return rand.Int64N(n + 1) }
	}
	d := time.Duration(r(int64(ceil)))
	// Guard against an injected source that strays out of range.
	return max(0, min(d, ceil))
}

// Reset starts over from Base, after a connection proved healthy.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempts returns how many delays were handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }
