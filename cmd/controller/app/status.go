package app

import (
	"time"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/stratumproxy"
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
		Units:       c.currentHasher().Units(),
	}
	_, s.ActivePool = c.manager().Active()
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

// Pools implements webui.Status: every saved pool in priority order, with
// the live state of the enabled ones ("disabled" for the others), or the
// demo pool alone when none is enabled.
func (c *core) Pools() []webui.Pool {
	st := c.manager().Status()
	c.mu.Lock()
	index := c.poolMap
	out := make([]webui.Pool, 0, len(c.saved)+1)
	for i, p := range c.saved {
		v := webui.Pool{Priority: i, URL: redact(p.URL), User: p.User, Enabled: p.Enabled,
			Algo: mining.Algorithm(p.Algo).String(), Status: "disabled", RejectedByReason: map[string]uint64{}}
		if err := c.unsupported(p); err != nil && p.Enabled {
			v.Status, v.LastError = stratumproxy.PoolDead, err.Error()
		}
		out = append(out, v)
	}
	c.mu.Unlock()
	for k, p := range st {
		if k >= len(index) {
			break
		}
		v := livePool(p)
		if i := index[k]; i >= 0 && i < len(out) {
			v.Priority, v.Enabled, v.Algo = i, true, out[i].Algo
			out[i] = v
		} else if i < 0 {
			// The demo pool stands in for the list; pools refused for
			// their algorithm stay visible with the reason.
			v.Priority, v.Enabled, v.Demo, v.Algo = 0, true, true, c.opts.demoAlgo.String()
			out = append([]webui.Pool{v}, refusedPools(out)...)
		}
	}
	return out
}

// refusedPools returns the pools marked dead because the board cannot
// hash their algorithm.
func refusedPools(list []webui.Pool) []webui.Pool {
	var out []webui.Pool
	for _, p := range list {
		if p.Status == stratumproxy.PoolDead && p.LastError != "" {
			out = append(out, p)
		}
	}
	return out
}

// livePool converts the manager's view of a pool.
func livePool(p stratumproxy.PoolStatus) webui.Pool {
	v := webui.Pool{
		URL:              p.URL,
		User:             p.User,
		Status:           p.State,
		Active:           p.State == stratumproxy.PoolActive,
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
		v.LastShare = &t
	}
	return v
}

// redact drops any password from a pool URL for display.
func redact(raw string) string {
	u, err := stratumproxy.ParsePoolURL(raw)
	if err != nil {
		return raw
	}
	u.Password = ""
	return u.String()
}

// Boards implements webui.BoardStatus.
func (c *core) Boards() []webui.Board { return c.currentHasher().Boards() }
