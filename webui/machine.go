package webui

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// SimFault is one fault injected into the simulated board.
type SimFault struct {
	Fault string `json:"fault"` // fan_stall, sensor_failure, overheat, chip_dropout, voltage_sag
	Chain int    `json:"chain"`
	Chip  int    `json:"chip"`
}

// SimFaults is the optional part of Control on a simulated board: fault
// injection for tests and demos.
type SimFaults interface {
	InjectFault(f SimFault) error
	ClearFaults()
	Faults() []SimFault
}

// ChainProtection is the thermal and electrical protection state of one
// chain.
type ChainProtection struct {
	Board int    `json:"board"`
	Chain int    `json:"chain"`
	State string `json:"state"` // ok, throttled, stopped, locked
	// Reason says why it is not ok.
	Reason string `json:"reason,omitempty"`
	// Throttle is the clock factor in force (1: full speed).
	Throttle float64 `json:"throttle"`
	// Restarts counts automatic restarts in the current window.
	Restarts int `json:"restarts"`
}

// Protection is the optional part of Control that reports and resets the
// protection of the chains.
type Protection interface {
	ProtectionState() []ChainProtection
	// ResetProtection lets a locked chain start again.
	ResetProtection(ctx context.Context, chain int) error
}

// AutotuneRequest is the body of POST /api/v1/autotune.
type AutotuneRequest struct {
	// Mode is max_hashrate, power_target or efficiency.
	Mode string `json:"mode"`
	// PowerW is the target of power_target mode.
	PowerW float64 `json:"power_w,omitempty"`
	// HWErrorBudget is the hardware-error ratio a chip may show (0:
	// the default, 1 %).
	HWErrorBudget float64 `json:"hw_error_budget,omitempty"`
	// Resume continues a stopped run instead of starting afresh.
	Resume bool `json:"resume,omitempty"`
}

// ChipFrequency is one chip's tuned clock.
type ChipFrequency struct {
	Chain        int     `json:"chain"`
	Chip         int     `json:"chip"`
	FrequencyMHz float64 `json:"frequency_mhz"`
}

// AutotuneResult is what a finished run found and applied.
type AutotuneResult struct {
	Mode       string          `json:"mode"`
	Chips      []ChipFrequency `json:"chips"`
	VoltageMV  float64         `json:"voltage_mv"`
	PowerW     float64         `json:"power_w"`
	HashrateHS float64         `json:"hashrate_hs"`
	JPerTH     float64         `json:"j_per_th"`
	// Baseline is the operating point the run started from (efficiency
	// mode), to compare with.
	Baseline *OperatingPoint `json:"baseline,omitempty"`
}

// OperatingPoint is a measured state of the board.
type OperatingPoint struct {
	VoltageMV  float64 `json:"voltage_mv"`
	PowerW     float64 `json:"power_w"`
	HashrateHS float64 `json:"hashrate_hs"`
	JPerTH     float64 `json:"j_per_th"`
}

// AutotuneStatus is the body of GET /api/v1/autotune.
type AutotuneStatus struct {
	Mode     string          `json:"mode,omitempty"`
	State    string          `json:"state"` // idle, running, stopped, done, failed
	Progress float64         `json:"progress"`
	Message  string          `json:"message,omitempty"`
	Result   *AutotuneResult `json:"result,omitempty"`
}

// Autotuner is the optional part of Control that tunes the chips.
type Autotuner interface {
	AutotuneStatus() AutotuneStatus
	StartAutotune(ctx context.Context, r AutotuneRequest) error
	StopAutotune(ctx context.Context) error
}

// ChipTuning is the body of PUT /api/v1/tuning/chips: one chip's clock.
type ChipTuning struct {
	Board        int     `json:"board"`
	Chain        int     `json:"chain"`
	Chip         int     `json:"chip"`
	FrequencyMHz float64 `json:"frequency_mhz"`
}

// ChipTuner is the optional part of Control that clocks chips one by one.
type ChipTuner interface {
	SetChipFrequency(ctx context.Context, t ChipTuning) error
}

// Fault kinds POST /api/v1/sim/faults accepts.
var faultKinds = map[string]bool{"fan_stall": true, "sensor_failure": true, "overheat": true,
	"chip_dropout": true, "voltage_sag": true}

var errNotSim = &httpError{status: http.StatusNotFound, msg: "fault injection needs the simulated board (--board sim)"}

func (s *Server) simFaults() (SimFaults, error) {
	if f, ok := s.control.(SimFaults); ok && s.control != nil {
		return f, nil
	}
	return nil, errNotSim
}

// listFaults serves GET /api/v1/sim/faults.
func (s *Server) listFaults(c *gin.Context) error {
	f, err := s.simFaults()
	if err != nil {
		return err
	}
	out := f.Faults()
	if out == nil {
		out = []SimFault{}
	}
	return writeJSON(c, http.StatusOK, out)
}

