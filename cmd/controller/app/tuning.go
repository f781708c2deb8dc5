package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/kilnfw/kiln/control"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// settingTuning is the store key of the saved tuning (fan policy and
// per-board operating points), as JSON.
const settingTuning = "tuning"

// defaultFan is the fan policy of a fresh machine.
var defaultFan = webui.FanSetting{Mode: webui.FanAuto, TargetC: 65, Percent: 100}

// chipLimits are each chip model's safe operating range and its stock
// core voltage, the bounds the API enforces on frequency and voltage.
var chipLimits = map[string]struct {
	limits    webui.BoardLimits
	defaultMV float64
}{
	"BM1397": {webui.BoardLimits{FrequencyMinMHz: 200, FrequencyMaxMHz: 650, VoltageMinMV: 1300, VoltageMaxMV: 1500}, 1400},
	"BM1366": {webui.BoardLimits{FrequencyMinMHz: 300, FrequencyMaxMHz: 650, VoltageMinMV: 1100, VoltageMaxMV: 1300}, 1200},
	"BM1368": {webui.BoardLimits{FrequencyMinMHz: 300, FrequencyMaxMHz: 650, VoltageMinMV: 1100, VoltageMaxMV: 1300}, 1166},
	"BM1370": {webui.BoardLimits{FrequencyMinMHz: 300, FrequencyMaxMHz: 800, VoltageMinMV: 1000, VoltageMaxMV: 1300}, 1150},
}

// savedTuning is the JSON kept under settingTuning.
type savedTuning struct {
	Fan    webui.FanSetting             `json:"fan"`
	Boards map[string]webui.BoardTuning `json:"boards,omitempty"`
}

// loadTuning reads the saved tuning, or the defaults.
func loadTuning(ctx context.Context, st *store.Store) (savedTuning, error) {
	t := savedTuning{Fan: defaultFan, Boards: map[string]webui.BoardTuning{}}
	raw, ok, err := st.Setting(ctx, settingTuning)
	if err != nil || !ok {
		return t, err
	}
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return savedTuning{Fan: defaultFan, Boards: map[string]webui.BoardTuning{}},
			fmt.Errorf("tuning: saved settings unreadable (defaults used): %w", err)
	}
	if fanPolicy(t.Fan).Check() != nil {
		t.Fan = defaultFan
	}
	if t.Boards == nil {
		t.Boards = map[string]webui.BoardTuning{}
	}
	return t, nil
}

// saveTuning writes t.
func saveTuning(ctx context.Context, st *store.Store, t savedTuning) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("tuning: %w", err)
	}
	return st.SetSetting(ctx, settingTuning, string(b))
}

// fanPolicy converts the API's fan setting to the control loop's.
func fanPolicy(f webui.FanSetting) control.FanPolicy {
	return control.FanPolicy{Mode: f.Mode, TargetC: f.TargetC, Percent: f.Percent,
		MinPercent: f.MinPercent, MaxPercent: f.MaxPercent}
}

// tunablePlan is a board whose frequency and voltage can be set.
type tunablePlan interface {
	boardPlan
	// tuning returns the operating point in force and the model's limits.
	tuning() (webui.BoardTuning, webui.BoardLimits)
	// tuned returns the plan at operating point t.
	tuned(t webui.BoardTuning) boardPlan
}

// limits returns the plan's chip limits; a model without an entry can
// only keep its present operating point.
func (p chipPlan) limits() webui.BoardLimits {
	if l, ok := chipLimits[p.model.Name]; ok {
		return l.limits
	}
	f, v := p.mhz(), p.mv()
	return webui.BoardLimits{FrequencyMinMHz: f, FrequencyMaxMHz: f, VoltageMinMV: v, VoltageMaxMV: v}
}

// mv is the core voltage in force.
func (p chipPlan) mv() float64 {
	if p.voltage > 0 {
		return p.voltage
	}
	return chipLimits[p.model.Name].defaultMV
}

func (p chipPlan) tuning() (webui.BoardTuning, webui.BoardLimits) {
	return webui.BoardTuning{FrequencyMHz: p.mhz(), VoltageMV: p.mv()}, p.limits()
}

func (p chipPlan) withTuning(t webui.BoardTuning) chipPlan {
	p.frequency, p.voltage = t.FrequencyMHz, t.VoltageMV
	return p
}

func (p simPlan) tuned(t webui.BoardTuning) boardPlan {
	p.chipPlan = p.chipPlan.withTuning(t)
	return p
}

func (p serialPlan) tuned(t webui.BoardTuning) boardPlan {
	p.chipPlan = p.chipPlan.withTuning(t)
	return p
}

func (p profilePlan) tuned(t webui.BoardTuning) boardPlan {
	p.chipPlan = p.chipPlan.withTuning(t)
	return p
}

// applySaved returns plan at its saved operating point, if it has one.
func applySaved(plan boardPlan, t savedTuning) boardPlan {
	tp, ok := plan.(tunablePlan)
	if !ok {
		return plan
	}
	bt, ok := t.Boards[strconv.Itoa(0)]
	if !ok {
		return plan
	}
	_, l := tp.tuning()
	if !l.Allows(bt) {
		return plan
	}
	return tp.tuned(bt)
}

// hottest returns the hottest chain temperature the boards report.
func hottest(boards []webui.Board) (float64, bool) {
	best, ok := 0.0, false
	for _, b := range boards {
		for _, ch := range b.Chains {
			if ch.TemperatureC > 0 && (!ok || ch.TemperatureC > best) {
				best, ok = ch.TemperatureC, true
			}
		}
	}
	return best, ok
}
func (p chipPlan) modelName() string { return p.model.Name }
