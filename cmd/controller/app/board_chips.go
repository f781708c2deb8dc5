package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/chips/emulator"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/hal/sim"
	"github.com/kilnfw/kiln/hal/uart"
	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/webui"
)

// simNoncesPerChip is the nonce rate per chip the automatic simulated chip
// difficulty aims at: enough for a live per-chip hashrate, few enough that
// host verification stays cheap.
const simNoncesPerChip = 10

// simRampStep is the pause between frequency steps on the simulated board.
const simRampStep = 10 * time.Millisecond

// simPollInterval is how often the simulated chains' chips are polled: a
// chip that stops answering is noticed after three of them.
const simPollInterval = time.Second

// chipPlan is what every chip board shares: the chip model, the clock and
// ticket difficulty, and where each chain's serial line is.
type chipPlan struct {
	kind       string
	model      bm13xx.Model
	frequency  float64       // MHz, 0 = model default
	voltage    float64       // core mV, 0 = the board's default
	difficulty float64       // ticket difficulty, 0 = driver default (256)
	expected   int           // chips per chain, 0 = whatever answers
	rampStep   time.Duration // 0 = the driver's pace for silicon
	// pollInterval is the chips' liveness poll; 0 = the driver's default.
	pollInterval time.Duration
	log          *slog.Logger
}

func (p chipPlan) name() string { return p.kind }

// dispatcherOptions: BM1366-class chips roll version bits themselves.
func (p chipPlan) dispatcherOptions() []mining.DispatcherOption {
	if p.model.HardwareRolling {
		return []mining.DispatcherOption{mining.UnitsRollVersion()}
	}
	return nil
}

func (p chipPlan) mhz() float64 {
	if p.frequency > 0 {
		return p.frequency
	}
	return p.model.DefaultMHz
}

// chipHashrate is one real chip's hash rate at the plan's clock.
func (p chipPlan) chipHashrate() float64 {
	return p.mhz() * 1e6 * float64(p.model.Cores*p.model.SmallCores)
}

// chainConfig is the driver configuration for chain i on the line open opens.
func (p chipPlan) chainConfig(i int, open func() (bm13xx.Port, error), work *mining.Dispatcher, results func(mining.Result) error) bm13xx.ChainConfig {
	return bm13xx.ChainConfig{
		Index:         i,
		Model:         p.model,
		Open:          open,
		ExpectedChips: p.expected,
		FrequencyMHz:  p.frequency,
		Difficulty:    p.difficulty,
		Work:          work,
		Results:       results,
		RampStep:      p.rampStep,
		PollInterval:  p.pollInterval,
		Log:           p.log.With("pkg", "bm13xx"),
	}
}

// openUART opens a chain's serial line at the chips' power-on rate.
func openUART(path string) func() (bm13xx.Port, error) {
	return func() (bm13xx.Port, error) { return uart.Open(path, hal.Baud115200) }
}

// simPlan is a simulated board: chip emulators behind pseudo-terminals,
// driven by the real driver through the real serial code.
type simPlan struct {
	chipPlan
	chains, chips int
	scale         float64 // emulator ScaleDown; 0 = sim's default
}

// scaleDown is the emulator's divisor as hal/sim will apply it.
func (p simPlan) scaleDown() float64 {
	if p.scale > 0 {
		return p.scale
	}
	return emulator.DefaultScaleDown * float64(p.chips)
}

func (p simPlan) expectedHashrate() float64 {
	return float64(p.chains*p.chips) * p.chipHashrate() / p.scaleDown()
}

// autoDifficulty picks the simulated ticket so each chip reports about
// simNoncesPerChip nonces a second: a power of two, usually below 1.
func (p simPlan) autoDifficulty() float64 {
	perChip := p.chipHashrate() / p.scaleDown()
	return math.Exp2(math.Floor(math.Log2(perChip / (1 << 32) / simNoncesPerChip)))
}

func (p simPlan) build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error) {
	if p.difficulty == 0 {
		p.difficulty = p.autoDifficulty()
	}
	p.expected = p.chips
	// Emulated PLLs lock at once: ramp in the same steps, without the
	// pauses real silicon needs.
	p.rampStep = simRampStep
	p.pollInterval = simPollInterval
	return &simHasher{plan: p, work: work, results: results}, nil
}

// simHasher starts the simulated board when it runs, then drives it.
type simHasher struct {
	plan    simPlan
	work    *mining.Dispatcher
	results func(mining.Result) error

	mu     sync.Mutex
	board  *sim.Board
	chains []*bm13xx.Chain
	// ctx is Run's; runs are the chains' drivers, stopped and started
	// one by one by the protection.
	ctx  context.Context
	runs []chainRun
	// voltageMV overrides the plan's core voltage (autotuning); 0: none.
	voltageMV float64
	// startedAt is when the board came up.
	startedAt time.Time
}

