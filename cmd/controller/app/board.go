package app

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/kilnfw/kiln/hal/cpu"
	"github.com/kilnfw/kiln/hal/cpu/kernel"
	"github.com/kilnfw/kiln/hal/cpu/scrypt"
	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/webui"
)

// hasher is what does the hashing: the CPU backend or a board of chip
// chains. It pulls work from the dispatcher and reports every nonce.
type hasher interface {
	Run(ctx context.Context) error
	// Units counts hashing units (CPU threads, chips found).
	Units() int
	// Boards describes the hardware for GET /api/v1/boards.
	Boards() []webui.Board
}

// boardPlan is what --board and its companion flags resolve to, before
// anything is opened.
type boardPlan interface {
	// name is the board kind shown in the API ("cpu", "sim", a profile).
	name() string
	// dispatcherOptions adapt work dispatch to the hardware.
	dispatcherOptions() []mining.DispatcherOption
	// expectedHashrate estimates H/s, to size the demo pool's difficulty.
	expectedHashrate() float64
	// build makes the hasher; nothing runs until its Run.
	// results returns the host's verdict on each nonce.
	build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error)
}

// cpuPlan hashes on the host CPU.
type cpuPlan struct{ threads int }

func (p cpuPlan) name() string                                 { return "cpu" }
func (p cpuPlan) dispatcherOptions() []mining.DispatcherOption { return nil }

// expectedHashrate measures the kernel on one core for 50 ms.
func (p cpuPlan) expectedHashrate() float64 {
	threads := p.threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	var mid [8]uint32
	var tail [3]uint32
	var out []uint32
	n, start := uint32(0), time.Now()
	for time.Since(start) < 50*time.Millisecond {
		out = kernel.Scan(&mid, &tail, n, 1<<16, 0, out[:0])
		n += 1 << 16
	}
	return float64(n) / time.Since(start).Seconds() * float64(threads)
}

func (p cpuPlan) build(work *mining.Dispatcher, results func(mining.Result) error) (hasher, error) {
	b, err := cpu.New(cpu.Config{Threads: p.threads, Work: work, Results: func(r mining.Result) { _ = results(r) }})
	if err != nil {
		return nil, err
	}
	return cpuHasher{b}, nil
}

type cpuHasher struct{ *cpu.Backend }

// Boards describes the CPU as one board with no chains.
func (h cpuHasher) Boards() []webui.Board {
	return []webui.Board{{Index: 0, Kind: "cpu", Model: h.Kernel(), Chains: []webui.Chain{}}}
}

// demoDifficultyFor sizes the demo pool's share difficulty to a hash rate:
// a power of two giving roughly one share a second, on algo's scale.
func demoDifficultyFor(algo mining.Algorithm, hashrate float64) float64 {
	if hashrate <= 0 {
		return 1.0 / 1024
	}
	return math.Exp2(math.Floor(math.Log2(hashrate * algo.DifficultyFactor() / (1 << 32))))
}

// algorithmLister is implemented by plans whose hardware hashes more than
// SHA256d; a plan without it hashes SHA256d only (BM13xx chips, sim).
type algorithmLister interface {
	algorithms() []mining.Algorithm
}

// planAlgorithms lists what a board plan can hash.
func planAlgorithms(p boardPlan) []mining.Algorithm {
	if l, ok := p.(algorithmLister); ok {
		return l.algorithms()
	}
	return []mining.Algorithm{mining.SHA256d}
}

// checkAlgorithm refuses an algorithm the board cannot hash.
func checkAlgorithm(p boardPlan, a mining.Algorithm) error {
	if slices.Contains(planAlgorithms(p), a.Canonical()) {
		return nil
	}
	return fmt.Errorf("algorithm %s not supported by board %s", a, p.name())
}

// algoHashrate estimates a plan's hash rate in algo.
func algoHashrate(p boardPlan, algo mining.Algorithm) float64 {
	if cp, ok := p.(cpuPlan); ok && algo.Canonical() == mining.Scrypt {
		return cp.scryptHashrate()
	}
	return p.expectedHashrate()
}

func (p cpuPlan) algorithms() []mining.Algorithm { return cpu.Algorithms() }

// scryptHashrate measures the scrypt core on one core for 50 ms.
func (p cpuPlan) scryptHashrate() float64 {
	h, err := scrypt.New(mining.ScryptN)
	if err != nil {
		return 0
	}
	var hdr [80]byte
	n, start := 0, time.Now()
	for time.Since(start) < 50*time.Millisecond {
		binary.LittleEndian.PutUint32(hdr[76:], uint32(n))
		h.Hash(&hdr)
		n++
	}
	return float64(n) / time.Since(start).Seconds() * float64(p.workers())
}

// workers is the number of CPU threads the plan uses.
func (p cpuPlan) workers() int {
	if p.threads > 0 {
		return p.threads
	}
	return runtime.NumCPU()
}
