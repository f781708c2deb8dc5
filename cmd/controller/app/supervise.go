package app

import (
	"context"
	"time"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
)

// eventTimeout bounds writing one event to the log.
const eventTimeout = 2 * time.Second

// runPools runs the pool manager in service, and replaces it whenever the
// pool list changes, until ctx ends. Jobs of the old manager are voided
// (hashing pauses) until the new one has work.
func (c *core) runPools(ctx context.Context) error {
	for {
		m := c.mgr.Load()
		mctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- m.Run(mctx) }()
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-c.poolsChanged:
		}
		cancel()
		<-done
		c.onIdle()
		next, err := c.newManager()
		if err != nil {
			return err
		}
		c.mgr.Store(next)
		c.log.Info("pool connections restarted")
	}
}

// runHashers runs the hasher, and rebuilds it from the plan (which tuning
// may have changed) when asked, until ctx ends or the hasher fails.
func (c *core) runHashers(ctx context.Context) error {
	for {
		h := c.currentHasher()
		hctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- h.Run(hctx) }()
		if sh, ok := h.(*simHasher); ok {
			go c.applySavedTuning(hctx, sh)
		}
		select {
		case err := <-done:
			cancel()
			return err
		case <-ctx.Done():
			cancel()
			return <-done
		case <-c.restartHash:
		}
		cancel()
		if err := <-done; err != nil {
			c.log.Warn("hasher stopped with an error before its restart", "err", err)
		}
		c.mu.Lock()
		plan := c.plan
		c.mu.Unlock()
		next, err := plan.build(c.dispatcher, c.result)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.hasher = next
		c.mu.Unlock()
		c.log.Info("hashing restarted", "board", c.board)
	}
}

// signal asks a supervisor loop to act, without blocking: one pending
// request covers any number of changes.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *core) currentHasher() hasher {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasher
}

// fanHasher is a hasher with fans of its own (the simulated board).
type fanHasher interface {
	Fans() []hal.Fan
}

// fans returns the fans of the hardware in service.
func (c *core) fans() []hal.Fan {
	if fh, ok := c.currentHasher().(fanHasher); ok {
		return fh.Fans()
	}
	return nil
}

// hottest is the fan loop's temperature input.
func (c *core) hottest() (float64, bool) {
	return hottest(c.currentHasher().Boards())
}

// onSwitch records a change of the active pool in the event log.
func (c *core) onSwitch(from, to, reason string) {
	level := store.LevelInfo
	if to == "none" {
		level = store.LevelWarn
	}
	c.event(level, "pool", "pool_switch", "pool "+from+" → "+to+" ("+reason+")")
}

// event writes to the event log; a failure is only logged.
func (c *core) event(level, source, kind, msg string) {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := c.store.AddEvent(ctx, store.Event{Level: level, Source: source, Kind: kind, Message: msg}); err != nil {
		c.log.Warn("event log", "kind", kind, "err", err)
	}
}

// manager returns the pool manager in service.
func (c *core) manager() *stratumproxy.Manager { return c.mgr.Load() }