// injectFault serves POST /api/v1/sim/faults.
func (s *Server) injectFault(c *gin.Context) error {
	f, err := s.simFaults()
	if err != nil {
		return err
	}
	var body SimFault
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if !faultKinds[body.Fault] {
		return errorf(http.StatusBadRequest, "fault must be one of fan_stall, sensor_failure, overheat, chip_dropout, voltage_sag")
	}
	if body.Chain < 0 || body.Chip < 0 {
		return errorf(http.StatusBadRequest, "chain and chip must not be negative")
	}
	if err := controlError(f.InjectFault(body)); err != nil {
		return err
	}
	s.event(c.Request.Context(), "warn", "sim", "fault_injected", "simulated fault injected: "+body.Fault)
	return writeJSON(c, http.StatusCreated, f.Faults())
}

// clearFaults serves DELETE /api/v1/sim/faults.
func (s *Server) clearFaults(c *gin.Context) error {
	f, err := s.simFaults()
	if err != nil {
		return err
	}
	f.ClearFaults()
	s.event(c.Request.Context(), "info", "sim", "faults_cleared", "simulated faults cleared")
	c.Status(http.StatusNoContent)
	return nil
}

// protection serves GET /api/v1/protection.
func (s *Server) protection(c *gin.Context) error {
	p, ok := s.control.(Protection)
	if !ok || s.control == nil {
		return writeJSON(c, http.StatusOK, []ChainProtection{})
	}
	out := p.ProtectionState()
	if out == nil {
		out = []ChainProtection{}
	}
	for i := range out {
		out[i].Throttle = finite(out[i].Throttle)
	}
	return writeJSON(c, http.StatusOK, out)
}

// resetProtection serves POST /api/v1/protection/reset/{chain}.
func (s *Server) resetProtection(c *gin.Context) error {
	p, ok := s.control.(Protection)
	if !ok || s.control == nil {
		return errNoControl
	}
	i, err := pathIndex(c, "chain")
	if err != nil {
		return err
	}
	if err := controlError(p.ResetProtection(c.Request.Context(), i)); err != nil {
		return err
	}
	return s.protection(c)
}

func (s *Server) autotuner() (Autotuner, error) {
	if a, ok := s.control.(Autotuner); ok && s.control != nil {
		return a, nil
	}
	return nil, errorf(http.StatusNotFound, "this board cannot be autotuned")
}

// autotuneStatus serves GET /api/v1/autotune.
func (s *Server) autotuneStatus(c *gin.Context) error {
	a, err := s.autotuner()
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, a.AutotuneStatus())
}

// startAutotune serves POST /api/v1/autotune.
func (s *Server) startAutotune(c *gin.Context) error {
	a, err := s.autotuner()
	if err != nil {
		return err
	}
	var body AutotuneRequest
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	switch body.Mode {
	case "max_hashrate", "efficiency":
	case "power_target":
		if !(body.PowerW > 0 && body.PowerW < 100000) {
			return errorf(http.StatusBadRequest, "power_target needs power_w, the board's power target in watts")
		}
	default:
		return errorf(http.StatusBadRequest, "mode must be max_hashrate, power_target or efficiency")
	}
	if body.HWErrorBudget < 0 || body.HWErrorBudget > 0.2 {
		return errorf(http.StatusBadRequest, "hw_error_budget must be from 0 to 0.2")
	}
	if err := controlError(a.StartAutotune(c.Request.Context(), body)); err != nil {
		return err
	}
	return writeJSON(c, http.StatusAccepted, a.AutotuneStatus())
}

// stopAutotune serves DELETE /api/v1/autotune.
func (s *Server) stopAutotune(c *gin.Context) error {
	a, err := s.autotuner()
	if err != nil {
		return err
	}
	if err := controlError(a.StopAutotune(c.Request.Context())); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, a.AutotuneStatus())
}

// setChipTuning serves PUT /api/v1/tuning/chips.
func (s *Server) setChipTuning(c *gin.Context) error {
	ct, ok := s.control.(ChipTuner)
	if !ok || s.control == nil {
		return errorf(http.StatusNotFound, "chips of this board cannot be clocked one by one")
	}
	var body ChipTuning
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Board < 0 || body.Chain < 0 || body.Chip < 0 {
		return errorf(http.StatusBadRequest, "board, chain and chip must not be negative")
	}
	t := s.control.Tuning()
	for _, b := range t.Boards {
		if b.Index == body.Board && (body.FrequencyMHz < b.Limits.FrequencyMinMHz || body.FrequencyMHz > b.Limits.FrequencyMaxMHz) {
			return errorf(http.StatusBadRequest, "frequency_mhz must be from %g to %g for %s",
				b.Limits.FrequencyMinMHz, b.Limits.FrequencyMaxMHz, b.Model)
		}
	}
	if err := controlError(ct.SetChipFrequency(c.Request.Context(), body)); err != nil {
		return err
	}
	return s.tuning(c)
}
