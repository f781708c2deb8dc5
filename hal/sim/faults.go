package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Fault kinds, as the REST API names them.
const (
	// FaultFanStall stops the fan's rotor: its tachometer reads 0 whatever
	// the duty and it moves no air (cooling as at 0 % duty); duty settings
	// are still taken and apply once the stall is cleared.
	FaultFanStall = "fan_stall"
	// FaultSensorFailure makes a chain's temperature sensor fail: every
	// read returns an error wrapping ErrSensor.
	FaultSensorFailure = "sensor_failure"
	// FaultOverheat raises the air temperature around a chain by
	// OverheatRiseC, as a blocked air path would.
	FaultOverheat = "overheat"
	// FaultChipDropout makes one chip stop answering and hashing (it still
	// relays frames for the chips beyond it).
	FaultChipDropout = "chip_dropout"
	// FaultVoltageSag makes a chain's regulator deliver sagFactor (85 %) of
	// its setpoint: Voltage reads the sagged value and the chips run at it.
	FaultVoltageSag = "voltage_sag"
)

// OverheatRiseC is how far an overheat fault raises a chain's air
// temperature, in °C: enough for its chips to pass any sane protection
// threshold within seconds.
const OverheatRiseC = 65

// ErrFaultKind reports a fault kind InjectFault does not know.
var ErrFaultKind = errors.New("sim: unknown fault kind")

// Fault is one injected fault. Chain and Chip are -1 where the kind does
// not apply to one (a fan stall is the board's; only a chip dropout names
// a chip).
type Fault struct {
	Kind  string `json:"kind"`
	Chain int    `json:"chain"`
	Chip  int    `json:"chip"`
}

// FaultKinds returns every kind InjectFault accepts.
func FaultKinds() []string {
	return []string{FaultFanStall, FaultSensorFailure, FaultOverheat, FaultChipDropout, FaultVoltageSag}
}

// InjectFault starts a fault of kind on the running board: on chain (for
// every kind but fan_stall) and on chip of it (chip_dropout only); the
// arguments a kind does not use are ignored. Injecting an active fault
// again changes nothing. An unknown kind gives an error wrapping
// ErrFaultKind, a chain or chip out of range one wrapping ErrRange.
func (b *Board) InjectFault(kind string, chain, chip int) error {
	f, err := b.fault(kind, chain, chip)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.faults, f) {
		return nil
	}
	b.setFault(f, true)
	b.faults = append(b.faults, f)
	b.log.Info("fault injected", "fault", f.Kind, "chain", f.Chain, "chip", f.Chip)
	return nil
}

// ClearFaults undoes every injected fault: the fan spins at its duty, the
// sensors read, the air and the voltages return to their settings and
// dropped chips answer again.
func (b *Board) ClearFaults() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range slices.Backward(b.faults) {
		b.setFault(f, false)
		b.log.Info("fault cleared", "fault", f.Kind, "chain", f.Chain, "chip", f.Chip)
	}
	b.faults = nil
}

// Faults returns the active faults in the order they were injected.
func (b *Board) Faults() []Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.faults)
}

// fault validates an injection and returns it in its normal form.
func (b *Board) fault(kind string, chain, chip int) (Fault, error) {
	switch kind {
	case FaultFanStall:
		return Fault{Kind: kind, Chain: -1, Chip: -1}, nil
	case FaultSensorFailure, FaultOverheat, FaultVoltageSag, FaultChipDropout:
	default:
		return Fault{}, fmt.Errorf("sim: fault %q: want one of %s: %w",
			kind, strings.Join(FaultKinds(), ", "), ErrFaultKind)
	}
	if chain < 0 || chain >= len(b.chains) {
		return Fault{}, fmt.Errorf("sim: fault %s: chain %d: want 0–%d: %w", kind, chain, len(b.chains)-1, ErrRange)
	}
	if kind != FaultChipDropout {
		return Fault{Kind: kind, Chain: chain, Chip: -1}, nil
	}
	if n := b.cfg.ChipsPerChain; chip < 0 || chip >= n {
		return Fault{}, fmt.Errorf("sim: fault %s: chip %d: want 0–%d: %w", kind, chip, n-1, ErrRange)
	}
	return Fault{Kind: kind, Chain: chain, Chip: chip}, nil
}

// setFault starts or ends the effect of f. Callers hold b.mu.
func (b *Board) setFault(f Fault, on bool) {
	switch f.Kind {
	case FaultFanStall:
		b.fan.setStalled(on)
	case FaultSensorFailure:
		b.chains[f.Chain].sensorFailed.Store(on)
	case FaultOverheat:
		ch := b.chains[f.Chain]
		ch.overheat = on
		b.applyAmbient(ch)
	case FaultVoltageSag:
		b.chains[f.Chain].reg.setSag(on)
	case FaultChipDropout:
		if on {
			b.chains[f.Chain].emu.StopChip(f.Chip)
		} else {
			b.chains[f.Chain].emu.ResumeChip(f.Chip)
		}
	}
}
