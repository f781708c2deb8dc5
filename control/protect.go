package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// GuardPeriod is how often the guard reads the plant and acts: every rule
// acts within one or two periods of its condition.
const GuardPeriod = 250 * time.Millisecond

// Event levels, the event log's own.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// EventSource is the Source of every event the guard produces.
const EventSource = "protection"

// Chain states reported by Guard.State.
const (
	// StateOK is a chain hashing at its tuned point.
	StateOK = "ok"
	// StateThrottled is a chain hashing slower because it runs hot.
	StateThrottled = "throttled"
	// StateStopped is a chain the guard stopped; it restarts by itself
	// once the cause has cleared.
	StateStopped = "stopped"
	// StateLocked is a stopped chain that used up its automatic restarts;
	// it stays stopped until Reset.
	StateLocked = "locked"
)

// ErrUnsupported is what a Plant returns for a reading its hardware does
// not have (a board without a voltage monitor): the rules that need it
// are skipped for that chain.
var ErrUnsupported = errors.New("control: reading not supported")

// ErrNoChain is returned by Reset for a chain the plant does not have.
var ErrNoChain = errors.New("control: no such chain")

// ErrBadLimits is returned for protection limits that contradict each
// other.
var ErrBadLimits = errors.New("control: bad protection limits")

// Plant is what the guard watches and acts on, per chain.
type Plant interface {
	// Chains is the number of chains.
	Chains() int
	// Temperature is the hottest sensor of the chain, in °C. A board
	// without a sensor, or whose sensor cannot be read while the chain is
	// unpowered, returns ErrUnsupported (any other error is a sensor
	// fault, which stops the chain and keeps it stopped).
	Temperature(chain int) (float64, error)
	// Voltage is the chain's measured core voltage and its setpoint, in
	// mV.
	Voltage(chain int) (measured, setpoint float64, err error)
	// Fans are the tachometer readings and the indexes of stalled fans
	// (FanLoop.RPMs and FanLoop.Stalled; none in immersion).
	Fans() (rpm []int, stalled []int)
	// Throttle runs the chain at factor × its tuned frequency (1 = full).
	Throttle(chain int, factor float64) error
	// Stop stops hashing and cuts the chain's power.
	Stop(chain int) error
	// Start powers the chain up and resumes hashing at the tuned point.
	Start(chain int) error
}

// Limits are the protection thresholds. A zero field takes its default,
// so a board profile sets only what differs.
type Limits struct {
	// HotC starts throttling (default 75 °C).
	HotC float64
	// DangerousC stops the chain at once (default 90 °C).
	DangerousC float64
	// HysteresisC below HotC lets a throttled chain speed up again and a
	// stopped one restart (default 5 °C).
	HysteresisC float64
	// MinValidC and MaxValidC bound a believable reading; outside them
	// the sensor is faulty (defaults −20 and 150 °C).
	MinValidC, MaxValidC float64
	// MaxJumpC is the largest believable change between two readings one
	// period apart (default 30 °C).
	MaxJumpC float64
	// VoltageTolerance is the largest relative gap between measured and
	// set core voltage (default 0.10).
	VoltageTolerance float64
	// ThrottleStep is the frequency factor taken off (or given back) per
	// period (default 0.10), down to MinFactor (default 0.5).
	ThrottleStep, MinFactor float64
	// RecoverAfter is how long the cause of a stop must stay cleared
	// before the chain restarts (default 10 s).
	RecoverAfter time.Duration
	// MaxRestarts is how many automatic restarts a chain gets per
	// RestartWindow (defaults 3 and 15 minutes); a negative MaxRestarts
	// disables automatic restarts.
	MaxRestarts   int
	RestartWindow time.Duration
	// StartGrace after a start is left for the core voltage to settle
	// before it is judged (default 1 s).
	StartGrace time.Duration
}

