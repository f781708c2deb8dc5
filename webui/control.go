package webui

import (
	"context"
	"errors"
	"time"
)

// ErrInvalid marks errors caused by bad input to a Control setter; the
// message is meant for the user.
var ErrInvalid = errors.New("invalid")

// ErrUnsupported marks a request this machine cannot serve (fault
// injection on real hardware, tuning a CPU); it answers 404.
var ErrUnsupported = errors.New("not supported on this machine")

// PoolSetting is one pool as the owner configured it, in priority order
// (index 0 is preferred). It is what the pools editor, config export and
// the cgminer pool commands read and write. JSON names are a contract.
type PoolSetting struct {
	URL  string `json:"url"`
	User string `json:"user"`
	// Password travels in config export/import only; the pools API never
	// returns it. An empty Password on an update keeps the saved one.
	Password string `json:"password,omitempty"`
	Enabled  bool   `json:"enabled"`
	// Algo is the pool's proof-of-work algorithm, "sha256d" or "scrypt";
	// empty (and absent in older exports) means sha256d.
	Algo string `json:"algo,omitempty"`
}

// PoolTest is the outcome of a trial connection to a pool: subscribe,
// authorize and wait for the first job.
type PoolTest struct {
	OK             bool    `json:"ok"`
	LatencyMS      float64 `json:"latency_ms"` // connect to first job
	Difficulty     float64 `json:"difficulty"`
	VersionRolling bool    `json:"version_rolling"`
	Error          string  `json:"error,omitempty"`
}

// Fan is one fan of the machine.
type Fan struct {
	Index   int     `json:"index"`
	RPM     int     `json:"rpm"`
	Percent float64 `json:"percent"` // duty cycle commanded, 0–100
}

// Fan modes of FanSetting.Mode.
const (
	// FanAuto drives the fans to hold the hottest chain at TargetC.
	FanAuto = "auto"
	// FanManual holds the fans at Percent.
	FanManual = "manual"
	// FanImmersion runs no fans (an immersion-cooled machine); the
	// protection still watches the temperatures.
	FanImmersion = "immersion"
)

// FanSetting is the fan policy.
type FanSetting struct {
	Mode    string  `json:"mode"`     // FanAuto, FanManual or FanImmersion
	TargetC float64 `json:"target_c"` // FanAuto: temperature to hold
	Percent float64 `json:"percent"`  // FanManual: duty cycle, 0–100
	// MinPercent and MaxPercent bound the automatic duty (0: 20 and 100).
	MinPercent float64 `json:"min_percent,omitempty"`
	MaxPercent float64 `json:"max_percent,omitempty"`
}

// BoardTuning is the operating point of one board, set for all its chains.
type BoardTuning struct {
	FrequencyMHz float64 `json:"frequency_mhz"`
	VoltageMV    float64 `json:"voltage_mv"`
}

// BoardLimits are the safe limits of a board's chip model; tuning outside
// them is refused.
type BoardLimits struct {
	FrequencyMinMHz float64 `json:"frequency_min_mhz"`
	FrequencyMaxMHz float64 `json:"frequency_max_mhz"`
	VoltageMinMV    float64 `json:"voltage_min_mv"`
	VoltageMaxMV    float64 `json:"voltage_max_mv"`
}

// Allows reports whether t lies within the limits.
func (l BoardLimits) Allows(t BoardTuning) bool {
	return t.FrequencyMHz >= l.FrequencyMinMHz && t.FrequencyMHz <= l.FrequencyMaxMHz &&
		t.VoltageMV >= l.VoltageMinMV && t.VoltageMV <= l.VoltageMaxMV
}

// BoardTuningStatus is one tunable board: what is set and what is allowed.
type BoardTuningStatus struct {
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Model string `json:"model"`
	BoardTuning
	Limits BoardLimits `json:"limits"`
}

// Tuning is the body of GET /api/v1/tuning. Boards is empty where nothing
// is tunable (the CPU backend).
type Tuning struct {
	Fan    FanSetting          `json:"fan"`
	Boards []BoardTuningStatus `json:"boards"`
}

// SystemInfo is the body of GET /api/v1/system.
type SystemInfo struct {
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	Hostname  string    `json:"hostname"`
	Board     string    `json:"board"`
	Started   time.Time `json:"started"`
	UptimeS   float64   `json:"uptime_s"`
	// CanReboot is false where the controller does not own the machine
	// (a development host rather than a firmware image).
	CanReboot bool `json:"can_reboot"`
}

// Control is what the web UI, REST API and cgminer API change in the
// controller. Every method is safe for concurrent use; setters validate
// their input and return an error wrapping ErrInvalid for bad values, so
// callers can answer 400 with the message.
type Control interface {
	// PoolSettings returns the saved pools, passwords included.
	PoolSettings(ctx context.Context) ([]PoolSetting, error)
	// SetPoolSettings saves the list and reconnects to it. An empty list
	// mines to the embedded demo pool again.
	SetPoolSettings(ctx context.Context, pools []PoolSetting) error
	// TestPool connects to a pool once, without mining on it.
	TestPool(ctx context.Context, p PoolSetting) PoolTest
	// Fans returns the fans, empty where the machine has none.
	Fans() []Fan
	// Tuning returns the fan policy and the tunable boards.
	Tuning() Tuning
	// SetFan changes the fan policy and saves it.
	SetFan(ctx context.Context, f FanSetting) error
	// SetBoardTuning changes one board's operating point and saves it.
	SetBoardTuning(ctx context.Context, board int, t BoardTuning) error
	// RestartMining restarts the hashing boards and the pool connections.
	RestartMining(ctx context.Context) error
	// Reboot reboots the machine after the response has been sent; it
	// fails where SystemInfo.CanReboot is false.
	Reboot(ctx context.Context) error
	// System describes the controller and the machine.
	System() SystemInfo
}

// PoolUpdater is implemented by a Control that can change its pool list
// atomically: edit gets a copy of the saved list and returns the new one,
// and no other change comes in between (the REST API and the cgminer API
// may change pools at the same time).
type PoolUpdater interface {
	UpdatePoolSettings(ctx context.Context, edit func([]PoolSetting) ([]PoolSetting, error)) error
}
