package stratumproxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// managedPool is the manager's view of one pool, built from its client's
// events.
type managedPool struct {
	url, user string

	session    uint64
	demoted    uint64 // session dropped for rejects or no work; its events are ignored
	connected  bool
	authorized bool
	dead       bool
	// probation: demoted since it last served; it needs FailbackGrace of
	// health before it is preferred over another usable pool.
	probation    bool
	job          *mining.Job
	lastWork     time.Time // last job, or authorization
	healthySince time.Time
	difficulty   float64
	rolling      bool
	rejectRun    int

	accepted, rejected, stale uint64
	byReason                  map[string]uint64
	lastShare                 time.Time
	latency                   time.Duration
	lastErr                   string
}

// healthy: connected, authorized, holding a job of this session, not
// demoted.
func (p *managedPool) healthy() bool { return p.authorized && p.job != nil }

// current reports whether ev belongs to the pool's live, undemoted session.
func (p *managedPool) current(ev Event) bool {
	return ev.Session == p.session && ev.Session != p.demoted
}

// loop is the manager's goroutine: it owns the pools' state.
func (m *Manager) loop(ctx context.Context) {
	every := min(m.cfg.NoWorkTimeout, m.cfg.FailbackGrace) / 10
	tick := time.NewTicker(max(5*time.Millisecond, min(every, time.Second)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-m.events:
			if ev.Pool >= 0 && ev.Pool < len(m.pools) {
				m.handle(ev)
			}
		case <-tick.C:
			m.checkTimers()
		}
		m.publish()
	}
}

func (m *Manager) handle(ev Event) {
	p := m.pools[ev.Pool]
	now := m.now()
	switch ev.Kind {
	case EventConnected:
		p.session, p.connected, p.dead = ev.Session, true, false
		p.authorized, p.job, p.healthySince = false, nil, time.Time{}
	case EventAuthorized:
		if p.current(ev) {
			p.authorized, p.rolling, p.difficulty = true, ev.VersionMask != 0, ev.Difficulty
			p.lastWork, p.rejectRun = now, 0
		}
	case EventDifficulty:
		if p.current(ev) {
			p.difficulty = ev.Difficulty
		}
	case EventJob:
		if p.current(ev) && p.authorized && ev.Job != nil {
			m.onJob(ev.Pool, ev.Job, now)
		}
	case EventShare:
		if ev.Share != nil {
			m.onShare(ev.Pool, ev.Share, now)
		}
	case EventDisconnected:
		m.onDisconnect(ev)
	}
}

func (m *Manager) onJob(i int, job *mining.Job, now time.Time) {
	p := m.pools[i]
	if !p.healthy() {
		p.healthySince = now
	}
	p.job, p.lastWork = job, now
	if i == m.activeIx {
		m.cfg.OnJob(job)
		return
	}
	m.evaluate(now)
}

func (m *Manager) onDisconnect(ev Event) {
	p := m.pools[ev.Pool]
	p.connected, p.authorized, p.job, p.healthySince = false, false, nil, time.Time{}
	p.dead = true
	if ev.Err != nil && !errors.Is(ev.Err, errClientDropped) {
		p.lastErr = ev.Err.Error()
	}
	if ev.Pool != m.activeIx {
		return
	}
	reason := "disconnected"
	if errors.Is(ev.Err, ErrAuthRefused) {
		reason = "authorization refused"
	}
	m.failover(reason)
}

func (m *Manager) onShare(i int, r *ShareResult, now time.Time) {
	p := m.pools[i]
	switch {
	case r.Accepted:
		p.accepted++
		p.rejectRun = 0
		p.lastShare, p.latency = now, r.Latency
	case errors.Is(r.Err, mining.ErrStale):
		p.stale++
	default:
		p.rejected++
		p.byReason[mgrRejectLabel(r.Err)]++
		p.lastShare, p.latency = now, r.Latency
		if !errors.Is(r.Err, ErrConnectionLost) {
			p.rejectRun++
		}
	}
	m.cfg.OnShare(*r)
	if p.rejectRun >= m.cfg.RejectRun && p.authorized {
		m.demote(i, fmt.Sprintf("%d rejected shares in a row", p.rejectRun))
	}
}

// mgrRejectLabel is the counter label of a refused share.
func mgrRejectLabel(err error) string {
	switch {
	case errors.Is(err, ErrSubmitTimeout):
		return "timeout"
	case errors.Is(err, ErrConnectionLost):
		return "connection_lost"
	}
	return ReasonOf(err)
}

