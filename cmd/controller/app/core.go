package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
)

// counterFlushEvery is how often session counters are added to the lifetime
// counters in the store.
const counterFlushEvery = 10 * time.Second

type coreConfig struct {
	board boardPlan
	pools []stratumproxy.PoolConfig
	store *store.Store
	opts  *options
	log   *slog.Logger
	// stratum is the downstream listener of the farm proxy; nil when off.
	stratum net.Listener
}

// core is the mining pipeline: pool manager → dispatcher → backend →
// validator → pool manager, plus the statistics the web UI reads.
type core struct {
	log     *slog.Logger
	store   *store.Store
	board   string
	started time.Time

	dispatcher *mining.Dispatcher
	hashrate   *mining.Hashrate
	validator  *mining.Validator
	pools      *stratumproxy.Manager
	hasher     hasher
	// proxy serves downstream miners (nil when off); workers holds their
	// statistics until saved.
	proxy   *stratumproxy.Proxy
	stratum net.Listener
	workers workerBook

	accepted, rejected, stale atomic.Uint64

	mu        sync.Mutex
	best      float64
	lastShare time.Time
}

func newCore(cfg coreConfig) (*core, error) {
	now := time.Now()
	c := &core{
		log:        cfg.log,
		store:      cfg.store,
		board:      cfg.board.name(),
		started:    now,
		dispatcher: mining.NewDispatcher(nil, cfg.board.dispatcherOptions()...),
		hashrate:   mining.NewHashrate(now),
	}
	c.validator = mining.NewValidator(c.hashrate, nil)
	o := cfg.opts
	if cfg.stratum != nil {
		pc, err := o.proxyConfig()
		if err != nil {
			return nil, err
		}
		pc.Forward = func(s *mining.Share) { c.pools.Submit(s) }
		pc.OnShare = c.workers.add
		pc.Log = cfg.log.With("pkg", "proxy")
		if c.proxy, err = stratumproxy.NewProxy(pc); err != nil {
			return nil, err
		}
		c.stratum = cfg.stratum
	}
	m, err := stratumproxy.NewManager(stratumproxy.ManagerConfig{
		Pools:             cfg.pools,
		UserAgent:         "kiln/" + Version,
		OnJob:             c.onJob,
		OnIdle:            c.onIdle,
		OnShare:           c.shareResult,
		RejectRun:         o.rejectRun,
		NoWorkTimeout:     o.noWorkTimeout,
		FailbackGrace:     o.failbackGrace,
		SuggestDifficulty: o.suggestDiff,
		ProtocolLog:       o.protocolLog,
		Log:               cfg.log.With("pkg", "stratum"),
	})
	if err != nil {
		return nil, err
	}
	c.pools = m
	if c.hasher, err = cfg.board.build(c.dispatcher, c.result); err != nil {
		return nil, err
	}
	return c, nil
}

