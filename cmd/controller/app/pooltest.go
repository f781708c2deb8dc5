package app

import (
	"context"
	"errors"
	"time"

	"github.com/kilnfw/kiln/stratumproxy"
	"github.com/kilnfw/kiln/webui"
)

// poolTestDial bounds the trial connection's dial.
const poolTestDial = 5 * time.Second

// TestPool implements webui.Control: it connects once, subscribes,
// authorizes and waits for the first job, or for ctx to end.
func (c *core) TestPool(ctx context.Context, p webui.PoolSetting) webui.PoolTest {
	events := make(chan stratumproxy.Event, 16)
	cl, err := stratumproxy.NewClient(stratumproxy.ClientConfig{
		URL: p.URL, User: p.User, Password: p.Password, UserAgent: "kiln/" + Version,
		DialTimeout: poolTestDial, Events: events, Log: c.log.With("pkg", "pooltest"),
	})
	if err != nil {
		return webui.PoolTest{Error: err.Error()}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = cl.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	start := time.Now()
	var res webui.PoolTest
	for {
		select {
		case <-ctx.Done():
			if res.Error == "" {
				res.Error = "no job from the pool in time"
				if errors.Is(ctx.Err(), context.Canceled) {
					res.Error = "test cancelled"
				}
			}
			return res
		case ev := <-events:
			switch ev.Kind {
			case stratumproxy.EventAuthorized:
				res.Difficulty, res.VersionRolling = ev.Difficulty, ev.VersionMask != 0
			case stratumproxy.EventDifficulty:
				res.Difficulty = ev.Difficulty
			case stratumproxy.EventJob:
				res.OK, res.Error = true, ""
				res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
				if ev.Job != nil && ev.Job.Difficulty > 0 {
					res.Difficulty = ev.Job.Difficulty
				}
				return res
			case stratumproxy.EventDisconnected:
				if ev.Err != nil {
					res.Error = ev.Err.Error()
				} else {
					res.Error = "disconnected"
				}
				return res
			}
		}
	}
}
