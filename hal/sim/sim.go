// Package sim is a simulated hash board: one chips/emulator chain per hash
// chain behind a real pseudo-terminal, plus temperature sensors, a fan,
// voltage regulators and power meters that implement the hal interfaces
// and feed or read the emulators' heat, error and power models.
//
// The physics is close enough to hardware for fan control, protection and
// tuning to be exercised on it: each chip heats at its own clock towards
// ambient + k·cooling(duty)·f·V² with a 5 s lag, and each chain's sensor
// reads its hottest chip; the fan's airflow sets the cooling; the board
// draws its chips' power plus the fan's and the control board's; chips
// overclocked past their hidden limit corrupt nonces. InjectFault adds the
// failures a controller must survive: a stalled fan, a failed sensor, hot
// air, a chip that drops out and a sagging core supply.
//
// The controller's driver opens the slave path of each chain (SerialPaths,
// e.g. /dev/pts/7) exactly as it opens /dev/ttyS1 on a control board, sets
// raw mode and any line rate through termios, and speaks the BM13xx
// protocol to it: the code that runs against the simulation is the code
// that runs on hardware.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/chips/emulator"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/hal/pty"
)

// MaxChains bounds BoardConfig.Chains: a control board drives a handful of
// hash chains, and each costs a pseudo-terminal.
const MaxChains = 16

// BoardConfig describes a simulated board.
type BoardConfig struct {
	// Model is the chip family of every chain.
	Model bm13xx.Model
	// Chains is the number of hash chains, 1–MaxChains; ChipsPerChain the
	// chips on each, 1–256.
	Chains, ChipsPerChain int
	// ScaleDown divides the chips' hash rate (emulator.Config.ScaleDown).
	// 0 means emulator.DefaultScaleDown × ChipsPerChain, so that a chain at
	// the default clock hashes a few MH/s of real SHA-256d in total (one
	// BM1366 chain ≈ 4.3 MH/s) however long it is.
	ScaleDown float64
	// Seed seeds the chains' random sources (chain i gets Seed+i) and the
	// fan's tachometer noise.
	Seed int64
	// Log receives debug events; nil discards them.
	Log *slog.Logger
	// Now is the clock of the heat model and hashing pace; nil means
	// time.Now.
	Now func() time.Time
}

// Board is a running simulated board. Its methods are safe for concurrent
// use.
type Board struct {
	cfg    BoardConfig
	log    *slog.Logger
	chains []*chain
	fan    *fan
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	err    error

	// mu guards the air temperature, the injected faults and each
	// chain's overheat flag; it is taken before any device's lock.
	mu       sync.Mutex
	ambientC float64
	faults   []Fault
}

// chain is one hash chain: its emulator, line and power.
type chain struct {
	emu           *emulator.Chain
	master, slave *os.File
	reg           *regulator
	// sensorFailed makes its temperature sensor fail.
	sensorFailed atomic.Bool
	// overheat adds OverheatRiseC to its air; guarded by Board.mu.
	overheat bool
}

// Start opens one pseudo-terminal per chain and serves an emulator on each;
// it returns once every line is ready for a driver to open. The board stops
// when ctx ends or Close is called.
func Start(ctx context.Context, cfg BoardConfig) (*Board, error) {
	if cfg.Chains < 1 || cfg.Chains > MaxChains {
		return nil, fmt.Errorf("sim: %d chains: want 1-%d", cfg.Chains, MaxChains)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := &Board{cfg: cfg, log: cfg.Log, done: make(chan struct{}), ambientC: emulator.DefaultAmbientC}
	for i := range cfg.Chains {
		ch, err := newChain(cfg, i)
		if err != nil {
			b.closeFiles()
			return nil, err
		}
		b.chains = append(b.chains, ch)
	}
	b.fan = newFan(b, cfg.Seed)
	ctx, b.cancel = context.WithCancel(ctx)
	for i, ch := range b.chains {
		b.wg.Go(func() {
			if err := ch.emu.Serve(ctx, ch.master); err != nil {
				b.log.Error("chain stopped", "chain", i, "err", err)
			}
		})
	}
	go b.stopWhenDone(ctx)
	return b, nil
}

// newChain builds chain i: its emulator and pseudo-terminal.
func newChain(cfg BoardConfig, i int) (*chain, error) {
	scale := cfg.ScaleDown
	if scale == 0 {
		scale = emulator.DefaultScaleDown * float64(max(cfg.ChipsPerChain, 1))
	}
	emu, err := emulator.New(emulator.Config{
		Model:     cfg.Model,
		Chips:     cfg.ChipsPerChain,
		ScaleDown: scale,
		Seed:      cfg.Seed + int64(i),
		Log:       cfg.Log.With("chain", i),
		Now:       cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("sim: chain %d: %w", i, err)
	}
	master, slave, err := pty.OpenRaw()
	if err != nil {
		return nil, fmt.Errorf("sim: chain %d: %w", i, err)
	}
	ch := &chain{emu: emu, master: master, slave: slave}
	ch.reg = newRegulator(emu, emulator.NominalVoltageMV(cfg.Model))
	return ch, nil
}

// stopWhenDone waits for ctx, then for the emulators, and closes the lines.
func (b *Board) stopWhenDone(ctx context.Context) {
	<-ctx.Done()
	b.wg.Wait()
	b.err = b.closeFiles()
	close(b.done)
}

// closeFiles closes every pseudo-terminal end the board opened.
func (b *Board) closeFiles() error {
	var errs []error
	for _, ch := range b.chains {
		for _, f := range []*os.File{ch.master, ch.slave} {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				errs = append(errs, fmt.Errorf("sim: close %s: %w", f.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the emulators and closes the pseudo-terminals; it returns
// once nothing of the board runs any more. Reads of a driver still holding
// a slave path open fail from then on.
func (b *Board) Close() error {
	b.cancel()
	<-b.done
	return b.err
}

// SerialPaths returns the slave device of each chain, e.g. /dev/pts/7, in
// chain order: what a driver opens instead of /dev/ttyS1.
func (b *Board) SerialPaths() []string {
	out := make([]string, len(b.chains))
	for i, ch := range b.chains {
		out[i] = ch.slave.Name()
	}
	return out
}

// Chains returns the number of chains.
func (b *Board) Chains() int { return len(b.chains) }

// Emulator returns chain i's emulator, for fault injection and telemetry;
// nil when i is out of range.
func (b *Board) Emulator(i int) *emulator.Chain {
	if i < 0 || i >= len(b.chains) {
		return nil
	}
	return b.chains[i].emu
}

// TempSensor returns chain i's temperature sensor; nil when i is out of
// range. It reads the hottest die of the chain (each chip heats at its own
// clock), as a controller protecting the chain needs; a sensor_failure
// fault makes it return an error wrapping ErrSensor.
func (b *Board) TempSensor(i int) hal.TempSensor {
	if i < 0 || i >= len(b.chains) {
		return nil
	}
	return tempSensor{ch: b.chains[i], index: i}
}

// Regulator returns chain i's core-voltage regulator; SetVoltage feeds the
// emulator, and Voltage reads what the chips get (less than the setpoint
// during a voltage_sag fault). Nil when i is out of range.
func (b *Board) Regulator(i int) hal.VoltageRegulator {
	if i < 0 || i >= len(b.chains) {
		return nil
	}
	return b.chains[i].reg
}

// Fan returns the board's fan: duty in, tachometer out, and the airflow
// sets every chain's cooling (see CoolingFactor).
func (b *Board) Fan() hal.Fan { return b.fan }
