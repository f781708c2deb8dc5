package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
	"github.com/kilnfw/kiln/webui"
)

// firmwareMarker exists on a Kiln firmware image: only there does the
// controller own the machine and may reboot it.
const firmwareMarker = "/etc/kiln-release"

// rebootDelay lets the API answer before the machine goes down.
const rebootDelay = time.Second

// PoolSettings implements webui.Control.
func (c *core) PoolSettings(context.Context) ([]webui.PoolSetting, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]webui.PoolSetting, len(c.saved))
	for i, p := range c.saved {
		out[i] = webui.PoolSetting{URL: p.URL, User: p.User, Password: p.Password, Enabled: p.Enabled,
			Algo: p.Algo}
	}
	return out, nil
}

// SetPoolSettings implements webui.Control: it checks every URL, saves the
// list and reconnects.
func (c *core) SetPoolSettings(ctx context.Context, pools []webui.PoolSetting) error {
	c.poolsMu.Lock()
	defer c.poolsMu.Unlock()
	return c.setPools(ctx, pools)
}

// UpdatePoolSettings implements webui.PoolUpdater.
func (c *core) UpdatePoolSettings(ctx context.Context, edit func([]webui.PoolSetting) ([]webui.PoolSetting, error)) error {
	c.poolsMu.Lock()
	defer c.poolsMu.Unlock()
	list, err := c.PoolSettings(ctx)
	if err != nil {
		return err
	}
	next, err := edit(list)
	if err != nil {
		return err
	}
	return c.setPools(ctx, next)
}

// setPools saves and applies a pool list; callers hold poolsMu.
func (c *core) setPools(ctx context.Context, pools []webui.PoolSetting) error {
	c.mu.Lock()
	plan := c.plan
	// A pool saved before (say, under another board) stays as it is,
	// shown dead; only new or changed pools are refused.
	kept := make(map[[3]string]bool, len(c.saved))
	for _, p := range c.saved {
		kept[[3]string{p.URL, p.User, p.Algo}] = true
	}
	c.mu.Unlock()
	saved := make([]store.Pool, len(pools))
	for i, p := range pools {
		if _, err := stratumproxy.ParsePoolURL(p.URL); err != nil {
			return fmt.Errorf("pool %d: %v: %w", i, err, webui.ErrInvalid)
		}
		algo, err := mining.ParseAlgorithm(p.Algo)
		if err == nil && !kept[[3]string{p.URL, p.User, p.Algo}] {
			err = checkAlgorithm(plan, algo)
		}
		if err != nil {
			return fmt.Errorf("pool %d: %v: %w", i, err, webui.ErrInvalid)
		}
		saved[i] = store.Pool{Priority: i, URL: p.URL, User: p.User, Password: p.Password, Enabled: p.Enabled,
			Algo: p.Algo}
	}
	if err := c.store.ReplacePools(ctx, saved); err != nil {
		return err
	}
	saved, err := c.store.Pools(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.saved = saved
	c.mu.Unlock()
	signal(c.poolsChanged)
	return nil
}

// Fans implements webui.Control.
func (c *core) Fans() []webui.Fan {
	fans := c.fans()
	out := make([]webui.Fan, 0, len(fans))
	for i, f := range fans {
		rpm, err := f.RPM()
		if err != nil {
			rpm = 0
		}
		out = append(out, webui.Fan{Index: i, RPM: rpm, Percent: c.fan.Duty()})
	}
	return out
}

// Tuning implements webui.Control.
func (c *core) Tuning() webui.Tuning {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := webui.Tuning{Fan: c.tune.Fan, Boards: []webui.BoardTuningStatus{}}
	if tp, ok := c.plan.(tunablePlan); ok {
		bt, l := tp.tuning()
		model := ""
		if cp, ok := c.plan.(interface{ modelName() string }); ok {
			model = cp.modelName()
		}
		t.Boards = append(t.Boards, webui.BoardTuningStatus{Index: 0, Kind: c.board, Model: model, BoardTuning: bt, Limits: l})
	}
	return t
}

// SetFan implements webui.Control.
func (c *core) SetFan(ctx context.Context, f webui.FanSetting) error {
	if err := c.fan.Set(fanPolicy(f)); err != nil {
		return fmt.Errorf("%v: %w", err, webui.ErrInvalid)
	}
	c.mu.Lock()
	c.tune.Fan = f
	t := c.tune
	c.mu.Unlock()
	if err := saveTuning(ctx, c.store, t); err != nil {
		return err
	}
	msg := fmt.Sprintf("fan set to automatic, target %g °C", f.TargetC)
	if f.Mode == webui.FanManual {
		msg = fmt.Sprintf("fan set to a fixed %g %%", f.Percent)
	}
	c.event(store.LevelInfo, "fan", "fan_changed", msg)
	return nil
}

// SetBoardTuning implements webui.Control: the board restarts at the new
// operating point.
func (c *core) SetBoardTuning(ctx context.Context, board int, bt webui.BoardTuning) error {
	c.mu.Lock()
	tp, ok := c.plan.(tunablePlan)
	if !ok || board != 0 {
		c.mu.Unlock()
		return fmt.Errorf("board %d cannot be tuned: %w", board, webui.ErrInvalid)
	}
	_, l := tp.tuning()
	if !l.Allows(bt) {
		c.mu.Unlock()
		return fmt.Errorf("operating point %g MHz, %g mV outside the chip's limits: %w", bt.FrequencyMHz, bt.VoltageMV, webui.ErrInvalid)
	}
	c.plan = tp.tuned(bt)
	c.tune.Boards[strconv.Itoa(board)] = bt
	t := c.tune
	c.mu.Unlock()
	if err := saveTuning(ctx, c.store, t); err != nil {
		return err
	}
	// A board clock set by hand replaces what autotuning found.
	if err := c.store.SetSetting(ctx, settingTuneResult, ""); err != nil {
		return err
	}
	c.event(store.LevelInfo, "tuning", "tuning_changed", fmt.Sprintf("board %d set to %g MHz, %g mV", board, bt.FrequencyMHz, bt.VoltageMV))
	signal(c.restartHash)
	return nil
}

// RestartMining implements webui.Control.
func (c *core) RestartMining(context.Context) error {
	c.event(store.LevelInfo, "system", "restart", "mining restarted on request")
	signal(c.restartHash)
	signal(c.poolsChanged)
	return nil
}

// Reboot implements webui.Control.
func (c *core) Reboot(context.Context) error {
	if !canReboot() {
		return errors.New("reboot: not a Kiln firmware image")
	}
	go func() {
		time.Sleep(rebootDelay)
		unix.Sync()
		if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
			c.log.Error("reboot failed", "err", err)
		}
	}()
	return nil
}

// System implements webui.Control.
func (c *core) System() webui.SystemInfo {
	host, _ := os.Hostname()
	return webui.SystemInfo{
		Version: Version, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Hostname: host, Board: c.board, Started: c.started.UTC(),
		UptimeS: time.Since(c.started).Seconds(), CanReboot: canReboot(),
	}
}

func canReboot() bool {
	_, err := os.Stat(firmwareMarker)
	return err == nil
}
