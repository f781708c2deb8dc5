package bm13xx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

// Port is what the driver needs from a serial line; hal.Chain satisfies it.
// Read should return within the port's read timeout ((0, nil) when nothing
// arrived); a Read that blocks must be released by Close.
type Port interface {
	io.ReadWriter
	SetBaud(hal.Baud) error
	Drain() error
	ResetInput() error
	Close() error
}

// WorkSource hands out work. For BM1366+ chains it must be a
// mining.Dispatcher built with mining.UnitsRollVersion(): the chips roll
// the version bits inside the mask themselves, so every work unit must keep
// the mask bits clear. For BM1397 chains a plain Dispatcher: the driver asks
// for four consecutive slots (four versions of one header) per job when the
// job has a version mask.
type WorkSource interface {
	NextN(ctx context.Context, n int) ([]*mining.Work, error)
	Changed() <-chan struct{}
}

// ChainConfig configures a Chain.
type ChainConfig struct {
	// Index is the chain's number on the board.
	Index int
	// Model is the chip family.
	Model Model
	// Open (re)opens the serial port; it is called at start and after the
	// chain is lost.
	Open func() (Port, error)
	// Reset pulses the chain's reset line; nil when the board has none.
	Reset hal.ResetLine
	// ExpectedChips is the chip count the board should have; 0 accepts
	// what enumeration finds. On a mismatch the driver logs a warning and
	// mines with the chips that answered.
	ExpectedChips int
	// FrequencyMHz is the hash clock; 0 means Model.DefaultMHz.
	FrequencyMHz float64
	// Difficulty is the chip ticket difficulty; 0 means 256. Values below 1
	// use RegSimTicket (simulation only).
	Difficulty float64
	// FastBaud is the line rate after the switch; 0 means the model's
	// default (BM1366+ 1 Mbaud, BM1397 3.125 Mbaud).
	FastBaud hal.Baud
	// Work supplies work.
	Work WorkSource
	// Results receives every nonce that belongs to a live job, from the
	// driver's reader goroutine, and returns the host's verdict on it
	// (mining.Validator.Check's error): one wrapping mining.ErrHardware
	// counts against the chip, so each nonce is hashed once, upstream.
	Results func(mining.Result) error
	// JobInterval is the period between jobs; 0 means the open-firmware
	// period for the model and chain length (Model.JobInterval).
	JobInterval time.Duration
	// RampStep is the delay between 6.25 MHz clock steps; 0 means 100 ms.
	RampStep time.Duration
	// EnumerateWait is the silence that ends enumeration; 0 means 1 s.
	EnumerateWait time.Duration
	// PollInterval is how often every chip's register 0x00 is read; 0
	// means 5 s. A chip heard from neither by reply nor by nonce for three
	// intervals is not responding; a chain from which nothing at all
	// arrives for three intervals is lost.
	PollInterval time.Duration
	// RetryBackoff is the first pause before reopening a lost chain; it
	// doubles up to 16 times that on consecutive failures. 0 means 1 s.
	RetryBackoff time.Duration
	// Log receives events; nil discards them.
	Log *slog.Logger
}

// Chain states reported in ChainStatus.State.
const (
	StateInitializing = "initializing"
	StateMining       = "mining"
	StateLost         = "lost"
	StateStopped      = "stopped"
)

// ChainStatus is a snapshot of a chain for the API and metrics.
type ChainStatus struct {
	Index int
	Model string
	// State is StateInitializing, StateMining, StateLost or StateStopped.
	State string
	// FrequencyMHz is the chips' mean hash clock as last written;
	// Difficulty the ticket difficulty the chips report at.
	FrequencyMHz, Difficulty float64
	Chips                    []ChipStatus
	// Reinits counts re-initialisations after the first.
	Reinits int
	// CRCErrors and SkippedBytes are the response reader's counters;
	// StaleNonces the nonces dropped for a reused or voided job;
	// HWErrors the nonces whose hash missed the ticket.
	CRCErrors, SkippedBytes, StaleNonces, HWErrors uint64
	// LastError is why the chain was last lost, or empty.
	LastError string
}