// DefaultLimits are the protection thresholds of a board profile that
// sets none.
var DefaultLimits = Limits{HotC: 75, DangerousC: 90, HysteresisC: 5, MinValidC: -20, MaxValidC: 150,
	MaxJumpC: 30, VoltageTolerance: 0.10, ThrottleStep: 0.10, MinFactor: 0.5,
	RecoverAfter: 10 * time.Second, MaxRestarts: 3, RestartWindow: 15 * time.Minute, StartGrace: time.Second}

// withDefaults fills the zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *float64 }{
		{&l.HotC, &d.HotC}, {&l.DangerousC, &d.DangerousC}, {&l.HysteresisC, &d.HysteresisC},
		{&l.MinValidC, &d.MinValidC}, {&l.MaxValidC, &d.MaxValidC}, {&l.MaxJumpC, &d.MaxJumpC},
		{&l.VoltageTolerance, &d.VoltageTolerance}, {&l.ThrottleStep, &d.ThrottleStep}, {&l.MinFactor, &d.MinFactor},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&l.RecoverAfter, &d.RecoverAfter}, {&l.RestartWindow, &d.RestartWindow}, {&l.StartGrace, &d.StartGrace},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if l.MaxRestarts == 0 {
		l.MaxRestarts = d.MaxRestarts
	}
	return l
}

// Check validates the limits after defaults are applied.
func (l Limits) Check() error {
	l = l.withDefaults()
	switch {
	case !finite(l.HotC, l.DangerousC, l.HysteresisC, l.MinValidC, l.MaxValidC, l.MaxJumpC,
		l.VoltageTolerance, l.ThrottleStep, l.MinFactor):
		return fmt.Errorf("%w: not a number", ErrBadLimits)
	case !(l.MinValidC < l.HotC-l.HysteresisC && l.HotC < l.DangerousC && l.DangerousC <= l.MaxValidC):
		return fmt.Errorf("%w: want valid minimum %v < hot %v − hysteresis %v, hot < dangerous %v ≤ valid maximum %v",
			ErrBadLimits, l.MinValidC, l.HotC, l.HysteresisC, l.DangerousC, l.MaxValidC)
	case l.HysteresisC < 0 || l.MaxJumpC < 0:
		return fmt.Errorf("%w: negative hysteresis or jump", ErrBadLimits)
	case !(l.VoltageTolerance > 0 && l.VoltageTolerance < 1):
		return fmt.Errorf("%w: voltage tolerance %v outside (0, 1)", ErrBadLimits, l.VoltageTolerance)
	case !(l.ThrottleStep > 0 && l.ThrottleStep <= 1 && l.MinFactor > 0 && l.MinFactor <= 1):
		return fmt.Errorf("%w: throttle step %v or floor %v outside (0, 1]", ErrBadLimits, l.ThrottleStep, l.MinFactor)
	case l.RecoverAfter < 0 || l.RestartWindow < 0 || l.StartGrace < 0:
		return fmt.Errorf("%w: negative duration", ErrBadLimits)
	}
	return nil
}

// finite reports whether no value is NaN or infinite.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Event is one transition of the guard, for the event log.
type Event struct {
	Time    time.Time
	Level   string // LevelInfo, LevelWarn or LevelError
	Source  string // EventSource
	Kind    string // throttle, unthrottle, stop, lock, restart, reset, or a *_failed
	Chain   int
	Message string
}

// ChainState is what the guard reports of one chain.
type ChainState struct {
	Chain    int     `json:"chain"`
	State    string  `json:"state"`            // StateOK, StateThrottled, StateStopped or StateLocked
	Reason   string  `json:"reason,omitempty"` // why it is throttled, stopped or locked
	Factor   float64 `json:"factor"`           // frequency factor in force: MinFactor–1 running, 0 stopped
	Restarts int     `json:"restarts"`         // automatic restarts in the current window
}

// GuardConfig configures a Guard.
type GuardConfig struct {
	Plant Plant
	// Limits are the thresholds; zero fields take DefaultLimits'.
	Limits Limits
	// OnEvent receives every transition, from the guard's goroutine and
	// without any lock held; nil drops them.
	OnEvent func(Event)
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// Now is the clock events are stamped with; nil means time.Now.
	Now func() time.Time
}

