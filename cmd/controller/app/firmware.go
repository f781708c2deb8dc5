package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	firmware "github.com/kilnfw/kiln/firmware-images"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// defaultFirmwareKey is where a Kiln image keeps the public key its
// upgrades must be signed with.
const defaultFirmwareKey = "/etc/kiln/firmware.pub"

// upgrader is the firmware upgrade path of the controller: nil updater
// with a reason when upgrades are off.
type upgrader struct {
	u      *firmware.Updater
	slots  *firmware.DirSlots
	board  string
	reason string
}

// newUpgrader opens the slots and the trusted key; a missing key turns
// upgrades off (with the reason) rather than failing the controller.
func newUpgrader(o *options, board string, c *core) upgrader {
	up := upgrader{board: board}
	if o.firmwareBoard != "" {
		up.board = o.firmwareBoard
	}
	dir := o.slots
	if dir == "" {
		dir = filepath.Join(o.data, "slots")
	}
	raw, err := os.ReadFile(o.firmwareKey)
	if err != nil {
		up.reason = fmt.Sprintf("no trusted signing key at %s (--firmware-key)", o.firmwareKey)
		return up
	}
	key, err := firmware.ParsePublicKey(raw)
	if err != nil {
		up.reason = fmt.Sprintf("the signing key %s is unreadable: %v", o.firmwareKey, err)
		return up
	}
	slots, err := firmware.OpenDirSlots(dir)
	if err != nil {
		up.reason = fmt.Sprintf("firmware slots unavailable: %v", err)
		return up
	}
	u, err := firmware.NewUpdater(firmware.Config{
		Slots: slots, Keys: []firmware.PublicKey{key}, Board: up.board, Version: Version,
		HealthTimeout: o.healthTimeout, HealthInterval: time.Second, Log: c.log.With("pkg", "firmware"),
	})
	if err != nil {
		up.reason = err.Error()
		return up
	}
	up.u, up.slots = u, slots
	return up
}

// boot runs the trial-boot step at start and, on a trial boot, confirms
// the slot once the controller mines, or abandons it.
func (c *core) bootFirmware(ctx context.Context) error {
	up := c.upgrade
	if up.u == nil {
		return nil
	}
	st, err := up.u.Boot()
	if err != nil {
		c.log.Error("firmware boot state", "err", err)
		return nil
	}
	if !st.Trial {
		return nil
	}
	c.event(store.LevelInfo, "system", "firmware_trial", fmt.Sprintf("trial boot of slot %s", st.Booted))
	out, err := up.u.ConfirmHealthy(ctx, c.healthy)
	switch out {
	case firmware.Confirmed:
		c.event(store.LevelInfo, "system", "firmware_confirmed", fmt.Sprintf("slot %s passed its health check and is confirmed", st.Booted))
	case firmware.RolledBack:
		c.event(store.LevelError, "system", "firmware_rolled_back",
			fmt.Sprintf("slot %s failed its health check (%v); the previous slot boots next", st.Booted, err))
		if canReboot() {
			return c.Reboot(ctx)
		}
	}
	return nil
}

// healthy is the trial boot's health check: the controller mines.
func (c *core) healthy(context.Context) error {
	s := c.Summary()
	if s.ActivePool == "" {
		return errors.New("no pool in use")
	}
	if s.Hashrate5s <= 0 && s.Accepted == 0 {
		return errors.New("not hashing yet")
	}
	return nil
}

// FirmwareStatus implements webui.Firmware.
func (c *core) FirmwareStatus() webui.FirmwareStatus {
	up := c.upgrade
	fs := webui.FirmwareStatus{Version: Version, Board: up.board, Enabled: up.u != nil, Reason: up.reason}
	if up.u == nil {
		return fs
	}
	st, err := up.u.State()
	if err != nil {
		fs.Reason = err.Error()
		return fs
	}
	fs.Active, fs.Booted, fs.Pending, fs.Trial, fs.RolledBack = string(st.Active), string(st.Booted),
		string(st.Pending), st.Trial, string(st.RolledBack)
	fs.Slots = map[string]string{}
	for _, s := range []firmware.Slot{firmware.SlotA, firmware.SlotB} {
		if m, ok, err := up.slots.Manifest(s); err == nil && ok {
			fs.Slots[string(s)] = m.Version
		}
	}
	return fs
}

// InstallFirmware implements webui.Firmware.
func (c *core) InstallFirmware(ctx context.Context, r io.Reader, allowDowngrade bool) (webui.FirmwareInstall, error) {
	up := c.upgrade
	if up.u == nil {
		return webui.FirmwareInstall{}, fmt.Errorf("firmware upgrades are off: %s: %w", up.reason, webui.ErrUnsupported)
	}
	res, err := up.u.Install(ctx, r, firmware.Options{AllowDowngrade: allowDowngrade})
	if err != nil {
		for _, e := range []error{firmware.ErrUnsigned, firmware.ErrBadSignature, firmware.ErrWrongBoard,
			firmware.ErrTruncated, firmware.ErrDigest, firmware.ErrDowngrade, firmware.ErrMalformed,
			firmware.ErrTooLarge, firmware.ErrBusy} {
			if errors.Is(err, e) {
				return webui.FirmwareInstall{}, fmt.Errorf("%v: %w", err, webui.ErrInvalid)
			}
		}
		return webui.FirmwareInstall{}, err
	}
	return webui.FirmwareInstall{Version: res.Manifest.Version, Slot: string(res.Slot), RebootRequired: res.RebootRequired}, nil
}
