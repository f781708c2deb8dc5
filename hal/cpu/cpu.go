// Package cpu is the CPU hashing backend for test rigs: one worker per core,
// each scanning whole work units with the fastest SHA-256d kernel the CPU
// offers (hal/cpu/kernel), or with the scrypt core (hal/cpu/scrypt) for
// scrypt jobs. It speaks the same Work/Result contract as a hash board, so
// everything above it runs unchanged on a PC.
package cpu

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/kilnfw/kiln/hal/cpu/kernel"
	"github.com/kilnfw/kiln/hal/cpu/scrypt"
	"github.com/kilnfw/kiln/mining"
)

// chunk is how many nonces a worker hashes per kernel call, between checks
// for newer work: about 1.5 ms at 45 MH/s per core, so a clean job is picked
// up at once. The per-call overhead is well under a microsecond.
const chunk = 1 << 16

// DefaultReportLimit is the top-word limit below which workers report
// nonces: 1 in 65536 hashes, a few hundred results per second per core, so
// the 5-second hashrate estimate is smooth while host re-verification costs
// well under 0.1% of a core. Jobs whose share target is easier raise it.
const DefaultReportLimit = 0x0000ffff

// scryptChunk is how many scrypt hashes a worker does between checks for
// newer work: a few milliseconds at a few thousand hashes a second.
const scryptChunk = 16

// DefaultScryptReportLimit is the top-word limit for scrypt jobs: 1 in 1024
// hashes, a few results a second per core at scrypt's rate.
const DefaultScryptReportLimit = 0x003fffff

// Algorithms lists the proof-of-work algorithms the CPU backend hashes.
func Algorithms() []mining.Algorithm { return []mining.Algorithm{mining.SHA256d, mining.Scrypt} }

// WorkSource hands out work units; mining.Dispatcher is one.
type WorkSource interface {
	Next(ctx context.Context) (*mining.Work, error)
}

// Config configures a Backend.
type Config struct {
	// Threads is the number of workers; 0 means one per CPU core.
	Threads int
	// Work supplies work units.
	Work WorkSource
	// Results receives every reported nonce, from the worker goroutines.
	Results func(mining.Result)
	// ReportLimit overrides DefaultReportLimit (tests, benchmarks);
	// ScryptReportLimit overrides DefaultScryptReportLimit.
	ReportLimit, ScryptReportLimit uint32
	Log                            *slog.Logger
}

// Backend hashes on the host CPU.
type Backend struct {
	cfg    Config
	hashes atomic.Uint64
}

// New returns a backend; Run starts it.
func New(cfg Config) (*Backend, error) {
	if cfg.Work == nil || cfg.Results == nil {
		return nil, errors.New("cpu: config needs Work and Results")
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.NumCPU()
	}
	if cfg.ReportLimit == 0 {
		cfg.ReportLimit = DefaultReportLimit
	}
	if cfg.ScryptReportLimit == 0 {
		cfg.ScryptReportLimit = DefaultScryptReportLimit
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Backend{cfg: cfg}, nil
}

// Units returns the number of hashing workers.
func (b *Backend) Units() int { return b.cfg.Threads }

// Kernel names the SHA-256d kernel in use.
func (b *Backend) Kernel() string { return kernel.Implementation() }

// Hashes returns the number of nonces hashed so far.
func (b *Backend) Hashes() uint64 { return b.hashes.Load() }

// Run hashes until ctx ends.
//
// Kernel calls are assembly the Go scheduler cannot preempt, so Run makes
// sure GOMAXPROCS exceeds the worker count: the spare P waits in the network
// poller, and share submissions and API requests are served at once instead
// of after the scheduler's 10 ms preemption tick.
func (b *Backend) Run(ctx context.Context) error {
	if runtime.GOMAXPROCS(0) <= b.cfg.Threads {
		runtime.GOMAXPROCS(b.cfg.Threads + 1)
	}
	b.cfg.Log.Info("cpu backend started", "threads", b.cfg.Threads, "kernel", b.Kernel())
	var wg sync.WaitGroup
	for unit := range b.cfg.Threads {
		wg.Go(func() { b.worker(ctx, unit) })
	}
	wg.Wait()
	return nil
}

func (b *Backend) worker(ctx context.Context, unit int) {
	out := make([]uint32, 0, 64)
	var sc *scrypt.Hasher // made on the first scrypt job: 128 KiB
	for ctx.Err() == nil {
		w, err := b.cfg.Work.Next(ctx)
		if err != nil {
			return
		}
		switch w.Job.Algo.Canonical() {
		case mining.Scrypt:
			if sc == nil {
				if sc, err = scrypt.New(mining.ScryptN); err != nil {
					b.cfg.Log.Error("scrypt core", "err", err)
					return
				}
			}
			out = b.scanScrypt(ctx, sc, w, unit, out)
		case mining.SHA256d:
			out = b.scan(ctx, w, unit, out)
		default:
			// Pools are checked against Algorithms before they connect;
			// this only guards against a job that slipped through.
			b.cfg.Log.Error("unsupported algorithm", "algo", w.Job.Algo, "job", w.Job.ID)
			return
		}
	}
}

// scanScrypt hashes the nonces of one scrypt work unit until it is done
// or expires.
func (b *Backend) scanScrypt(ctx context.Context, sc *scrypt.Hasher, w *mining.Work, unit int, out []uint32) []uint32 {
	limit := max(b.cfg.ScryptReportLimit, w.Job.ShareTarget.Top32())
	target := mining.TargetFromTop32(limit)
	hdr := w.Header
	for start := uint64(0); start < 1<<32; start += scryptChunk {
		if ctx.Err() != nil || w.Expired() {
			return out
		}
		out = sc.Scan(&hdr, uint32(start), scryptChunk, limit, out[:0])
		b.hashes.Add(scryptChunk)
		for _, n := range out {
			b.cfg.Results(mining.Result{Work: w, Nonce: n, Target: target, Unit: unit})
		}
	}
	return out
}

// scan hashes the nonces of one work unit until it is done or expires.
func (b *Backend) scan(ctx context.Context, w *mining.Work, unit int, out []uint32) []uint32 {
	limit := max(b.cfg.ReportLimit, w.Job.ShareTarget.Top32())
	target := mining.TargetFromTop32(limit)
	mid, tail := w.Midstate, w.Tail()
	for start := uint64(0); start < 1<<32; start += chunk {
		if ctx.Err() != nil || w.Expired() {
			return out
		}
		out = kernel.Scan(&mid, &tail, uint32(start), chunk, limit, out[:0])
		b.hashes.Add(chunk)
		for _, n := range out {
			b.cfg.Results(mining.Result{Work: w, Nonce: n, Target: target, Unit: unit})
		}
	}
	return out
}