// Guard protects the chains of a plant: it throttles hot chains, stops
// chains on danger (heat, a faulty sensor, a stalled fan, a wrong core
// voltage) and restarts them when the cause has cleared, a bounded number
// of times. Run owns the evaluation; State, Reset and SetLimits are safe
// from any goroutine (they wait for an evaluation in progress).
type Guard struct {
	plant   Plant
	onEvent func(Event)
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	limits Limits
	chains []chainGuard
	events []Event // produced under mu, delivered after it
}

// chainGuard is the guard's state for one chain.
type chainGuard struct {
	state       string
	reason      string
	factor      float64   // frequency factor wanted
	applied     float64   // frequency factor the plant last accepted
	stopPending bool      // Stop failed; retried every period
	startedAt   time.Time // last (re)start, for the voltage grace
	lastTemp    float64   // previous valid reading
	haveTemp    bool
	clearSince  time.Time   // since when a stopped chain's causes have been clear
	restarts    []time.Time // automatic restarts, pruned to the window
}

// NewGuard returns a guard over cfg.Plant, assuming every chain is
// running at its tuned point; it does nothing until Run.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	if cfg.Plant == nil {
		return nil, errors.New("control: guard without a plant")
	}
	if err := cfg.Limits.Check(); err != nil {
		return nil, err
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Guard{plant: cfg.Plant, onEvent: cfg.OnEvent, log: cfg.Log, now: cfg.Now,
		limits: cfg.Limits.withDefaults()}, nil
}

// SetLimits changes the thresholds (a new board profile); they apply from
// the next period.
func (g *Guard) SetLimits(l Limits) error {
	if err := l.Check(); err != nil {
		return err
	}
	g.mu.Lock()
	g.limits = l.withDefaults()
	g.mu.Unlock()
	return nil
}

// Limits returns the thresholds in force, defaults filled in.
func (g *Guard) Limits() Limits {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limits
}

// State returns every chain's state.
func (g *Guard) State() []ChainState {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]ChainState, len(g.chains))
	cut := g.now().Add(-g.limits.RestartWindow)
	for i, c := range g.chains {
		f := c.factor
		if c.state == StateStopped || c.state == StateLocked {
			f = 0
		}
		out[i] = ChainState{Chain: i, State: c.state, Reason: c.reason, Factor: f,
			Restarts: len(pruneBefore(c.restarts, cut))}
	}
	return out
}

// Reset clears a chain's restart count and unlocks it: a locked chain
// becomes stopped and restarts as soon as its cause has stayed cleared for
// RecoverAfter.
func (g *Guard) Reset(chain int) error {
	g.mu.Lock()
	if chain < 0 || chain >= len(g.chains) {
		g.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoChain, chain)
	}
	c := &g.chains[chain]
	c.restarts = nil
	if c.state == StateLocked {
		c.state = StateStopped
		g.emit(g.now(), LevelInfo, "reset", chain, fmt.Sprintf("chain %d unlocked by reset: %s", chain, c.reason))
	}
	g.mu.Unlock()
	g.deliver()
	return nil
}

// Run evaluates the plant every GuardPeriod until ctx ends, and returns
// nil then.
func (g *Guard) Run(ctx context.Context) error {
	t := time.NewTicker(GuardPeriod)
	defer t.Stop()
	for {
		g.evaluate(g.now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// emit records an event for delivery; called with mu held.
func (g *Guard) emit(now time.Time, level, kind string, chain int, msg string) {
	g.events = append(g.events, Event{Time: now, Level: level, Source: EventSource, Kind: kind, Chain: chain, Message: msg})
	g.log.Log(context.Background(), slogLevel(level), msg, "chain", chain, "kind", kind)
}

// deliver hands the recorded events to the callback, outside the lock.
func (g *Guard) deliver() {
	g.mu.Lock()
	evs := g.events
	g.events = nil
	g.mu.Unlock()
	for _, e := range evs {
		g.onEvent(e)
	}
}

// slogLevel maps an event level to a log level.
func slogLevel(level string) slog.Level {
	switch level {
	case LevelError:
		return slog.LevelError
	case LevelWarn:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
