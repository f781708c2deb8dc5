package firmware

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"
)

// Config wires an Updater.
type Config struct {
	// Slots is the board's slot storage.
	Slots Slots
	// Keys are the trusted image signing keys; at least one.
	Keys []PublicKey
	// Board is this device's board name, matched against the manifest.
	Board string
	// Arch is this device's architecture for "any-ARCH" entries; empty
	// means runtime.GOARCH.
	Arch string
	// Version is the running firmware version, the floor for downgrades;
	// empty or not a version disables the downgrade check.
	Version string
	// MaxPayload bounds the payload size; zero means DefaultMaxPayload.
	MaxPayload int64
	// Tries is how many trial boots a new slot gets; zero means one.
	Tries int
	// HealthTimeout bounds how long ConfirmHealthy waits for the health
	// check to pass (default 5 minutes), and HealthInterval is the pause
	// between checks (default 5 seconds).
	HealthTimeout, HealthInterval time.Duration
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// Options are per-install choices.
type Options struct {
	// AllowDowngrade installs an image older than the running version.
	AllowDowngrade bool
}

// Result describes a successful install.
type Result struct {
	// Manifest is the installed image's manifest.
	Manifest Manifest
	// Slot is the slot written.
	Slot Slot
	// RebootRequired is always true: the new slot runs after a reboot.
	RebootRequired bool
}

// Updater verifies images, installs them into the inactive slot, and runs
// the trial-boot protocol: Boot at startup, ConfirmHealthy once the system
// works. Its methods are safe for concurrent use; installs run one at a
// time.
type Updater struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
}

