package app

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kilnfw/kiln/hal/cpu"
	"github.com/kilnfw/kiln/mining"
)

// runBench mines a synthetic job for a fixed time and reports the hash rate.
// Its last line, "hashrate_hs: N", is a contract that scripts parse.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controller bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	board := fs.String("board", "cpu", "hashing hardware to measure: cpu or gpu")
	duration := fs.Duration("duration", 10*time.Second, "how long to hash")
	threads := fs.Int("threads", 0, "CPU worker threads (0: one per core)")
	gpuDevice := fs.Int("gpu-device", 0, "OpenCL device index for --board gpu")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *duration <= 0 {
		return errors.New("bench: --duration must be positive")
	}
	if *board == "gpu" {
		return benchGPU(ctx, *gpuDevice, *duration, stdout)
	}
	if *board != "cpu" && *board != "auto" {
		return fmt.Errorf("bench: --board %s: want cpu or gpu", *board)
	}

	d := mining.NewDispatcher(nil)
	d.SetJob(syntheticJob())
	validator := mining.NewValidator(nil, nil)
	backend, err := cpu.New(cpu.Config{
		Threads: *threads,
		Work:    d,
		Results: func(r mining.Result) { _, _ = validator.Check(r) },
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	start := time.Now()
	if err := backend.Run(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	hashes := backend.Hashes()
	rate := float64(hashes) / elapsed
	v := validator.Stats()
	fmt.Fprintf(stdout, "board: cpu\nkernel: %s\nthreads: %d\nduration_s: %.2f\nhashes: %d\n",
		backend.Kernel(), backend.Units(), elapsed, hashes)
	fmt.Fprintf(stdout, "per_thread_hs: %.0f\nresults: %d\nhw_errors: %d\n",
		rate/float64(backend.Units()), v.Results, v.HWErrors)
	fmt.Fprintf(stdout, "hashrate_hs: %.0f\n", rate)
	if v.HWErrors > 0 {
		return fmt.Errorf("bench: %d results failed host verification", v.HWErrors)
	}
	return nil
}

// syntheticJob is a well-formed job at a difficulty no CPU reaches, so the
// benchmark measures hashing alone.
func syntheticJob() *mining.Job {
	j := &mining.Job{
		ID:              "bench",
		Coinb1:          []byte{0x01, 0x00, 0x00, 0x00, 0x01},
		Coinb2:          []byte{0xff, 0xff, 0xff, 0xff, 0x00},
		Version:         0x20000000,
		NBits:           0x17034219,
		NTime:           uint32(time.Now().Unix()),
		Clean:           true,
		Extranonce1:     []byte{0xf0, 0x00, 0x00, 0x0f},
		Extranonce2Size: 4,
		VersionMask:     0x1fffe000,
		Difficulty:      1 << 40,
		Received:        time.Now(),
	}
	rand.Read(j.PrevHash[:])
	j.ShareTarget = mining.MustTarget(j.Difficulty)
	return j
}
