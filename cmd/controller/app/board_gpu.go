//go:build opencl

package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/kilnfw/kiln/hal/gpu"
	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/webui"
)

// gpuPlan hashes on an OpenCL device (--board gpu, --gpu-device N).
type gpuPlan struct {
	device int
	log    *slog.Logger
}

func newGPUPlan(device int, log *slog.Logger) (boardPlan, error) {
	if device < 0 {
		return nil, errors.New("--gpu-device must be >= 0")
	}
	return gpuPlan{device: device, log: log}, nil
}

func (p gpuPlan) name() string                                 { return "gpu" }
func (p gpuPlan) dispatcherOptions() []mining.DispatcherOption { return nil }

// expectedHashrate opens the device and times the kernel; 0 (the demo
// pool's easiest difficulty) when the device cannot be opened, which build
// then reports.
func (p gpuPlan) expectedHashrate() float64 {
	_, rate, err := gpu.Calibrate(p.device)
	if err != nil {
		p.log.Warn("gpu calibration", "err", err)
		return 0
	}
	return rate
}

// build returns a hasher that opens the device when it runs, so every
// (re)start gets a fresh context and nothing is held before Run.
func (p gpuPlan) build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error) {
	return &gpuHasher{plan: p, work: work, results: results}, nil
}

type gpuHasher struct {
	plan    gpuPlan
	work    *mining.Dispatcher
	results func(mining.Result) error

	mu     sync.Mutex
	device string
}

func (h *gpuHasher) Run(ctx context.Context) error {
	b, err := gpu.New(gpu.Config{Device: h.plan.device, Work: h.work,
		Results: func(r mining.Result) { _ = h.results(r) }, Log: h.plan.log.With("pkg", "gpu")})
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.device = b.Kernel()
	h.mu.Unlock()
	return b.Run(ctx)
}

// Units counts the device as one unit.
func (h *gpuHasher) Units() int { return 1 }

// Boards describes the device as one board with no chains, its model the
// device name once it is open.
func (h *gpuHasher) Boards() []webui.Board {
	h.mu.Lock()
	defer h.mu.Unlock()
	model := h.device
	if model == "" {
		model = fmt.Sprintf("opencl device %d", h.plan.device)
	}
	return []webui.Board{{Index: 0, Kind: "gpu", Model: model, Chains: []webui.Chain{}}}
}

// benchGPU is `controller bench --board gpu`: the synthetic job on one
// OpenCL device for d, every result re-verified on the host.
func benchGPU(ctx context.Context, device int, d time.Duration, stdout io.Writer) error {
	disp := mining.NewDispatcher(nil)
	disp.SetJob(syntheticJob())
	validator := mining.NewValidator(nil, nil)
	backend, err := gpu.New(gpu.Config{Device: device, Work: disp,
		Results: func(r mining.Result) { _, _ = validator.Check(r) }})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	if err := backend.Run(ctx); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	elapsed := time.Since(start).Seconds()
	hashes := backend.Hashes()
	rate := float64(hashes) / elapsed
	v := validator.Stats()
	dev := backend.Device()
	fmt.Fprintf(stdout, "board: gpu\ndevice: %s\nvendor: %s\ncompute_units: %d\nduration_s: %.2f\nhashes: %d\n",
		dev.Name, dev.Vendor, dev.ComputeUnits, elapsed, hashes)
	fmt.Fprintf(stdout, "results: %d\nhw_errors: %d\n", v.Results, v.HWErrors)
	fmt.Fprintf(stdout, "hashrate_hs: %.0f\n", rate)
	if v.HWErrors > 0 {
		return fmt.Errorf("bench: %d results failed host verification", v.HWErrors)
	}
	return nil
}
