package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kilnfw/kiln/control"
	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
	"github.com/kilnfw/kiln/webui"
)

// counterFlushEvery is how often session counters are added to the lifetime
// counters in the store.
const counterFlushEvery = 10 * time.Second

// historyEvery is the spacing of the dashboard's history samples.
const historyEvery = time.Minute

type coreConfig struct {
	board boardPlan
	store *store.Store
	opts  *options
	log   *slog.Logger
	// stratum is the downstream listener of the farm proxy; nil when off.
	stratum net.Listener
	// demo starts the embedded demo pool the first time it is needed.
	demo func() (stratumproxy.PoolConfig, error)
}

// core is the mining pipeline: pool manager → dispatcher → backend →
// validator → pool manager, plus the statistics the web UI reads and the
// controls it uses. The pool manager and the hasher are rebuilt when the
// pools or the tuning change.
type core struct {
	log     *slog.Logger
	store   *store.Store
	opts    *options
	board   string
	started time.Time
	demo    func() (stratumproxy.PoolConfig, error)

	dispatcher *mining.Dispatcher
	hashrate   *mining.Hashrate
	validator  *mining.Validator
	// proxy serves downstream miners (nil when off); workers holds their
	// statistics until saved.
	proxy   *stratumproxy.Proxy
	stratum net.Listener
	workers workerBook
	fan     *control.FanLoop
	guard   *control.Guard
	upgrade upgrader

	// mgr is the pool manager in service; poolsChanged asks runPools to
	// replace it, restartHash asks runHashers to rebuild the hasher.
	mgr          atomic.Pointer[stratumproxy.Manager]
	poolsChanged chan struct{}
	restartHash  chan struct{}
	// poolsMu makes each change of the pool list one read-modify-write.
	poolsMu sync.Mutex

	accepted, rejected, stale atomic.Uint64

	mu        sync.Mutex
	best      float64
	lastShare time.Time
	plan      boardPlan
	hasher    hasher
	tune      savedTuning
	saved     []store.Pool // the saved pool list
	poolMap   []int        // manager pool index → saved index; -1 for the demo pool

	lastSample time.Time // owned by report

	// runCtx is run's context, for work started by API calls.
	runCtx context.Context
	// tmu guards the autotuner.
	tmu        sync.Mutex
	tuner      *control.Tuner
	tuneCancel context.CancelFunc
	tuneDone   chan struct{}
}

