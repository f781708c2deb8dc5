package stratumproxy

import (
	"math"
	"time"
)

// Vardiff defaults, used where a ProxyConfig field is zero.
const (
	// DefaultTargetShareInterval is the time between shares vardiff aims
	// at for each connection.
	DefaultTargetShareInterval = 10 * time.Second
	// DefaultRetargetInterval is how often a connection's difficulty is
	// reconsidered; DefaultRetargetShares shares bring it forward.
	DefaultRetargetInterval = 30 * time.Second
	DefaultRetargetShares   = 30
	// DefaultProxyMinDifficulty is the lowest difficulty vardiff assigns.
	DefaultProxyMinDifficulty = 1.0
)

// vardiffMax keeps assigned difficulties far inside the range a target
// can express.
const vardiffMax = 1 << 52

// vardiffRule is the retargeting policy, shared by every connection.
type vardiffRule struct {
	target    time.Duration // wanted time between shares
	every     time.Duration // retarget period
	maxShares int           // shares that bring the retarget forward
	min       float64       // floor
}

// vardiff is one connection's share count since its last retarget. The
// zero value starts counting at the first call.
type vardiff struct {
	since  time.Time
	shares int
}

// observe records a share (when share is set) and, when the retarget
// period has passed or enough shares came, returns the difficulty the
// connection should move to from cur. It reports false when the observed
// rate is within a factor 2 of the target or the result equals cur.
func (v *vardiff) observe(r *vardiffRule, cur float64, now time.Time, share bool) (float64, bool) {
	if v.since.IsZero() {
		v.since = now
	}
	if share {
		v.shares++
	}
	elapsed := now.Sub(v.since)
	if elapsed < r.every && v.shares < r.maxShares {
		return 0, false
	}
	n := float64(v.shares)
	if n == 0 {
		n = 0.5 // no share at all: assume half of one, so the drop is bounded
	}
	v.since, v.shares = now, 0
	secs := max(elapsed.Seconds(), 1e-3)
	ratio := (n / secs) * r.target.Seconds() // observed rate / wanted rate
	if ratio <= 2 && ratio >= 0.5 {
		return 0, false
	}
	next := min(max(vardiffPow2(cur*ratio), r.min), vardiffMax)
	if next == cur || !(next > 0) {
		return 0, false
	}
	return next, true
}

// vardiffPow2 rounds d to the nearest power of two (in log scale).
func vardiffPow2(d float64) float64 {
	if !(d > 0) || math.IsInf(d, 0) {
		return d
	}
	return math.Exp2(math.Round(math.Log2(d)))
}
