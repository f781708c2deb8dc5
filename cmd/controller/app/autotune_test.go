package app

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

type autotuneView struct {
	State    string  `json:"state"`
	Progress float64 `json:"progress"`
	Message  string  `json:"message"`
	Result   *struct {
		Baseline *struct {
			PowerW float64 `json:"power_w"`
			JPerTH float64 `json:"j_per_th"`
		} `json:"baseline"`
		Chips []struct {
			Chain, Chip  int
			FrequencyMHz float64 `json:"frequency_mhz"`
		} `json:"chips"`
		VoltageMV float64 `json:"voltage_mv"`
		PowerW    float64 `json:"power_w"`
		JPerTH    float64 `json:"j_per_th"`
	} `json:"result"`
}

// startTuningRig runs a controller on a 2-chip simulated board whose chips
// report about 300 nonces a second, and returns it with its core.
func startTuningRig(t testing.TB, extra ...string) (*controller, *core) {
	t.Helper()
	o, err := parseOptions([]string{"--board", "sim", "--sim-chips", "2"}, &syncBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := resolveBoard(o, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	diff := plan.(simPlan).autoDifficulty() / 32
	cores := make(chan *core, 1)
	coreStarted = func(c *core) { cores <- c }
	t.Cleanup(func() { coreStarted = nil })
	args := append([]string{"--board", "sim", "--sim-chips", "2", "--chip-difficulty", formatFloat(diff)}, extra...)
	c := startController(t, args...)
	core := <-cores
	waitFor(t, 30*time.Second, "a share accepted", func() bool { return c.summary(t).Accepted > 0 })
	return c, core
}

func (c *controller) autotune(t testing.TB) autotuneView {
	var v autotuneView
	c.get(t, "/api/v1/autotune", &v)
	return v
}

func (c *controller) runAutotune(t testing.TB, body string) autotuneView {
	t.Helper()
	if code, b := c.send(t, "POST", "/api/v1/autotune", body); code != http.StatusAccepted {
		t.Fatalf("start autotune: %d %s", code, b)
	}
	var v autotuneView
	waitFor(t, 120*time.Second, "autotuning done", func() bool {
		v = c.autotune(t)
		if v.State == "failed" {
			t.Fatalf("autotune failed: %s", v.Message)
		}
		return v.State == "done" && v.Result != nil
	})
	return v
}

// TestAutotuneFindsHiddenLimits: at a voltage high enough not to starve
// the chips, the per-chip search lands within 5 % of each emulated chip's
// hidden stable limit, and the result survives a restart.
func TestAutotuneFindsHiddenLimits(t *testing.T) {
	dir := t.TempDir()
	c, core := startTuningRig(t, "--data", dir)
	if code, b := c.send(t, "PUT", "/api/v1/tuning/boards/0", `{"frequency_mhz":485,"voltage_mv":1300}`); code != http.StatusOK {
		t.Fatalf("voltage: %d %s", code, b)
	}
	waitFor(t, 30*time.Second, "mining at 1300 mV", func() bool {
		h, ok := core.currentHasher().(*simHasher)
		return ok && h.plan.mv() == 1300 && c.summary(t).Hashrate > 0 && h.Boards()[0].Chains[0].State == "mining"
	})
	v := c.runAutotune(t, `{"mode":"max_hashrate"}`)
	h := core.currentHasher().(*simHasher)
	emu := h.board.Emulator(0)
	if len(v.Result.Chips) != 2 {
		t.Fatalf("result chips: %+v", v.Result)
	}
	for _, ch := range v.Result.Chips {
		limit := emu.MaxStableMHz(ch.Chip)
		if off := math.Abs(ch.FrequencyMHz-limit) / limit; off > 0.05 {
			t.Errorf("chip %d tuned to %.1f MHz, hidden limit %.1f MHz (%.1f %% off)", ch.Chip, ch.FrequencyMHz, limit, 100*off)
		} else {
			t.Logf("chip %d tuned to %.1f MHz, hidden limit %.1f MHz", ch.Chip, ch.FrequencyMHz, limit)
		}
	}
	b, _ := json.Marshal(v.Result)
	t.Logf("result %s", b)

	// After a restart the fan policy, the saved voltage and the tuned
	// clocks come back.
	if code, b := c.send(t, "PUT", "/api/v1/tuning/fan", `{"mode":"manual","percent":55}`); code != http.StatusOK {
		t.Fatalf("fan: %d %s", code, b)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	c, _ = startTuningRig(t, "--data", dir)
	var tuning struct {
		Fan struct {
			Mode    string  `json:"mode"`
			Percent float64 `json:"percent"`
		} `json:"fan"`
		Boards []struct {
			VoltageMV float64 `json:"voltage_mv"`
		} `json:"boards"`
	}
	c.get(t, "/api/v1/tuning", &tuning)
	if len(tuning.Boards) != 1 || tuning.Boards[0].VoltageMV != 1300 || tuning.Fan.Mode != "manual" || tuning.Fan.Percent != 55 {
		t.Errorf("tuning after restart: %+v", tuning)
	}
	waitFor(t, 20*time.Second, "the tuned clocks re-applied", func() bool {
		var boards []struct {
			Chains []struct {
				Chips []struct {
					FrequencyMHz float64 `json:"frequency_mhz"`
				} `json:"chips"`
			} `json:"chains"`
		}
		c.get(t, "/api/v1/boards", &boards)
		if len(boards) != 1 || len(boards[0].Chains) != 1 || len(boards[0].Chains[0].Chips) != 2 {
			return false
		}
		for i, ch := range boards[0].Chains[0].Chips {
			if math.Abs(ch.FrequencyMHz-v.Result.Chips[i].FrequencyMHz) > 7 { // within a PLL step
				return false
			}
		}
		return true
	})
	if st := c.autotune(t); st.State != "done" || st.Result == nil {
		t.Errorf("autotune status after restart: %+v", st)
	}
}

// TestAutotunePowerTarget: the power-target mode brings the board within
// 3 % of the target, as the simulated board's own meter reads it.
func TestAutotunePowerTarget(t *testing.T) {
	c, core := startTuningRig(t)
	h := core.currentHasher().(*simHasher)
	waitFor(t, 10*time.Second, "board running", func() bool { _, err := simTunable{h}.PowerW(); return err == nil })
	start, _ := simTunable{h}.PowerW()
	target := math.Round(start * 0.8)
	body := `{"mode":"power_target","power_w":` + formatFloat(target)
	// Stopped part-way, then resumed from the saved progress.
	if code, b := c.send(t, "POST", "/api/v1/autotune", body+`}`); code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, b)
	}
	waitFor(t, 30*time.Second, "a first measurement", func() bool { return c.autotune(t).Progress > 0 })
	if code, b := c.send(t, "DELETE", "/api/v1/autotune", ""); code != http.StatusOK {
		t.Fatalf("stop: %d %s", code, b)
	}
	if st := c.autotune(t); st.State != "stopped" {
		t.Fatalf("after stop: %+v", st)
	}
	v := c.runAutotune(t, body+`,"resume":true}`)
	got, _ := simTunable{h}.PowerW()
	if off := math.Abs(got-target) / target; off > 0.03 {
		t.Errorf("board power %.2f W, target %.0f W (%.1f %% off); result %+v", got, target, 100*off, v.Result)
	}
	t.Logf("power %.2f W → %.2f W for a %.0f W target", start, got, target)
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
