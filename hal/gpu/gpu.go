//go:build opencl

package gpu

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/mining"
)

//go:embed sha256d.cl
var kernelSource string

// Device describes one OpenCL device.
type Device struct {
	// Index is the device's position in Devices, what --gpu-device takes.
	Index int
	// Name, Vendor and Version are what the driver reports.
	Name, Vendor, Version string
	// ComputeUnits and MaxWorkGroup size the launches.
	ComputeUnits, MaxWorkGroup int
	// ClockMHz is the device's maximum clock.
	ClockMHz int

	deviceHandle deviceID
}

// Devices lists every OpenCL device of every platform, in platform order.
// An empty list with no error means no OpenCL driver is installed.
func Devices() ([]Device, error) {
	ids, err := deviceIDs()
	if err != nil {
		return nil, err
	}
	devs := make([]Device, len(ids))
	for i, id := range ids {
		devs[i] = describe(i, id)
	}
	return devs, nil
}

// WorkSource hands out work units; mining.Dispatcher is one.
type WorkSource interface {
	Next(ctx context.Context) (*mining.Work, error)
}

// Config configures a Backend.
type Config struct {
	// Device is the index into Devices of the device to hash on.
	Device int
	// Work supplies work units.
	Work WorkSource
	// Results receives every reported nonce, from the backend's goroutine.
	Results func(mining.Result)
	// ReportLimit is the top-word limit below which nonces are reported;
	// 0 sizes it from the calibrated rate for about reportRate results a
	// second. Jobs whose share target is easier raise it.
	ReportLimit uint32
	// LaunchTime is how long one kernel launch should take (default
	// 75 ms): long enough to amortise the launch, short enough that new
	// jobs and shutdown are picked up at once.
	LaunchTime time.Duration
	Log        *slog.Logger
}

// reportRate is the results per second an automatic ReportLimit aims at:
// enough for a smooth 5-second hash-rate estimate, cheap to verify.
const reportRate = 200

// capacity is the result buffer size per launch. Launches whose limit could
// expect more (an unusually easy share target) lose the excess, which is
// logged.
const capacity = 4096

// Backend hashes on one OpenCL device.
type Backend struct {
	cfg    Config
	dev    Device
	sess   *session
	shape  launchShape
	limit  uint32
	hashes atomic.Uint64
	closed bool
}

// launchShape is how a launch covers nonces: global work items each
// hashing iters nonces, local items to a group. All three are powers of two,
// so launches tile the 2^32 nonces of a work unit exactly.
type launchShape struct {
	global, local int
	iters         uint32
}

func (s launchShape) nonces() uint64 { return uint64(s.global) * uint64(s.iters) }

// New opens the device, builds the kernel and calibrates the launch size.
// Close releases the device when Run is not called.
func New(cfg Config) (*Backend, error) {
	if cfg.Work == nil || cfg.Results == nil {
		return nil, errors.New("gpu: config needs Work and Results")
	}
	b, rate, err := openBackend(cfg)
	if err != nil {
		return nil, err
	}
	b.limit = cfg.ReportLimit
	if b.limit == 0 {
		b.limit = limitFor(rate)
	}
	b.cfg.Log.Info("gpu backend ready", "device", b.dev.Name, "compute_units", b.dev.ComputeUnits,
		"global", b.shape.global, "local", b.shape.local, "iters", b.shape.iters,
		"rate_hs", int64(rate), "report_limit", b.limit)
	return b, nil
}

// Calibrate opens device index i, times the kernel as New does and
// releases the device. It returns the device and its rate in H/s, to size
// a pool's difficulty before mining starts.
func Calibrate(i int) (Device, float64, error) {
	b, rate, err := openBackend(Config{Device: i})
	if err != nil {
		return Device{}, 0, err
	}
	b.Close()
	return b.dev, rate, nil
}

// openBackend opens and calibrates the configured device.
func openBackend(cfg Config) (*Backend, float64, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.LaunchTime <= 0 {
		cfg.LaunchTime = 75 * time.Millisecond
	}
	dev, err := pick(cfg.Device)
	if err != nil {
		return nil, 0, err
	}
	sess, err := open(dev, capacity)
	if err != nil {
		return nil, 0, err
	}
	b := &Backend{cfg: cfg, dev: dev, sess: sess}
	rate, err := b.calibrate()
	if err != nil {
		sess.close()
		return nil, 0, err
	}
	return b, rate, nil
}

