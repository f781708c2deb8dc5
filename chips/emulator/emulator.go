package emulator

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/hal"
)

// DefaultScaleDown is the hashing-speed divisor used when Config.ScaleDown
// is 0: one BM1366 at 485 MHz then hashes 485e6·112·8/1e5 ≈ 4.3 MH/s of
// real SHA-256d, a few percent of one CPU core.
const DefaultScaleDown = 1e5

// DefaultAmbientC is the ambient temperature a new chain starts at, in °C.
const DefaultAmbientC = 25

// outQueue is how many frames (or noise bursts) may wait for the line;
// more are dropped, as a chip drops what it cannot send.
const outQueue = 4096

// Config describes an emulated chain.
type Config struct {
	// Model is the chip family; it must be one of bm13xx.Models().
	Model bm13xx.Model
	// Chips is the number of chips on the chain, 1–256.
	Chips int
	// ScaleDown divides the hash rate: a chip hashes
	// FrequencyMHz·1e6·Cores·SmallCores / ScaleDown H/s of real SHA-256d.
	// 0 means DefaultScaleDown.
	ScaleDown float64
	// HWErrorRate is the probability, 0–1, that a reported nonce has a bit
	// flipped: a hardware error the host must catch.
	HWErrorRate float64
	// Seed seeds the chain's random source (errors, corrupted bits).
	Seed int64
	// Log receives debug events; nil discards them.
	Log *slog.Logger
	// Now is the clock that paces hashing and drives the heat model; nil
	// means time.Now.
	Now func() time.Time
	// MaxStableMHz overrides the hidden maximum stable frequency of each
	// chip, in chain order (tests use it to place the limits); empty means
	// each is drawn from Seed and the chip's index (see DrawMaxStableMHz).
	// When set it has one positive entry per chip.
	MaxStableMHz []float64
}

// ChipState is a snapshot of one chip for tests and telemetry.
type ChipState struct {
	// Index is the chip's position on the chain, 0 nearest the host.
	Index int
	// Address is the address the chip was given (0 after reset).
	Address byte
	// FrequencyMHz is the hash clock its PLL0 register sets.
	FrequencyMHz float64
	// VoltageMV is its core voltage.
	VoltageMV float64
	// TemperatureC is its die temperature.
	TemperatureC float64
	// Nonces counts the nonce responses it sent; HWErrors those it
	// corrupted on purpose.
	Nonces, HWErrors uint64
	// HashesDone counts the real SHA-256d hashes it computed.
	HashesDone uint64
	// PowerW is the power it draws now, in watts (see ChipPowerW).
	PowerW float64
	// Responding is false while the chip is stopped (StopChip).
	Responding bool
	// Baud is the line rate its UART registers set.
	Baud hal.Baud
	// LongReplies is true while it answers in 11-byte frames.
	LongReplies bool
}

// Chain is an emulated chain of BM13xx chips: it answers host frames on a
// byte stream (Serve) as a real chain does and hashes real SHA-256d at a
// scaled-down rate. Its methods are safe for concurrent use.
type Chain struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	chips     []*chip
	coreRegs  map[coreKey]byte
	rng       *rand.Rand
	hwRate    float64
	voltageMV float64
	ambientC  float64
	cooling   float64
	found     []uint32

	out         chan outItem
	wake        chan struct{}
	corruptNext atomic.Bool
	serving     atomic.Bool
	dropped     atomic.Uint64
}

// outItem is one write onto the line: a response frame or raw noise.
type outItem struct {
	b     []byte
	frame bool
}

// New returns a chain in its reset state: every chip at address 0,
// relaying, clocked at 50 MHz, with no job.
func New(cfg Config) (*Chain, error) {
	if m, err := bm13xx.ModelByID(cfg.Model.ID); err != nil || m != cfg.Model {
		return nil, fmt.Errorf("emulator: model %q: %w", cfg.Model.Name, bm13xx.ErrModel)
	}
	if cfg.Chips < 1 || cfg.Chips > 256 {
		return nil, fmt.Errorf("emulator: %d chips: want 1-256", cfg.Chips)
	}
	if cfg.ScaleDown == 0 {
		cfg.ScaleDown = DefaultScaleDown
	}
	if !(cfg.ScaleDown > 0) || math.IsInf(cfg.ScaleDown, 0) {
		return nil, fmt.Errorf("emulator: scale-down %v: want a positive number", cfg.ScaleDown)
	}
	if !(cfg.HWErrorRate >= 0 && cfg.HWErrorRate <= 1) {
		return nil, fmt.Errorf("emulator: hardware error rate %v: want 0-1", cfg.HWErrorRate)
	}
	if err := checkMaxStable(cfg.MaxStableMHz, cfg.Chips); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Chain{
		cfg:       cfg,
		log:       cfg.Log,
		now:       cfg.Now,
		coreRegs:  map[coreKey]byte{},
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6b696c6e)),
		hwRate:    cfg.HWErrorRate,
		voltageMV: NominalVoltageMV(cfg.Model),
		ambientC:  DefaultAmbientC,
		cooling:   1,
		out:       make(chan outItem, outQueue),
		wake:      make(chan struct{}, 1),
	}
	now := c.now()
	for i := range cfg.Chips {
		ch := newChip(cfg.Model, i, c.ambientC, now)
		ch.fmaxMHz = DrawMaxStableMHz(cfg.Model, cfg.Seed, i)
		if len(cfg.MaxStableMHz) > 0 {
			ch.fmaxMHz = cfg.MaxStableMHz[i]
		}
		c.chips = append(c.chips, ch)
	}
	return c, nil
}

