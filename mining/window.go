package mining

import "time"

// RateWindow sums weighted events in equal time slots over a bounded span,
// for rates such as hash rate from difficulty-weighted results, nonces per
// chip or shares per worker. It holds one float per slot, so it can be kept
// per chip or per connection. It is not safe for concurrent use.
type RateWindow struct {
	slot  time.Duration
	start time.Time
	last  int64 // clock-aligned index of the newest slot
	vals  []float64
}

// NewRateWindow returns a window of slots slots spanning span, empty at
// start; rates over a longer time than has passed since start are averaged
// over the time since start.
func NewRateWindow(start time.Time, span time.Duration, slots int) RateWindow {
	slots = max(slots, 1)
	w := RateWindow{slot: max(span/time.Duration(slots), time.Nanosecond), start: start, vals: make([]float64, slots)}
	w.last = w.index(start)
	return w
}

func (w *RateWindow) index(t time.Time) int64 { return t.UnixNano() / int64(w.slot) }

// advance moves the newest slot to now's, zeroing the slots passed over,
// and returns its index. A clock that stepped back counts in the newest.
func (w *RateWindow) advance(now time.Time) int64 {
	i := w.index(now)
	if i <= w.last {
		return w.last
	}
	n := int64(len(w.vals))
	for j := max(w.last+1, i-n+1); j <= i; j++ {
		w.vals[j%n] = 0
	}
	w.last = i
	return i
}

// Add records v at now.
func (w *RateWindow) Add(now time.Time, v float64) {
	w.vals[w.advance(now)%int64(len(w.vals))] += v
}

// Rate returns the sum per second over the span ending at now (at most the
// whole window, at least one slot): the whole slots before now's and the
// part of now's slot gone by, or the time since start when that is shorter.
func (w *RateWindow) Rate(now time.Time, span time.Duration) float64 {
	if w.vals == nil {
		return 0
	}
	i := w.advance(now)
	n := min(max(int64(span/w.slot), 1), int64(len(w.vals)))
	var sum float64
	for j := i - n + 1; j <= i; j++ {
		sum += w.vals[j%int64(len(w.vals))]
	}
	dur := time.Duration(n-1)*w.slot + time.Duration(now.UnixNano()%int64(w.slot))
	if up := now.Sub(w.start); up < dur {
		dur = up
	}
	if dur <= 0 {
		return 0
	}
	return sum / dur.Seconds()
}

// Span is the whole time the window covers.
func (w *RateWindow) Span() time.Duration { return w.slot * time.Duration(len(w.vals)) }
