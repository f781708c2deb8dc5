package mining

import (
	"sync"
	"time"
)

// Hashrate windows reported by the controller.
const (
	Window5s  = 5 * time.Second
	Window1m  = time.Minute
	Window15m = 15 * time.Minute
)

const hashrateBuckets = 15 * 60

// Hashrate estimates hash rate from difficulty-weighted results: each result
// a unit reports at target T stands for T.ExpectedHashes() hashes. Results
// are kept in one-second buckets for the longest window (15 minutes).
type Hashrate struct {
	mu      sync.Mutex
	start   time.Time
	last    int64 // unix second of the newest bucket written
	buckets [hashrateBuckets]float64
}

// NewHashrate starts an estimator at now; rates over windows longer than the
// time since start are averaged over the time since start.
func NewHashrate(now time.Time) *Hashrate {
	return &Hashrate{start: now, last: now.Unix()}
}

// Add records hashes worth of work found at now.
func (h *Hashrate) Add(now time.Time, hashes float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advance(now.Unix())
	h.buckets[now.Unix()%hashrateBuckets] += hashes
}

// advance zeroes the buckets between the last write and sec.
func (h *Hashrate) advance(sec int64) {
	if sec <= h.last {
		return
	}
	for s := max(h.last+1, sec-hashrateBuckets+1); s <= sec; s++ {
		h.buckets[s%hashrateBuckets] = 0
	}
	h.last = sec
}

// Rate returns the average hash rate in H/s over the window ending at now.
func (h *Hashrate) Rate(now time.Time, window time.Duration) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advance(now.Unix())
	secs := int64(min(window, hashrateBuckets*time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	var sum float64
	sec := now.Unix()
	for s := sec - secs + 1; s <= sec; s++ {
		sum += h.buckets[((s%hashrateBuckets)+hashrateBuckets)%hashrateBuckets]
	}
	// The window spans secs-1 whole seconds plus the part of this one gone.
	span := time.Duration(secs-1)*time.Second + time.Duration(now.Nanosecond())
	if up := now.Sub(h.start); up < span {
		span = up
	}
	if span <= 0 {
		return 0
	}
	return sum / span.Seconds()
}