// Model returns the chips' model.
func (c *Chain) Model() bm13xx.Model { return c.cfg.Model }

// chipAt returns chip i, or nil when i is out of range. Callers hold mu.
func (c *Chain) chipAt(i int) *chip {
	if i < 0 || i >= len(c.chips) {
		return nil
	}
	return c.chips[i]
}

// StopChip makes chip i stop answering and hashing, like a chip that died
// but still relays frames for the chips beyond it. Out-of-range indices are
// ignored.
func (c *Chain) StopChip(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.chipAt(i); ch != nil && !ch.stopped {
		now := c.now()
		c.advanceHeat(ch, now)
		c.accrue(ch, now)
		ch.stopped = true
	}
}

// ResumeChip undoes StopChip: chip i answers again with the registers and
// address it had.
func (c *Chain) ResumeChip(i int) {
	c.mu.Lock()
	if ch := c.chipAt(i); ch != nil && ch.stopped {
		now := c.now()
		c.advanceHeat(ch, now)
		c.accrue(ch, now)
		ch.stopped = false
	}
	c.mu.Unlock()
	c.kick()
}

// SetHWErrorRate sets the probability, clamped to 0–1, that a reported
// nonce is corrupted.
func (c *Chain) SetHWErrorRate(p float64) {
	if math.IsNaN(p) {
		p = 0
	}
	c.mu.Lock()
	c.hwRate = min(max(p, 0), 1)
	c.mu.Unlock()
}

// InjectNoise writes b onto the line as it is, between two frames.
func (c *Chain) InjectNoise(b []byte) {
	if len(b) > 0 {
		c.send(append([]byte(nil), b...), false)
	}
}

// CorruptNextFrame flips one bit of the next response frame written, so
// that the host sees a CRC error.
func (c *Chain) CorruptNextFrame() { c.corruptNext.Store(true) }

// Dropped returns how many frames were dropped because the line was not
// being drained.
func (c *Chain) Dropped() uint64 { return c.dropped.Load() }

// SetVoltage sets the chips' core voltage in millivolts (what the board's
// regulator delivers). It drives the heat model, and below the floor for a
// chip's frequency (see MinStableVoltageMV) raises its error rate.
func (c *Chain) SetVoltage(mv float64) {
	if math.IsNaN(mv) || mv < 0 {
		mv = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceAll()
	c.voltageMV = mv
}

// SetAmbient sets the air temperature around the chips, in °C.
func (c *Chain) SetAmbient(celsius float64) {
	if math.IsNaN(celsius) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceAll()
	c.ambientC = celsius
}

// SetCooling scales the heat coefficient: 1 is the nominal airflow, lower
// values cool better (a faster fan), higher ones worse. Values are clamped
// to 0.05–10.
func (c *Chain) SetCooling(factor float64) {
	if math.IsNaN(factor) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceAll()
	c.cooling = min(max(factor, 0.05), 10)
}

// Chips returns a snapshot of every chip, in chain order.
func (c *Chain) Chips() []ChipState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceAll()
	out := make([]ChipState, len(c.chips))
	for i, ch := range c.chips {
		out[i] = ChipState{
			Index:        ch.index,
			Address:      ch.addr,
			FrequencyMHz: ch.freqMHz,
			VoltageMV:    c.voltageMV,
			TemperatureC: ch.tempC,
			Nonces:       ch.nonces,
			HWErrors:     ch.hwErrors,
			HashesDone:   ch.hashes,
			PowerW:       c.chipPowerW(ch),
			Responding:   !ch.stopped,
			Baud:         ch.baud,
			LongReplies:  ch.long,
		}
	}
	return out
}

// send queues b for the line without blocking; it is dropped when the
// queue is full.
func (c *Chain) send(b []byte, frame bool) {
	select {
	case c.out <- outItem{b: b, frame: frame}:
	default:
		c.dropped.Add(1)
	}
}

// kick wakes the hashing loop after new work or a resumed chip.
func (c *Chain) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// errServing reports a second concurrent Serve.
var errServing = errors.New("emulator: chain already serving")