// pick returns device index i, or an error listing the devices there are.
func pick(i int) (Device, error) {
	devs, err := Devices()
	if err != nil {
		return Device{}, err
	}
	if len(devs) == 0 {
		return Device{}, errNoDevice
	}
	if i < 0 || i >= len(devs) {
		names := ""
		for _, d := range devs {
			names += fmt.Sprintf(" %d=%q", d.Index, d.Name)
		}
		return Device{}, fmt.Errorf("gpu: no device %d (devices:%s)", i, names)
	}
	return devs[i], nil
}

// limitFor returns the top-word limit at which a device hashing rate H/s
// reports about reportRate nonces a second, at most the CPU backend's
// 1 in 65536.
func limitFor(rate float64) uint32 {
	l := reportRate * 4294967296.0 / max(rate, 1)
	if l >= 0xffff {
		return 0xffff
	}
	if l < 1 {
		return 0
	}
	return uint32(l) - 1
}

// Device returns the device the backend hashes on.
func (b *Backend) Device() Device { return b.dev }

// Units returns 1: the device is one hashing unit.
func (b *Backend) Units() int { return 1 }

// Kernel names what hashes: the device's name.
func (b *Backend) Kernel() string { return b.dev.Name }

// Hashes returns the number of nonces hashed so far.
func (b *Backend) Hashes() uint64 { return b.hashes.Load() }

// Close releases the device. Run closes it itself when it returns.
func (b *Backend) Close() {
	if !b.closed {
		b.closed = true
		b.sess.close()
	}
}

// Run hashes until ctx ends, then releases the device. A launch in flight
// finishes first (one launch lasts about Config.LaunchTime).
func (b *Backend) Run(ctx context.Context) error {
	if b.closed {
		return errors.New("gpu: backend closed")
	}
	defer b.Close()
	for ctx.Err() == nil {
		w, err := b.cfg.Work.Next(ctx)
		if err != nil {
			return nil
		}
		if err := b.scanWork(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// scanWork hashes the nonces of one work unit until it is done or expires.
func (b *Backend) scanWork(ctx context.Context, w *mining.Work) error {
	limit := max(b.limit, w.Job.ShareTarget.Top32())
	target := mining.TargetFromTop32(limit)
	l := launch{mid: w.Midstate, tail: w.Tail(), iters: b.shape.iters, limit: limit,
		global: b.shape.global, local: b.shape.local}
	step := b.shape.nonces()
	for start := uint64(0); start < 1<<32; start += step {
		if ctx.Err() != nil || w.Expired() {
			return nil
		}
		l.base = uint32(start)
		found, total, err := b.sess.scan(l)
		if err != nil {
			return err
		}
		b.hashes.Add(step)
		if total > len(found) {
			b.cfg.Log.Warn("gpu result buffer overflowed", "found", total, "kept", len(found))
		}
		for _, n := range found {
			b.cfg.Results(mining.Result{Work: w, Nonce: n, Target: target})
		}
	}
	return nil
}

// calibrate picks the launch shape from the device's limits, then times
// launches and scales the nonces per work item until one launch takes
// about Config.LaunchTime. It returns the measured rate in H/s.
func (b *Backend) calibrate() (float64, error) {
	local := floorPow2(min(max(b.dev.MaxWorkGroup, 1), 256))
	cu := max(b.dev.ComputeUnits, 1)
	global := ceilPow2(cu * local * 4)
	b.shape = launchShape{global: global, local: local, iters: 1}
	l := launch{global: global, local: local}
	var rate float64
	for range 8 {
		l.iters = b.shape.iters
		t0 := time.Now()
		if _, _, err := b.sess.scan(l); err != nil {
			return 0, err
		}
		d := max(time.Since(t0), time.Microsecond)
		rate = float64(b.shape.nonces()) / d.Seconds()
		want := uint64(rate * b.cfg.LaunchTime.Seconds() / float64(global))
		next := uint32(floorPow2(int(min(max(want, 1), 1<<32/uint64(global)))))
		if next == b.shape.iters && d > b.cfg.LaunchTime/4 {
			break
		}
		b.shape.iters = next
	}
	return rate, nil
}

// floorPow2 returns the largest power of two at most n (n ≥ 1).
func floorPow2(n int) int { return 1 << (bits.Len(uint(n)) - 1) }

// ceilPow2 returns the smallest power of two at least n (n ≥ 1).
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