// ChipStatus is a snapshot of one chip.
type ChipStatus struct {
	Index   int
	Address byte
	// FrequencyMHz is the chip's hash clock as last written.
	FrequencyMHz float64
	// Nonces counts the nonces attributed to the chip (HW errors
	// included); HWErrorRate is HWErrors / Nonces.
	Nonces, HWErrors uint64
	HWErrorRate      float64
	// HashrateHS is the chip's hash rate from its good nonces over the
	// last minute: nonces × hashes per ticket / time.
	HashrateHS float64
	LastNonce  time.Time
	// Responding is false when the chip sent nothing for three poll
	// intervals.
	Responding bool
}

// Defaults of ChainConfig.
const (
	defaultDifficulty    = 256
	defaultRampStep      = 100 * time.Millisecond
	defaultEnumerateWait = time.Second
	defaultPollInterval  = 5 * time.Second
	defaultRetryBackoff  = time.Second
	silentPolls          = 3
)

// Chain drives one chain of BM13xx chips: it initialises the chips, feeds
// them jobs, turns their nonces into mining.Results and re-initialises the
// chain when it is lost. Status may be called from any goroutine.
type Chain struct {
	cfg        ChainConfig
	log        *slog.Logger
	target     mining.Target // what the chips promise every nonce meets
	perNonce   float64       // hashes one reported nonce stands for
	difficulty float64       // the ticket difficulty in force

	stale, hwErrors atomic.Uint64

	mu          sync.Mutex
	state       string
	freqMHz     float64
	reinits     int
	lastErr     string
	chips       []*chipStats
	baseCRC     uint64 // reader counters of finished sessions
	baseSkipped uint64
	reader      *ResponseReader
	fastBaud    bool    // the chips may still be at the fast rate
	throttle    float64 // clock factor of thermal protection; 0 means 1
}

// NewChain checks cfg and returns a chain; Run starts it.
func NewChain(cfg ChainConfig) (*Chain, error) {
	m := cfg.Model
	if got, err := ModelByID(m.ID); err != nil || got != m {
		return nil, fmt.Errorf("bm13xx: chain %d: model %q: %w", cfg.Index, m.Name, ErrModel)
	}
	if cfg.Open == nil || cfg.Work == nil || cfg.Results == nil {
		return nil, fmt.Errorf("bm13xx: chain %d: config needs Open, Work and Results", cfg.Index)
	}
	if cfg.ExpectedChips < 0 || cfg.ExpectedChips > 256 {
		return nil, fmt.Errorf("bm13xx: chain %d: %d expected chips: %w", cfg.Index, cfg.ExpectedChips, ErrRange)
	}
	if cfg.FrequencyMHz == 0 {
		cfg.FrequencyMHz = m.DefaultMHz
	}
	if _, _, err := PLL(m, cfg.FrequencyMHz); err != nil {
		return nil, fmt.Errorf("bm13xx: chain %d: %w", cfg.Index, err)
	}
	if cfg.Difficulty == 0 {
		cfg.Difficulty = defaultDifficulty
	}
	if !(cfg.Difficulty > 0) || cfg.Difficulty > 1<<32 {
		return nil, fmt.Errorf("bm13xx: chain %d: difficulty %v: %w", cfg.Index, cfg.Difficulty, ErrRange)
	}
	if cfg.FastBaud == 0 {
		cfg.FastBaud = m.DefaultFastBaud
	}
	if _, _, err := FastUARTReg(m, cfg.FastBaud); err != nil {
		return nil, fmt.Errorf("bm13xx: chain %d: %w", cfg.Index, err)
	}
	cfg.RampStep = orDefault(cfg.RampStep, defaultRampStep)
	cfg.EnumerateWait = orDefault(cfg.EnumerateWait, defaultEnumerateWait)
	cfg.PollInterval = orDefault(cfg.PollInterval, defaultPollInterval)
	cfg.RetryBackoff = orDefault(cfg.RetryBackoff, defaultRetryBackoff)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Chain{
		cfg:    cfg,
		log:    cfg.Log.With("chain", cfg.Index),
		target: ChipTarget(cfg.Difficulty),
		state:  StateInitializing,
	}
	c.perNonce = c.target.ExpectedHashes()
	c.difficulty = cfg.Difficulty
	if cfg.Difficulty >= 1 || SimTicketLimit(cfg.Difficulty) == 0 {
		c.difficulty = TicketDifficulty(TicketMask(cfg.Difficulty))
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Target returns the target every nonce the chips report is claimed to
// meet (mining.Result.Target).
func (c *Chain) Target() mining.Target { return c.target }

// Run initialises the chain and mines until ctx ends, then returns nil.
// When the chain is lost (a port error, or nothing heard for three poll
// intervals) it reports so in Status, closes the port, backs off and opens
// and initialises it again.
func (c *Chain) Run(ctx context.Context) error {
	backoff := c.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.mu.Lock()
			c.reinits++
			c.mu.Unlock()
		}
		mined, err := c.runOnce(ctx)
		if ctx.Err() != nil {
			c.setState(StateStopped, "")
			return nil
		}
		if err == nil {
			err = errors.New("bm13xx: session ended")
		}
		c.log.Warn("chain lost", "err", err, "retry_in", backoff)
		c.setState(StateLost, err.Error())
		if mined {
			backoff = c.cfg.RetryBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			c.setState(StateStopped, "")
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, 16*c.cfg.RetryBackoff)
	}
}