func (h *simHasher) Run(ctx context.Context) error {
	board, err := sim.Start(ctx, sim.BoardConfig{
		Model: h.plan.model, Chains: h.plan.chains, ChipsPerChain: h.plan.chips,
		ScaleDown: h.plan.scale, Log: h.plan.log.With("pkg", "sim"),
	})
	if err != nil {
		return err
	}
	defer board.Close()
	if h.plan.voltage > 0 {
		for i := range board.Chains() {
			if err := board.Regulator(i).SetVoltage(physic.ElectricPotential(h.plan.voltage) * physic.MilliVolt); err != nil {
				return fmt.Errorf("sim: chain %d voltage: %w", i, err)
			}
		}
	}
	var chains []*bm13xx.Chain
	for i, path := range board.SerialPaths() {
		ch, err := bm13xx.NewChain(h.plan.chainConfig(i, openUART(path), h.work, h.results))
		if err != nil {
			return err
		}
		chains = append(chains, ch)
	}
	h.mu.Lock()
	h.board, h.chains, h.ctx, h.runs = board, chains, ctx, make([]chainRun, len(chains))
	h.startedAt = time.Now()
	h.mu.Unlock()
	h.plan.log.Info("simulated board started", "chip", h.plan.model.Name, "chains", h.plan.chains,
		"chips_per_chain", h.plan.chips, "serial", board.SerialPaths(), "chip_difficulty", h.plan.difficulty)
	for i := range chains {
		if err := h.startChain(i); err != nil {
			return err
		}
	}
	<-ctx.Done()
	for i := range chains {
		_ = h.stopChain(i)
	}
	return nil
}

// runChains runs every chain until ctx ends.
func runChains(ctx context.Context, chains []*bm13xx.Chain) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, ch := range chains {
		g.Go(func() error { return ch.Run(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (h *simHasher) Units() int { return h.plan.chains * h.plan.chips }

// Fans returns the simulated board's fan once the board runs.
func (h *simHasher) Fans() []hal.Fan {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.board == nil {
		return nil
	}
	return []hal.Fan{h.board.Fan()}
}

// Boards reports the driver's view of every chain, with each chip's
// temperature and voltage from the simulated board's telemetry.
func (h *simHasher) Boards() []webui.Board {
	h.mu.Lock()
	board, chains := h.board, h.chains // set together once the board runs
	h.mu.Unlock()
	return describeBoard("sim", h.plan.model.Name, chains, func(i int) (string, func(int) (float64, float64)) {
		emu := board.Emulator(i).Chips()
		return board.SerialPaths()[i], func(chip int) (mv, temp float64) {
			if chip < len(emu) {
				return emu[chip].VoltageMV, emu[chip].TemperatureC
			}
			return 0, 0
		}
	})
}

// describeBoard describes one board of chains for the API; chain gives chain
// i's serial path and its chips' telemetry.
func describeBoard(kind, model string, chains []*bm13xx.Chain,
	chain func(i int) (serial string, telemetry func(chip int) (mv, temp float64))) []webui.Board {
	out := webui.Board{Kind: kind, Model: model, Chains: []webui.Chain{}}
	for i, ch := range chains {
		serial, telemetry := chain(i)
		c := chainView(ch.Status(), serial, telemetry)
		out.HashrateHS += c.HashrateHS
		out.Chains = append(out.Chains, c)
	}
	return []webui.Board{out}
}

// chainView turns a driver status into the API's chain; telemetry gives a
// chip's voltage and temperature where the board can tell them.
func chainView(st bm13xx.ChainStatus, serial string, telemetry func(chip int) (mv, temp float64)) webui.Chain {
	c := webui.Chain{
		Index: st.Index, Serial: serial, State: st.State, FrequencyMHz: st.FrequencyMHz,
		ChipDifficulty: st.Difficulty, CRCErrors: st.CRCErrors, StaleNonces: st.StaleNonces,
		HWErrors: st.HWErrors, Reinits: st.Reinits, LastError: st.LastError, Chips: []webui.Chip{},
	}
	var n int
	for _, cs := range st.Chips {
		chip := webui.Chip{
			Index: cs.Index, Address: int(cs.Address), FrequencyMHz: cs.FrequencyMHz,
			HashrateHS: cs.HashrateHS, Nonces: cs.Nonces - cs.HWErrors, HWErrors: cs.HWErrors,
			HWErrorRate: cs.HWErrorRate, Responding: cs.Responding,
		}
		chip.VoltageMV, chip.TemperatureC = telemetry(cs.Index)
		if !cs.LastNonce.IsZero() {
			t := cs.LastNonce
			chip.LastNonce = &t
		}
		c.HashrateHS += chip.HashrateHS
		if chip.VoltageMV > 0 {
			c.VoltageMV += chip.VoltageMV
			c.TemperatureC = max(c.TemperatureC, chip.TemperatureC)
			n++
		}
		c.Chips = append(c.Chips, chip)
	}
	if n > 0 {
		c.VoltageMV /= float64(n)
	}
	return c
}

// serialPlan drives chains on serial devices given by path: a USB stick
// miner, a Bitaxe-class UART, or an external emulator on a pseudo-terminal.
type serialPlan struct {
	chipPlan
	paths []string
}

func (p serialPlan) expectedHashrate() float64 {
	n := p.expected
	if n == 0 {
		n = 1
	}
	return float64(len(p.paths)*n) * p.chipHashrate()
}

func (p serialPlan) build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error) {
	h := &serialHasher{plan: p}
	for i, path := range p.paths {
		ch, err := bm13xx.NewChain(p.chainConfig(i, openUART(path), work, results))
		if err != nil {
			return nil, err
		}
		h.chains = append(h.chains, ch)
	}
	return h, nil
}

type serialHasher struct {
	plan   serialPlan
	chains []*bm13xx.Chain
}

func (h *serialHasher) Run(ctx context.Context) error { return runChains(ctx, h.chains) }

func (h *serialHasher) Units() int {
	n := 0
	for _, ch := range h.chains {
		n += len(ch.Status().Chips)
	}
	return n
}

func (h *serialHasher) Boards() []webui.Board {
	return describeBoard(h.plan.kind, h.plan.model.Name, h.chains, func(i int) (string, func(int) (float64, float64)) {
		return h.plan.paths[i], func(int) (float64, float64) { return 0, 0 } // no per-chip sensors
	})
}
