package app

import (
	"errors"
	"fmt"

	"github.com/kilnfw/kiln/hal/sim"
	"github.com/kilnfw/kiln/webui"
)

// simBoard returns the simulated board in service, if that is what runs.
func (c *core) simBoard() (*sim.Board, error) {
	if h, ok := c.currentHasher().(*simHasher); ok {
		h.mu.Lock()
		b := h.board
		h.mu.Unlock()
		if b != nil {
			return b, nil
		}
		return nil, fmt.Errorf("the simulated board is still starting: %w", webui.ErrInvalid)
	}
	return nil, fmt.Errorf("fault injection needs the simulated board (--board sim): %w", webui.ErrUnsupported)
}

// InjectFault implements webui.SimFaults.
func (c *core) InjectFault(f webui.SimFault) error {
	b, err := c.simBoard()
	if err != nil {
		return err
	}
	if err := b.InjectFault(f.Fault, f.Chain, f.Chip); err != nil {
		if errors.Is(err, sim.ErrRange) || errors.Is(err, sim.ErrFaultKind) {
			return fmt.Errorf("%v: %w", err, webui.ErrInvalid)
		}
		return err
	}
	c.log.Warn("simulated fault injected", "fault", f.Fault, "chain", f.Chain, "chip", f.Chip)
	return nil
}

// ClearFaults implements webui.SimFaults.
func (c *core) ClearFaults() {
	if b, err := c.simBoard(); err == nil {
		b.ClearFaults()
	}
}

// Faults implements webui.SimFaults.
func (c *core) Faults() []webui.SimFault {
	b, err := c.simBoard()
	if err != nil {
		return nil
	}
	var out []webui.SimFault
	for _, f := range b.Faults() {
		out = append(out, webui.SimFault{Fault: f.Kind, Chain: f.Chain, Chip: f.Chip})
	}
	return out
}
