package bm13xx

import (
	"time"

	"github.com/kilnfw/kiln/mining"
)

// chipStats is what the driver counts for one chip; guarded by Chain.mu.
type chipStats struct {
	addr             byte
	nonces, hwErrors uint64
	lastNonce        time.Time
	lastHeard        time.Time
	// window holds good nonces, each weighted by the hashes one stands for.
	window mining.RateWindow
	// freqMHz is the chip's clock as last written; target the clock it
	// is walked to (0: the chain's configured frequency).
	freqMHz, target float64
}

// chipRateWindow is the span over which a chip's hash rate is estimated
// from its good nonces, in chipRateSlots slots.
const (
	chipRateWindow = time.Minute
	chipRateSlots  = 12
)
