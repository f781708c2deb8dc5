package bm13xx

import "time"

// chipStats is what the driver counts for one chip; guarded by Chain.mu.
type chipStats struct {
	addr             byte
	nonces, hwErrors uint64
	lastNonce        time.Time
	lastHeard        time.Time
	window           window
}

// Rate window: good nonces in 5-second buckets over the last minute.
const (
	bucketSpan = 5 * time.Second
	buckets    = 12
)

// window counts events in time buckets for a rate over the last minute.
type window struct {
	start  time.Time
	last   int64 // index of the newest bucket written
	counts [buckets]uint64
}

func newWindow(now time.Time) window { return window{start: now} }

// bucket returns the index of the bucket holding now, zeroing the buckets
// skipped since the last write.
func (w *window) bucket(now time.Time) int64 {
	b := int64(now.Sub(w.start) / bucketSpan)
	if b < w.last {
		return w.last // clock went back: count in the newest bucket
	}
	for i := max(w.last+1, b-buckets+1); i <= b; i++ {
		w.counts[i%buckets] = 0
	}
	w.last = b
	return b
}

// add counts one event at now.
func (w *window) add(now time.Time) { w.counts[w.bucket(now)%buckets]++ }

// rate returns events per second over the window ending at now, each
// weighted by per.
func (w *window) rate(now time.Time, per float64) float64 {
	if w.start.IsZero() {
		return 0
	}
	w.bucket(now)
	var sum uint64
	for _, c := range w.counts {
		sum += c
	}
	up := now.Sub(w.start)
	span := min(up, (buckets-1)*bucketSpan+up%bucketSpan)
	if span <= 0 {
		return 0
	}
	return float64(sum) * per / span.Seconds()
}
