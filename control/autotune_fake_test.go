package control

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// fakeBoard is a hash board with hidden per-chip limits that errs like
// the chip emulator: above its limit fmax a chip corrupts a share
// min(1, 3·(f−fmax)/fmax) of its nonces, and below its voltage floor
// (850 mV + 0.4 mV per MHz) a further 1 % per 2 mV of shortfall. It
// returns nonces in proportion to the clock, and draws Pidle + Cdyn·f·V²
// with a little noise. Its randomness is seeded by the operating point,
// so the same point always measures the same: a resumed run sees what an
// uninterrupted one saw.
type fakeBoard struct {
	mu       sync.Mutex
	fmax     []float64
	mhz      []float64
	mv       float64
	calls    []string // SetVoltage and SetChipFrequency, in order
	samples  int
	onSample func(n int) // called before each sample returns
	setErr   error
	short    bool // Sample answers for one chip too few
}

const (
	fakeMinMHz, fakeMaxMHz = 300.0, 800.0
	fakeMinMV, fakeMaxMV   = 1000.0, 1300.0
	fakeStartMV            = 1200.0
	fakeNoncesPerMHzSecond = 0.2 // 600 MHz: 120 nonces/s, 600 per 5 s sample
	fakeIdleW, fakeCdyn    = 15.0, 0.004
)

func newFakeBoard(fmax ...float64) *fakeBoard {
	b := &fakeBoard{fmax: fmax, mhz: make([]float64, len(fmax)), mv: fakeStartMV}
	for i := range b.mhz {
		b.mhz[i] = fakeMinMHz
	}
	return b
}

func (b *fakeBoard) Chips() int                 { return len(b.fmax) }
func (b *fakeBoard) Limits() (float64, float64) { return fakeMinMHz, fakeMaxMHz }
func (b *fakeBoard) VoltageLimits() (float64, float64) {
	return fakeMinMV, fakeMaxMV
}

func (b *fakeBoard) SetChipFrequency(i int, mhz float64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.setErr != nil {
		return b.setErr
	}
	if i < 0 || i >= len(b.mhz) || !(mhz >= fakeMinMHz && mhz <= fakeMaxMHz) {
		return fmt.Errorf("fake: chip %d to %v MHz", i, mhz)
	}
	b.mhz[i] = mhz
	b.calls = append(b.calls, fmt.Sprintf("f%d=%.1f", i, mhz))
	return nil
}

func (b *fakeBoard) SetVoltage(mv float64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !(mv >= fakeMinMV && mv <= fakeMaxMV) {
		return fmt.Errorf("fake: %v mV", mv)
	}
	b.mv = mv
	b.calls = append(b.calls, fmt.Sprintf("v=%.0f", mv))
	return nil
}

func (b *fakeBoard) Voltage() float64 { b.mu.Lock(); defer b.mu.Unlock(); return b.mv }

// errorP is chip i's error probability at its present point.
func (b *fakeBoard) errorP(i int) float64 {
	f, fmax := b.mhz[i], b.fmax[i]
	p := math.Max(0, 3*(f-fmax)/fmax) + math.Max(0, (850+0.4*f-b.mv)/200)
	return math.Min(1, p)
}

// rng is seeded by the operating point of chip (or the board, chip −1).
func (b *fakeBoard) rng(chip int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d %.3f %.3f", chip, b.mv, b.mhz)
	return rand.New(rand.NewPCG(h.Sum64(), 7))
}

func (b *fakeBoard) Sample(ctx context.Context, d time.Duration) ([]ChipSample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.samples++
	n, hook := b.samples, b.onSample
	out := make([]ChipSample, len(b.mhz))
	for i := range out {
		r := b.rng(i)
		mean := fakeNoncesPerMHzSecond * b.mhz[i] * d.Seconds()
		nonces := math.Max(0, math.Round(mean+math.Sqrt(mean)*r.NormFloat64()))
		p := b.errorP(i)
		errs := math.Round(nonces*p + math.Sqrt(nonces*p*(1-p))*r.NormFloat64())
		out[i] = ChipSample{Nonces: uint64(nonces), HWErrors: uint64(math.Max(0, math.Min(nonces, errs)))}
	}
	if b.short {
		out = out[1:]
	}
	b.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if err := ctx.Err(); err != nil {
		return nil, err // cut short: the counts are lost
	}
	return out, nil
}

// truePower is the model without noise.
func (b *fakeBoard) truePower() float64 {
	v := b.mv / 1000
	w := fakeIdleW
	for _, f := range b.mhz {
		w += fakeCdyn * f * v * v
	}
	return w
}

func (b *fakeBoard) PowerW() (float64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.truePower() * (1 + 0.003*b.rng(-1).NormFloat64()), nil
}

func (b *fakeBoard) state() (mhz []float64, mv float64, w float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]float64(nil), b.mhz...), b.mv, b.truePower()
}

var errFakeSet = errors.New("fake: pll does not lock")