// runOnce opens the port and runs one session on it; mined reports
// whether the session got as far as mining.
func (c *Chain) runOnce(ctx context.Context) (mined bool, err error) {
	c.setState(StateInitializing, "")
	port, err := c.cfg.Open()
	if err != nil {
		return false, fmt.Errorf("bm13xx: chain %d: open: %w", c.cfg.Index, err)
	}
	s := newSession(c, port)
	return s.run(ctx, nil)
}

// setState records the chain state; a non-empty lastErr replaces the last
// error.
func (c *Chain) setState(state, lastErr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = state
	if lastErr != "" {
		c.lastErr = lastErr
	}
}

// Status returns a snapshot of the chain and its chips.
func (c *Chain) Status() ChainStatus {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ChainStatus{
		Index:        c.cfg.Index,
		Model:        c.cfg.Model.Name,
		State:        c.state,
		FrequencyMHz: c.freqMHz,
		Difficulty:   c.difficulty,
		Reinits:      c.reinits,
		CRCErrors:    c.baseCRC,
		SkippedBytes: c.baseSkipped,
		StaleNonces:  c.stale.Load(),
		HWErrors:     c.hwErrors.Load(),
		LastError:    c.lastErr,
	}
	if c.reader != nil {
		rs := c.reader.Stats()
		st.CRCErrors += rs.CRCErrors
		st.SkippedBytes += rs.SkippedBytes
	}
	timeout := silentPolls * c.cfg.PollInterval
	for i, ch := range c.chips {
		cs := ChipStatus{
			Index:        i,
			Address:      ch.addr,
			FrequencyMHz: ch.freqMHz,
			Nonces:       ch.nonces,
			HWErrors:     ch.hwErrors,
			HashrateHS:   ch.window.Rate(now, chipRateWindow),
			LastNonce:    ch.lastNonce,
			Responding:   c.state == StateMining && now.Sub(ch.lastHeard) < timeout,
		}
		if ch.nonces > 0 {
			cs.HWErrorRate = float64(ch.hwErrors) / float64(ch.nonces)
		}
		st.Chips = append(st.Chips, cs)
	}
	if len(st.Chips) > 0 {
		sum := 0.0
		for _, cs := range st.Chips {
			sum += cs.FrequencyMHz
		}
		st.FrequencyMHz = sum / float64(len(st.Chips))
	}
	return st
}