// NewUpdater checks cfg and returns an Updater.
func NewUpdater(cfg Config) (*Updater, error) {
	switch {
	case cfg.Slots == nil:
		return nil, errors.New("firmware: updater: no slots")
	case len(cfg.Keys) == 0:
		return nil, errors.New("firmware: updater: no trusted keys")
	case cfg.Board == "":
		return nil, errors.New("firmware: updater: no board name")
	case cfg.Tries < 0 || cfg.Tries > maxTries:
		return nil, fmt.Errorf("firmware: updater: %d tries, want 1 to %d", cfg.Tries, maxTries)
	}
	if cfg.Arch == "" {
		cfg.Arch = runtime.GOARCH
	}
	if cfg.Tries == 0 {
		cfg.Tries = 1
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 5 * time.Minute
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Updater{cfg: cfg, log: log}, nil
}

// Install reads an image from r, verifies its signature, board and version
// before touching anything, streams the payload into the inactive slot
// (checking its digest before the slot is switched), and marks that slot
// pending for a trial boot. On any error the slots and the boot state are
// as they were. A nil error means a reboot is required.
func (u *Updater) Install(ctx context.Context, r io.Reader, opts Options) (Result, error) {
	if !u.mu.TryLock() {
		return Result{}, fmt.Errorf("%w: another install or confirmation is running", ErrBusy)
	}
	defer u.mu.Unlock()
	st, err := u.cfg.Slots.State()
	if err != nil {
		return Result{}, err
	}
	target := st.running().Other()
	if st.Trial || target == st.Active {
		return Result{}, fmt.Errorf("%w: the running slot %s is a trial boot, not the confirmed slot %s; confirm it or reboot first",
			ErrBusy, st.running(), st.Active)
	}
	img, err := ReadImage(r, u.cfg.MaxPayload)
	if err != nil {
		return Result{}, err
	}
	m := img.Manifest
	err = img.Verify(Policy{Keys: u.cfg.Keys, Board: u.cfg.Board, Arch: u.cfg.Arch,
		Running: u.cfg.Version, AllowDowngrade: opts.AllowDowngrade})
	if err != nil {
		return Result{}, err
	}
	data, err := img.Payload(ctx)
	if err != nil {
		return Result{}, err
	}
	u.log.Info("installing firmware", "version", m.Version, "slot", target, "kind", m.Payload.Kind, "bytes", m.Payload.Size)
	p := Payload{Kind: m.Payload.Kind, Size: m.Payload.Size, Data: data, Manifest: img.ManifestJSON, Signature: img.Signature}
	if err := u.cfg.Slots.Write(target, p); err != nil {
		return Result{}, err
	}
	if err := u.cfg.Slots.MarkPending(target, u.cfg.Tries); err != nil {
		return Result{}, err
	}
	u.log.Info("firmware installed, reboot required", "version", m.Version, "slot", target)
	return Result{Manifest: m, Slot: target, RebootRequired: true}, nil
}

// Boot runs once per start, before the system does its work: it counts a
// trial boot of a pending slot, or rolls back to the active slot when the
// pending one used its tries without being confirmed. The returned state
// says which slot to run (Booted) and whether it is a trial.
func (u *Updater) Boot() (BootState, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.cfg.Slots.Boot()
	if err != nil {
		return BootState{}, err
	}
	switch {
	case st.Trial:
		u.log.Info("trial boot", "slot", st.Booted, "tries_left", st.Tries)
	case st.RolledBack != "":
		u.log.Warn("rolled back: the new slot was never confirmed", "slot", st.Booted, "abandoned", st.RolledBack)
	}
	return st, nil
}

// State returns the boot state, for status displays.
func (u *Updater) State() (BootState, error) { return u.cfg.Slots.State() }

// Outcome is what ConfirmHealthy did.
type Outcome int

// The outcomes of ConfirmHealthy.
const (
	// NotTrial: the running slot is already confirmed; nothing to do.
	NotTrial Outcome = iota
	// Confirmed: the trial slot passed its health check and is now the
	// default.
	Confirmed
	// RolledBack: the trial slot failed its health check within the
	// deadline and was abandoned; the caller must reboot into the
	// previous slot.
	RolledBack
	// Interrupted: ctx ended first; nothing was decided, and an
	// unconfirmed trial falls back at the next boot by itself.
	Interrupted
)

// HealthFunc reports whether the running system works (for the
// controller: its HTTP health endpoint answers and mining has started).
type HealthFunc func(ctx context.Context) error

// ConfirmHealthy, on a trial boot, calls healthy until it returns nil
// (then the slot is confirmed) or HealthTimeout passes (then it is
// abandoned, and the error wraps the last health failure). It does
// nothing when the running slot is already confirmed.
func (u *Updater) ConfirmHealthy(ctx context.Context, healthy HealthFunc) (Outcome, error) {
	st, err := u.cfg.Slots.State()
	if err != nil || !st.Trial {
		return NotTrial, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, u.cfg.HealthTimeout, errHealthTimeout)
	defer cancel()
	last := waitHealthy(ctx, healthy, u.cfg.HealthInterval)
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case last == nil:
		if err := u.cfg.Slots.Confirm(st.Booted); err != nil {
			return NotTrial, err
		}
		u.log.Info("firmware confirmed", "slot", st.Booted)
		return Confirmed, nil
	case context.Cause(ctx) != errHealthTimeout:
		return Interrupted, fmt.Errorf("firmware: confirm: %w", context.Cause(ctx))
	}
	if err := u.cfg.Slots.Abandon(); err != nil {
		return NotTrial, err
	}
	u.log.Error("firmware failed its health check; rolling back, reboot required", "slot", st.Booted, "err", last)
	return RolledBack, fmt.Errorf("firmware: slot %s unhealthy after %v, rolled back: %w", st.Booted, u.cfg.HealthTimeout, last)
}

// errHealthTimeout tells the health deadline from the caller's context
// ending.
var errHealthTimeout = errors.New("health check deadline")

// waitHealthy polls healthy until it passes or ctx ends; it returns nil on
// success, else the last failure (or ctx's error if none was seen).
func waitHealthy(ctx context.Context, healthy HealthFunc, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		err := healthy(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}

// String names the outcome for logs.
func (o Outcome) String() string {
	switch o {
	case NotTrial:
		return "not a trial"
	case Confirmed:
		return "confirmed"
	case RolledBack:
		return "rolled back"
	case Interrupted:
		return "interrupted"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}