func newCore(ctx context.Context, cfg coreConfig) (*core, error) {
	now := time.Now()
	c := &core{
		log:          cfg.log,
		store:        cfg.store,
		opts:         cfg.opts,
		board:        cfg.board.name(),
		started:      now,
		demo:         cfg.demo,
		dispatcher:   mining.NewDispatcher(nil, cfg.board.dispatcherOptions()...),
		hashrate:     mining.NewHashrate(now),
		poolsChanged: make(chan struct{}, 1),
		restartHash:  make(chan struct{}, 1),
		runCtx:       ctx,
	}
	c.validator = mining.NewValidator(c.hashrate, nil)
	if err := c.loadSettings(ctx, cfg.board); err != nil {
		return nil, err
	}
	if cfg.stratum != nil {
		pc, err := c.opts.proxyConfig()
		if err != nil {
			return nil, err
		}
		pc.Forward = func(s *mining.Share) { c.mgr.Load().Submit(s) }
		pc.OnShare = c.workers.add
		pc.Log = cfg.log.With("pkg", "proxy")
		if c.proxy, err = stratumproxy.NewProxy(pc); err != nil {
			return nil, err
		}
		c.stratum = cfg.stratum
	}
	m, err := c.newManager()
	if err != nil {
		return nil, err
	}
	c.mgr.Store(m)
	h, err := c.plan.build(c.dispatcher, c.result)
	if err != nil {
		return nil, err
	}
	c.hasher = h
	c.fan, err = control.NewFanLoop(c.fans, c.hottest, fanPolicy(c.tune.Fan), cfg.log.With("pkg", "fan"))
	if err != nil {
		return nil, err
	}
	c.upgrade = newUpgrader(c.opts, c.board, c)
	c.guard, err = control.NewGuard(control.GuardConfig{Plant: plant{c}, OnEvent: c.protectionEvent,
		Limits: control.Limits{RecoverAfter: c.opts.recoverAfter},
		Log:    cfg.log.With("pkg", "protection")})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// loadSettings reads the saved pools and tuning.
func (c *core) loadSettings(ctx context.Context, plan boardPlan) error {
	saved, err := c.store.Pools(ctx)
	if err != nil {
		return err
	}
	t, err := loadTuning(ctx, c.store)
	if err != nil {
		c.log.Warn("loading tuning", "err", err)
	}
	c.saved, c.tune, c.plan = saved, t, applySaved(plan, t)
	return nil
}

// newManager builds a pool manager for the saved enabled pools, or the
// demo pool when there are none.
func (c *core) newManager() (*stratumproxy.Manager, error) {
	c.mu.Lock()
	var pools []stratumproxy.PoolConfig
	var index []int
	for i, p := range c.saved {
		// A pool the hardware cannot hash is never connected; Pools
		// shows it dead with the reason.
		if p.Enabled && c.unsupported(p) == nil {
			pools = append(pools, stratumproxy.PoolConfig{URL: p.URL, User: p.User, Password: p.Password,
				Algo: mining.Algorithm(p.Algo).Canonical()})
			index = append(index, i)
		}
	}
	c.mu.Unlock()
	if len(pools) == 0 {
		demo, err := c.demo()
		if err != nil {
			return nil, err
		}
		pools, index = []stratumproxy.PoolConfig{demo}, []int{-1}
	}
	o := c.opts
	m, err := stratumproxy.NewManager(stratumproxy.ManagerConfig{
		Pools:             pools,
		UserAgent:         "kiln/" + Version,
		OnJob:             c.onJob,
		OnIdle:            c.onIdle,
		OnShare:           c.shareResult,
		OnSwitch:          c.onSwitch,
		RejectRun:         o.rejectRun,
		NoWorkTimeout:     o.noWorkTimeout,
		FailbackGrace:     o.failbackGrace,
		SuggestDifficulty: o.suggestDiff,
		ProtocolLog:       o.protocolLog,
		Log:               c.log.With("pkg", "stratum"),
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.poolMap = index
	c.mu.Unlock()
	return m, nil
}

// unsupported says why a saved pool cannot be mined on this board: an
// unknown algorithm name or one the hardware cannot hash; nil if it can.
func (c *core) unsupported(p store.Pool) error {
	a, err := mining.ParseAlgorithm(p.Algo)
	if err != nil {
		return err
	}
	return checkAlgorithm(c.plan, a)
}

// run mines until ctx ends.
func (c *core) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	c.runCtx = ctx
	g.Go(func() error { return c.runPools(ctx) })
	g.Go(func() error { return c.runHashers(ctx) })
	g.Go(func() error { return c.fan.Run(ctx) })
	g.Go(func() error { return c.guard.Run(ctx) })
	g.Go(func() error { return c.watchChips(ctx) })
	g.Go(func() error { return c.bootFirmware(ctx) })
	g.Go(func() error { return c.report(ctx) })
	if c.proxy != nil {
		c.log.Info("stratum proxy listening", "addr", c.stratum.Addr().String())
		g.Go(func() error { return c.proxy.Serve(ctx, c.stratum) })
	}
	c.event(store.LevelInfo, "system", "started", fmt.Sprintf("controller %s started on board %s", Version, c.board))
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
		c.mgr.Load().Submit(share)
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
			c.sample(ctx, s)
			c.log.Info("status", "hashrate_hs", int64(s.Hashrate), "accepted", s.Accepted,
				"rejected", s.Rejected, "stale", s.Stale, "hw_errors", s.HWErrors, "pool", s.ActivePool)
		}
	}
}

// sample records a point of the dashboard's history at most once per
// historyEvery.
func (c *core) sample(ctx context.Context, s webui.Summary) {
	now := time.Now()
	if !c.lastSample.IsZero() && now.Sub(c.lastSample) < historyEvery-time.Second {
		return
	}
	c.lastSample = now
	temp, _ := c.hottest()
	err := c.store.AddSample(ctx, store.Sample{Time: now, HashrateHS: s.Hashrate, Accepted: s.Accepted,
		Rejected: s.Rejected, Stale: s.Stale, TemperatureC: temp})
	if err != nil {
		c.log.Warn("saving history", "err", err)
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
