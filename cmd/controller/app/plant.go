package app

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/control"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// chainRun is one chain driver's goroutine.
type chainRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// guardedHasher is a hasher whose chains the protection can watch, slow
// down, stop and start one by one.
type guardedHasher interface {
	chainCount() int
	temperature(chain int) (float64, error)
	voltage(chain int) (measured, setpoint float64, err error)
	throttle(chain int, factor float64) error
	stopChain(chain int) error
	startChain(chain int) error
}

func (h *simHasher) chainCount() int { return h.plan.chains }

// running returns the board and chain i once the board runs.
func (h *simHasher) running(i int) (*simHasherView, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.board == nil || i < 0 || i >= len(h.chains) {
		return nil, control.ErrUnsupported
	}
	return &simHasherView{h: h, i: i}, nil
}

// simHasherView is chain i of a running simulated board.
type simHasherView struct {
	h *simHasher
	i int
}

// sensorWarmUp is how long after a board starts its temperatures are not
// judged: a fresh board starts cold, which must not read as a sensor that
// jumped.
const sensorWarmUp = time.Second

func (h *simHasher) temperature(i int) (float64, error) {
	v, err := h.running(i)
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	young := time.Since(h.startedAt) < sensorWarmUp
	h.mu.Unlock()
	if young {
		return 0, control.ErrUnsupported
	}
	t, err := v.h.board.TempSensor(i).Temperature()
	if err != nil {
		return 0, err
	}
	return t.Celsius(), nil
}

// setpointMV is the core voltage in force: the autotuner's, else the
// plan's.
func (h *simHasher) setpointMV() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.setpointLocked()
}

func (h *simHasher) setpointLocked() float64 {
	if h.voltageMV > 0 {
		return h.voltageMV
	}
	return h.plan.mv()
}

func (h *simHasher) voltage(i int) (float64, float64, error) {
	v, err := h.running(i)
	if err != nil {
		return 0, 0, err
	}
	h.mu.Lock()
	stopped := h.runs[i].cancel == nil
	h.mu.Unlock()
	if stopped {
		return 0, 0, control.ErrUnsupported // powered off on purpose
	}
	got, err := v.h.board.Regulator(i).Voltage()
	if err != nil {
		return 0, 0, err
	}
	return float64(got) / float64(physic.MilliVolt), h.setpointMV(), nil
}

func (h *simHasher) throttle(i int, factor float64) error {
	if _, err := h.running(i); err != nil {
		return err
	}
	return h.chains[i].SetThrottle(factor)
}

// stopChain stops chain i's driver and cuts its core supply.
func (h *simHasher) stopChain(i int) error {
	h.mu.Lock()
	if h.board == nil || i < 0 || i >= len(h.runs) {
		h.mu.Unlock()
		return fmt.Errorf("sim: no chain %d", i)
	}
	r := h.runs[i]
	h.runs[i] = chainRun{}
	board := h.board
	h.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return board.Regulator(i).SetVoltage(0)
}

// startChain powers chain i up at its setpoint and starts its driver.
func (h *simHasher) startChain(i int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.board == nil || i < 0 || i >= len(h.runs) {
		return fmt.Errorf("sim: no chain %d", i)
	}
	if h.runs[i].cancel != nil {
		return nil
	}
	mv := physic.ElectricPotential(h.setpointLocked()) * physic.MilliVolt
	if err := h.board.Regulator(i).SetVoltage(mv); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	ch := h.chains[i]
	go func() {
		defer close(done)
		_ = ch.Run(ctx)
	}()
	h.runs[i] = chainRun{cancel: cancel, done: done}
	return nil
}

// plant is the protection's view of the controller: it forwards to the
// hasher in service, and has no chains while that one cannot be guarded
// (the CPU).
type plant struct{ c *core }

var _ control.Plant = plant{}

func (p plant) guarded() (guardedHasher, error) {
	if g, ok := p.c.currentHasher().(guardedHasher); ok {
		return g, nil
	}
	return nil, control.ErrUnsupported
}

// Chains implements control.Plant.
func (p plant) Chains() int {
	if g, err := p.guarded(); err == nil {
		return g.chainCount()
	}
	return 0
}

// Temperature implements control.Plant.
func (p plant) Temperature(i int) (float64, error) {
	g, err := p.guarded()
	if err != nil {
		return 0, err
	}
	return g.temperature(i)
}

// Voltage implements control.Plant.
func (p plant) Voltage(i int) (float64, float64, error) {
	g, err := p.guarded()
	if err != nil {
		return 0, 0, err
	}
	return g.voltage(i)
}

// Fans implements control.Plant.
func (p plant) Fans() (rpm []int, stalled []int) { return p.c.fan.RPMs(), p.c.fan.Stalled() }

// Throttle implements control.Plant.
func (p plant) Throttle(i int, f float64) error {
	g, err := p.guarded()
	if err != nil {
		return err
	}
	return g.throttle(i, f)
}

// Stop implements control.Plant.
func (p plant) Stop(i int) error {
	g, err := p.guarded()
	if err != nil {
		return err
	}
	return g.stopChain(i)
}

// Start implements control.Plant.
func (p plant) Start(i int) error {
	g, err := p.guarded()
	if err != nil {
		return err
	}
	return g.startChain(i)
}

// protectionEvent stores a guard transition in the event log.
func (c *core) protectionEvent(e control.Event) {
	c.event(e.Level, "protection", e.Kind, e.Message)
}

// ProtectionState implements webui.Protection.
func (c *core) ProtectionState() []webui.ChainProtection {
	var out []webui.ChainProtection
	for _, s := range c.guard.State() {
		out = append(out, webui.ChainProtection{Chain: s.Chain, State: s.State, Reason: s.Reason,
			Throttle: s.Factor, Restarts: s.Restarts})
	}
	return out
}

// ResetProtection implements webui.Protection.
func (c *core) ResetProtection(_ context.Context, chain int) error {
	if err := c.guard.Reset(chain); err != nil {
		return fmt.Errorf("%v: %w", err, webui.ErrInvalid)
	}
	c.event(store.LevelInfo, "protection", "reset", fmt.Sprintf("chain %d reset by the owner", chain))
	return nil
}
