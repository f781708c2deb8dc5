package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/hal/board"
	"github.com/kilnfw/kiln/hal/host"
	"github.com/kilnfw/kiln/mining"
)

// bareBitaxe is --board bitaxe: one Bitaxe-class chain on the UART given
// with --serial, no sensors or regulators (the full boards are profiles).
const bareBitaxe = "bitaxe"

// defaultSimChip is the chip of the default simulated board: a
// Bitaxe-class single chain.
const defaultSimChip = "BM1366"

// resolveBoard turns --board and its companion flags into a plan:
// cpu, sim, usb, a named profile, or auto (detected hardware, else sim).
func resolveBoard(o *options, log *slog.Logger) (boardPlan, error) {
	switch o.board {
	case "cpu":
		return cpuPlan{threads: o.threads}, nil
	case "gpu":
		return newGPUPlan(o.gpuDevice, log)
	case "sim":
		return newSimPlan(o, log)
	case "auto":
		if p, ok := detectBoard(log); ok {
			log.Info("board detected", "profile", p.Name)
			return newProfilePlan(o, p, log)
		}
		log.Info("no hash board found: using the simulated board")
		return newSimPlan(o, log)
	case board.USBName:
		if len(o.serials) == 0 {
			return nil, errors.New("--board usb needs --serial PATH (e.g. /dev/ttyUSB0) and --chip")
		}
		chip, err := o.chipModel("")
		if err != nil {
			return nil, err
		}
		return serialPlan{chipPlan: o.chipPlan(board.USBName, chip, 0, log), paths: o.serials}, nil
	case bareBitaxe:
		// A Bitaxe-class chain on a given UART, with no board devices: for
		// a chain wired to a PC, or an external emulator on a pty.
		if len(o.serials) != 1 {
			return nil, errors.New("--board bitaxe needs exactly one --serial PATH")
		}
		chip, err := o.chipModel(defaultSimChip)
		if err != nil {
			return nil, err
		}
		return serialPlan{chipPlan: o.chipPlan(bareBitaxe, chip, 0, log), paths: o.serials}, nil
	default:
		p, err := board.Lookup(o.board)
		if err != nil {
			return nil, fmt.Errorf("--board %s: want auto, sim, cpu, gpu, usb, bitaxe or one of %s", o.board, strings.Join(board.Names(), ", "))
		}
		return newProfilePlan(o, p, log)
	}
}

// detectBoard looks for known hardware on this host.
func detectBoard(log *slog.Logger) (board.Profile, bool) {
	if err := host.Init(); err != nil {
		log.Debug("hardware drivers", "err", err)
	}
	return board.Detect(board.HostEnv(host.Probe))
}

func (o *options) chipModel(def string) (bm13xx.Model, error) {
	name := o.chip
	if name == "" {
		name = def
	}
	if name == "" {
		return bm13xx.Model{}, errors.New("--chip is required (BM1397, BM1366, BM1368 or BM1370)")
	}
	m, err := bm13xx.ModelByName(name)
	if err != nil {
		return bm13xx.Model{}, fmt.Errorf("--chip %s: %w", name, err)
	}
	return m, nil
}

func (o *options) chipPlan(kind string, m bm13xx.Model, expected int, log *slog.Logger) chipPlan {
	return chipPlan{kind: kind, model: m, frequency: o.frequency, difficulty: o.chipDifficulty,
		expected: expected, log: log}
}

func newSimPlan(o *options, log *slog.Logger) (boardPlan, error) {
	m, err := o.chipModel(defaultSimChip)
	if err != nil {
		return nil, err
	}
	if len(o.serials) > 0 {
		return nil, errors.New("--serial does not apply to --board sim (its chains are pseudo-terminals it makes)")
	}
	return simPlan{chipPlan: o.chipPlan("sim", m, o.simChips, log), chains: o.simChains,
		chips: o.simChips, scale: o.simScale}, nil
}

// profilePlan drives a board described by a profile: its regulators,
// power and reset lines come up through hal/board before the chains.
type profilePlan struct {
	serialPlan
	profile board.Profile
}

func newProfilePlan(o *options, p board.Profile, log *slog.Logger) (boardPlan, error) {
	m, err := o.chipModel(p.Chip)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(p.Chains))
	for i, ch := range p.Chains {
		paths[i] = ch.Device
		if i < len(o.serials) {
			paths[i] = o.serials[i]
			p.Chains[i].Device = o.serials[i]
		}
		if paths[i] == "" {
			return nil, fmt.Errorf("--board %s: chain %d has no serial device; give --serial", p.Name, i)
		}
	}
	if o.frequency == 0 && p.Frequency > 0 {
		o.frequency = float64(p.Frequency / physic.MegaHertz)
	}
	expected := 0
	if len(p.Chains) > 0 {
		expected = p.Chains[0].Chips
	}
	return profilePlan{serialPlan: serialPlan{chipPlan: o.chipPlan(p.Name, m, expected, log), paths: paths}, profile: p}, nil
}

func (p profilePlan) build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error) {
	return &profileHasher{plan: p, work: work, results: results}, nil
}

// profileHasher opens the board's hardware when it runs: regulators to the
// profile voltage, supplies on, then a chain driver per chain with its reset
// line.
type profileHasher struct {
	plan    profilePlan
	work    *mining.Dispatcher
	results func(mining.Result) error
	serialHasher
}

func (h *profileHasher) Run(ctx context.Context) error {
	if err := host.Init(); err != nil {
		return err
	}
	hw, err := board.Open(h.plan.profile, board.Host{OpenI2C: host.OpenI2C, Pin: host.Pin, Log: h.plan.log.With("pkg", "board")})
	if err != nil {
		return err
	}
	defer hw.Close()
	h.serialHasher.plan = h.plan.serialPlan
	for i, io := range hw.Chains {
		if io.Regulator != nil && h.plan.profile.Voltage > 0 {
			if err := io.Regulator.SetVoltage(h.plan.profile.Voltage); err != nil {
				return fmt.Errorf("board: chain %d voltage: %w", i, err)
			}
		}
		if io.Power != nil {
			if err := io.Power.SetPower(true); err != nil {
				return fmt.Errorf("board: chain %d power: %w", i, err)
			}
		}
		cfg := h.plan.chainConfig(i, openUART(h.plan.paths[i]), h.work, h.results)
		if io.Reset != nil {
			cfg.Reset = io.Reset
		}
		ch, err := bm13xx.NewChain(cfg)
		if err != nil {
			return err
		}
		h.chains = append(h.chains, ch)
	}
	return runChains(ctx, h.chains)
}