// checkTimers demotes pools that stopped sending work and fails back when
// a preferred pool has been healthy long enough.
func (m *Manager) checkTimers() {
	now := m.now()
	for i, p := range m.pools {
		if p.authorized && now.Sub(p.lastWork) >= m.cfg.NoWorkTimeout {
			m.demote(i, fmt.Sprintf("no new job for %v", m.cfg.NoWorkTimeout))
		}
	}
	m.evaluate(now)
}

// demote takes a pool out of service and has its client re-dial.
func (m *Manager) demote(i int, reason string) {
	p := m.pools[i]
	p.demoted, p.probation = p.session, true
	p.authorized, p.job, p.healthySince, p.rejectRun = false, nil, time.Time{}, 0
	p.lastErr = reason
	m.log.Warn("pool demoted", "pool", p.url, "reason", reason)
	m.clients[i].Reconnect(p.session)
	if i == m.activeIx {
		m.failover(reason)
	}
}

// evaluate takes a pool when none is active, and fails back to a
// higher-priority pool that has been healthy for FailbackGrace.
func (m *Manager) evaluate(now time.Time) {
	if m.activeIx < 0 {
		if i := m.best(now); i >= 0 && !m.holdForPrimary(i, now) {
			m.switchTo(-1, i, "pool available")
		}
		return
	}
	for i := range m.activeIx {
		p := m.pools[i]
		if p.healthy() && now.Sub(p.healthySince) >= m.cfg.FailbackGrace {
			m.switchTo(m.activeIx, i, "failback")
			return
		}
	}
}

// holdForPrimary reports whether, at start, pool i should not be taken yet
// because a higher-priority pool is still on its first connection attempt.
func (m *Manager) holdForPrimary(i int, now time.Time) bool {
	if m.settled {
		return false
	}
	if now.Sub(m.started) >= m.cfg.StartupWait {
		m.settled = true
		return false
	}
	for _, p := range m.pools[:i] {
		if !p.dead && !p.healthy() {
			return true
		}
	}
	return false
}

// failover replaces the active pool at once, or goes idle.
func (m *Manager) failover(reason string) {
	from := m.activeIx
	m.activeIx = -1
	if i := m.best(m.now()); i >= 0 {
		m.switchTo(from, i, reason)
		return
	}
	m.log.Warn("pool switch", "from", m.poolName(from), "to", "none", "reason", reason)
	m.cfg.OnSwitch(m.poolName(from), "none", reason)
	m.cfg.OnIdle()
}

// best returns the highest-priority healthy pool, preferring pools not on
// probation (or past their grace), or -1.
func (m *Manager) best(now time.Time) int {
	fallback := -1
	for i, p := range m.pools {
		if !p.healthy() {
			continue
		}
		if !p.probation || now.Sub(p.healthySince) >= m.cfg.FailbackGrace {
			return i
		}
		if fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

// switchTo makes pool i active and hands its latest job to OnJob.
func (m *Manager) switchTo(from, i int, reason string) {
	p := m.pools[i]
	m.log.Info("pool switch", "from", m.poolName(from), "to", p.url, "reason", reason)
	m.activeIx, p.probation, m.settled = i, false, true
	m.cfg.OnSwitch(m.poolName(from), p.url, reason)
	m.cfg.OnJob(p.job)
}

func (m *Manager) poolName(i int) string {
	if i < 0 {
		return "none"
	}
	return m.pools[i].url
}

// publish copies the state into the snapshot Status and Active read.
func (m *Manager) publish() {
	snap := make([]PoolStatus, len(m.pools))
	for i, p := range m.pools {
		snap[i] = PoolStatus{
			Priority: i, URL: p.url, User: p.user, State: m.state(i),
			Difficulty: p.difficulty, Accepted: p.accepted, Rejected: p.rejected,
			RejectedByReason: maps.Clone(p.byReason), Stale: p.stale,
			LastShare: p.lastShare, Latency: p.latency, VersionRolling: p.rolling && p.authorized,
			LastError: p.lastErr, session: p.session,
		}
	}
	idx, url := m.activeIx, ""
	if idx >= 0 {
		url = m.pools[idx].url
	}
	m.mu.Lock()
	m.snap, m.snapIdx, m.snapURL = snap, idx, url
	m.mu.Unlock()
}

func (m *Manager) state(i int) string {
	p := m.pools[i]
	switch {
	case i == m.activeIx:
		return PoolActive
	case p.healthy():
		return PoolStandby
	case p.connected || !p.dead:
		return PoolConnecting
	}
	return PoolDead
}
