package stratumproxy

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// srvHooks is what the farm proxy adds to a server connection. The
// methods marked "c.mu held" run under the connection's lock.
type srvHooks interface {
	// newConn returns the per-connection state for a new connection.
	newConn() *proxyConn
	// startDifficulty is a connection's first difficulty (c.mu held).
	startDifficulty(c *srvConn) float64
	// retarget runs vardiff, counting a share when share is set, and
	// returns a new difficulty when one is due (c.mu held).
	retarget(c *srvConn, share bool) (float64, bool)
	// admitSubmit applies the submit limits before any validation; it may
	// set c.quit.
	admitSubmit(c *srvConn) error
	// rejected and accepted see every validated submit's outcome.
	rejected(c *srvConn, m *Message, err error)
	accepted(c *srvConn, sh *ServerShare, j *srvJob)
}

// proxyConn is the proxy's state of one downstream connection.
type proxyConn struct {
	bucket  tokenBucket // reader goroutine only
	refused refusals    // reader goroutine only
	vd      vardiff     // under the connection's mu
}

func (p *Proxy) newConn() *proxyConn {
	return &proxyConn{bucket: newTokenBucket(p.cfg.SubmitRate, p.cfg.SubmitBurst)}
}

// authorize checks a worker against the configured names, or accepts any
// name in passthrough mode.
func (p *Proxy) authorize(user, pass string) bool {
	if len(p.cfg.Workers) == 0 {
		return p.cfg.Passthrough && user != ""
	}
	want, ok := p.cfg.Workers[user]
	return ok && subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1
}

func (p *Proxy) startDifficulty(c *srvConn) float64 {
	d := p.cfg.StartDifficulty
	if d == 0 {
		if up := p.currentUpstream(); up != nil && up.Difficulty > 0 {
			d = up.Difficulty
		}
	}
	c.ext.vd = vardiff{since: p.now()}
	return max(d, p.cfg.MinDifficulty)
}

func (p *Proxy) retarget(c *srvConn, share bool) (float64, bool) {
	return c.ext.vd.observe(&p.rule, c.diff, p.now(), share)
}

// errRateLimited answers a submit over its connection's or the proxy's
// bucket.
var errRateLimited = Reject(ErrOther, "too many submits")

func (p *Proxy) admitSubmit(c *srvConn) error {
	now := p.now()
	if !c.ext.bucket.allow(now) {
		p.stats.refuse(now, "rate_limited")
		if n := c.ext.refused.add(now); n >= p.cfg.MaxRefusals {
			c.quit = "submit flood"
			c.log.Warn("stratum proxy: submit flood, disconnecting", "refused", n,
				"worker", c.firstWorker())
		}
		return errRateLimited
	}
	if !p.global.allow(now) {
		p.stats.refuse(now, "rate_limited")
		return errRateLimited
	}
	return nil
}

func (p *Proxy) rejected(c *srvConn, m *Message, err error) {
	now := p.now()
	worker := proxySubmitWorker(m)
	c.mu.Lock()
	diff := c.diff
	if !c.workers[worker] {
		worker = "" // not a name this connection authorized: not counted per worker
	}
	c.mu.Unlock()
	reason := ReasonOf(err)
	stale := errors.Is(err, ErrStale)
	p.stats.share(now, worker, false, reason, diff, false)
	if p.cfg.OnShare != nil {
		p.cfg.OnShare(WorkerShare{Worker: worker, Difficulty: diff, Accepted: false,
			Reason: reason, Stale: stale, Time: now})
	}
}

// proxySubmitWorker is a submit's first parameter, or "".
func proxySubmitWorker(m *Message) string {
	ps, err := m.params()
	if err != nil || len(ps) == 0 {
		return ""
	}
	var w string
	if json.Unmarshal(ps[0], &w) != nil {
		return ""
	}
	return w
}

// accepted forwards a share that meets its upstream job's target, counts
// it and runs vardiff.
func (p *Proxy) accepted(c *srvConn, sh *ServerShare, j *srvJob) {
	now := p.now()
	forwarded := false
	if up, pad := p.upstream(j.sourceJobID); up != nil && proxyMeets(up, &sh.Hash) {
		forwarded = true
		if p.cfg.Forward != nil {
			p.cfg.Forward(proxyShare(up, sh, pad, now))
		}
	}
	p.stats.share(now, sh.Worker, true, "", sh.Target, forwarded)
	if p.cfg.OnShare != nil {
		p.cfg.OnShare(WorkerShare{Worker: sh.Worker, Difficulty: sh.Target,
			ShareDifficulty: sh.Difficulty, Accepted: true, Forwarded: forwarded, Time: now})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := p.retarget(c, true); ok {
		c.log.Debug("stratum proxy: vardiff", "from", c.diff, "to", d)
		c.setDifficultyLocked(d)
	}
}

func proxyMeets(up *mining.Job, hash *[32]byte) bool {
	t := up.ShareTarget
	if t == (mining.Target{}) {
		var err error
		if t, err = mining.TargetFromDifficulty(up.Difficulty); err != nil {
			return false
		}
	}
	return t.Meets(hash)
}

// proxyShare rewrites a downstream share for its upstream job: the
// upstream extranonce2 is the connection's prefix (its extranonce1) ‖ the
// miner's extranonce2 ‖ pad zeros, so the header is the same.
func proxyShare(up *mining.Job, sh *ServerShare, pad int, now time.Time) *mining.Share {
	en2 := proxyUpEn2(sh.Extranonce1, sh.Extranonce2, len(sh.Extranonce1)+len(sh.Extranonce2)+pad)
	s := &mining.Share{
		Job: up, Extranonce2: en2, NTime: sh.NTime, Nonce: sh.Nonce,
		Version: sh.Version, VersionBits: sh.Version & up.VersionMask,
		Hash: sh.Hash, Difficulty: sh.Difficulty, Found: now,
	}
	return s
}

// setVersionMask changes the most the server grants; connections rolling
// under a wider mask get mining.set_version_mask with the narrowed one.
func (s *Server) setVersionMask(mask uint32) {
	s.mask.Store(mask)
	for _, c := range s.snapshot() {
		c.mu.Lock()
		if c.mask != 0 {
			if m := c.reqMask & mask; m != c.mask {
				c.mask = m
				c.send(Notification(MethodSetVersionMask, Hex32(m)))
			}
		}
		c.mu.Unlock()
	}
}
