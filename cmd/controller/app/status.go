package app

import (
	"time"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/webui"
)

// Summary implements webui.Status: the session's totals and rates.
// Rejected counts every share a pool refused; Stale counts shares found on
// work that was voided (new block, pool switch) and so never submitted.
func (c *core) Summary() webui.Summary {
	now := time.Now()
	s := webui.Summary{
		Accepted:    c.accepted.Load(),
		Rejected:    c.rejected.Load(),
		Stale:       c.stale.Load(),
		HWErrors:    c.validator.Stats().HWErrors,
		Hashrate5s:  c.hashrate.Rate(now, mining.Window5s),
		Hashrate:    c.hashrate.Rate(now, mining.Window1m),
		Hashrate15m: c.hashrate.Rate(now, mining.Window15m),
		UptimeS:     now.Sub(c.started).Seconds(),
		Board:       c.board,
		Units:       c.hasher.Units(),
	}
	_, s.ActivePool = c.pools.Active()
	if j := c.dispatcher.Job(); j != nil {
		s.Difficulty = j.Difficulty
	}
	c.mu.Lock()
	s.BestShare = c.best
	if !c.lastShare.IsZero() {
		t := c.lastShare
		s.LastShare = &t
	}
	c.mu.Unlock()
	return s
}

// Pools implements webui.Status.
func (c *core) Pools() []webui.Pool {
	st := c.pools.Status()
	out := make([]webui.Pool, len(st))
	for i, p := range st {
		out[i] = webui.Pool{
			Priority:         p.Priority,
			URL:              p.URL,
			User:             p.User,
			Status:           p.State,
			Active:           p.State == "active",
			Difficulty:       p.Difficulty,
			Accepted:         p.Accepted,
			Rejected:         p.Rejected,
			RejectedByReason: p.RejectedByReason,
			Stale:            p.Stale,
			LatencyMS:        float64(p.Latency.Microseconds()) / 1000,
			VersionRolling:   p.VersionRolling,
			LastError:        p.LastError,
		}
		if !p.LastShare.IsZero() {
			t := p.LastShare
			out[i].LastShare = &t
		}
	}
	return out
}

// Boards implements webui.BoardStatus.
func (c *core) Boards() []webui.Board { return c.hasher.Boards() }