// run mines until ctx ends.
func (c *core) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.pools.Run(ctx) })
	g.Go(func() error { return c.hasher.Run(ctx) })
	g.Go(func() error { return c.report(ctx) })
	if c.proxy != nil {
		c.log.Info("stratum proxy listening", "addr", c.stratum.Addr().String())
		g.Go(func() error { return c.proxy.Serve(ctx, c.stratum) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// result handles one nonce from a hashing unit; it runs on the unit's
// goroutine, so it only verifies and queues. It returns the validator's
// verdict, which chip drivers count per chip.
func (c *core) result(r mining.Result) error {
	share, err := c.validator.Check(r)
	switch {
	case errors.Is(err, mining.ErrStale):
		c.stale.Add(1)
		c.store.LogShare(store.ShareRecord{Time: time.Now(), Job: r.Work.Job.ID,
			Difficulty: r.Work.Job.Difficulty, Result: "stale", Reason: "job voided before submit"})
	case errors.Is(err, mining.ErrHardware):
		c.log.Debug("hardware error", "unit", r.Unit, "job", r.Work.Job.ID, "nonce", r.Nonce)
	case share != nil:
		if c.proxy != nil {
			// The boards mine on the proxy's reserved extranonce prefix.
			if share = c.proxy.UpstreamShare(share); share == nil {
				c.stale.Add(1)
				return err
			}
		}
		c.pools.Submit(share)
	}
	return err
}

// onJob hands the active pool's job to the hashing units and, with the
// proxy on, to the downstream miners (the units then mine the proxy's
// reserved slice of the extranonce space).
func (c *core) onJob(j *mining.Job) {
	if c.proxy != nil {
		c.proxy.SetUpstreamJob(j)
		if local := c.proxy.LocalJob(j); local != nil {
			j = local
		}
	}
	c.dispatcher.SetJob(j)
}

// onIdle stops all hashing: no pool is usable.
func (c *core) onIdle() {
	c.dispatcher.Clear()
	if c.proxy != nil {
		c.proxy.UpstreamIdle()
	}
}

// shareResult records what a pool said about a share.
func (c *core) shareResult(r stratumproxy.ShareResult) {
	rec := store.ShareRecord{Time: time.Now(), Pool: r.URL, Job: r.Share.Job.ID,
		Difficulty: r.Share.Job.Difficulty, ShareDifficulty: r.Share.Difficulty}
	switch {
	case r.Accepted:
		c.accepted.Add(1)
		rec.Result = "accepted"
		c.mu.Lock()
		c.best = max(c.best, r.Share.Difficulty)
		c.lastShare = rec.Time
		c.mu.Unlock()
		c.log.Info("share accepted", "pool", r.URL, "job", r.Share.Job.ID,
			"difficulty", r.Share.Difficulty, "latency_ms", r.Latency.Milliseconds())
	case errors.Is(r.Err, mining.ErrStale):
		c.stale.Add(1)
		rec.Result, rec.Reason = "stale", "pool connection changed before submit"
	default:
		c.rejected.Add(1)
		rec.Result, rec.Reason = "rejected", stratumproxy.ReasonOf(r.Err)
		c.log.Warn("share rejected", "pool", r.URL, "job", r.Share.Job.ID, "err", r.Err)
	}
	c.store.LogShare(rec)
}

// report logs a status line and adds the session's counters to the
// store's lifetime counters every counterFlushEvery, and once more at exit.
func (c *core) report(ctx context.Context) error {
	t := time.NewTicker(counterFlushEvery)
	defer t.Stop()
	var last map[string]int64
	flush := func(ctx context.Context) {
		now := c.counters()
		delta := make(map[string]int64, len(now))
		for k, v := range now {
			if d := v - last[k]; d != 0 {
				delta[k] = d
			}
		}
		c.flushWorkers(ctx)
		if len(delta) == 0 {
			return
		}
		if err := c.store.AddCounters(ctx, delta); err != nil {
			c.log.Warn("saving lifetime counters", "err", err)
			return
		}
		last = now
	}
	for {
		select {
		case <-ctx.Done():
			// The run's context is over; the final flush gets a short one.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			flush(fctx)
			cancel()
			return nil
		case <-t.C:
			flush(ctx)
			s := c.Summary()
			c.log.Info("status", "hashrate_hs", int64(s.Hashrate), "accepted", s.Accepted,
				"rejected", s.Rejected, "stale", s.Stale, "hw_errors", s.HWErrors, "pool", s.ActivePool)
		}
	}
}

// counters are the session totals kept as lifetime counters.
func (c *core) counters() map[string]int64 {
	v := c.validator.Stats()
	return map[string]int64{
		"accepted":  int64(c.accepted.Load()),
		"rejected":  int64(c.rejected.Load()),
		"stale":     int64(c.stale.Load()),
		"hw_errors": int64(v.HWErrors),
		"hashes":    int64(v.Hashes),
	}
}
