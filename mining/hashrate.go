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

// Hashrate estimates hash rate from difficulty-weighted results: each result
// a unit reports at target T stands for T.ExpectedHashes() hashes. Results
// are kept in one-second slots for the longest window (15 minutes). It is
// safe for concurrent use.
type Hashrate struct {
	mu sync.Mutex
	w  RateWindow
}

// NewHashrate starts an estimator at now; rates over windows longer than the
// time since start are averaged over the time since start.
func NewHashrate(now time.Time) *Hashrate {
	return &Hashrate{w: NewRateWindow(now, Window15m, int(Window15m/time.Second))}
}

// Add records hashes worth of work found at now.
func (h *Hashrate) Add(now time.Time, hashes float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.w.Add(now, hashes)
}

// Rate returns the average hash rate in H/s over the window ending at now.
func (h *Hashrate) Rate(now time.Time, window time.Duration) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.w.Rate(now, window)
}
