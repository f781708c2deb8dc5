package stratumproxy

import (
	"encoding/json"
	"errors"
	"math"

	"github.com/kilnfw/kiln/mining"
)

// srvMaxNameLen bounds the user agent and worker names kept per connection.
const srvMaxNameLen = 128

// Configure extension names (BIP 310).
const (
	srvExtVersionRolling      = "version-rolling"
	srvExtMinDifficulty       = "minimum-difficulty"
	srvExtSubscribeExtranonce = "subscribe-extranonce"
)

// dispatch handles one request from the miner.
func (c *srvConn) dispatch(m *Message) {
	switch m.Method {
	case MethodConfigure:
		c.configure(m)
	case MethodSubscribe:
		c.subscribe(m)
	case MethodAuthorize:
		c.authorize(m)
	case MethodSubmit:
		c.submit(m)
	case MethodSuggestDifficulty:
		c.suggestDifficulty(m)
	case MethodExtranonceSub:
		c.reply(m, true, nil)
	case MethodPing:
		c.reply(m, "pong", nil)
	default:
		c.reply(m, nil, ErrorTriple(20, "unknown method"))
	}
}

// configure answers mining.configure: every requested extension appears in
// the result, unknown ones as false.
func (c *srvConn) configure(m *Message) {
	exts, opts, err := decodeConfigure(m)
	if err != nil {
		c.reply(m, nil, ErrorValue(Reject(ErrOther, err.Error())))
		return
	}
	res := make(map[string]any, len(exts)+1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range exts {
		switch e {
		case srvExtVersionRolling:
			mask, ok := c.grantMask(opts)
			c.mask = mask
			res[e] = ok
			if ok {
				res[e+".mask"] = Hex32(mask)
			}
		case srvExtMinDifficulty:
			res[e] = true
			if v, ok := srvNumberOption(opts, e+".value"); ok && v >= 0 {
				c.setMinDifficultyLocked(v)
			}
		case srvExtSubscribeExtranonce:
			// The server never changes a connection's extranonce, so the
			// promise costs nothing.
			res[e] = true
		default:
			res[e] = false
		}
	}
	c.reply(m, res, nil)
}

// decodeConfigure reads [[extension...], {option: value}].
func decodeConfigure(m *Message) ([]string, map[string]json.RawMessage, error) {
	ps, err := m.params()
	if err != nil {
		return nil, nil, err
	}
	var exts []string
	if len(ps) < 1 || json.Unmarshal(ps[0], &exts) != nil {
		return nil, nil, errors.New("configure: extensions are not a list of strings")
	}
	var opts map[string]json.RawMessage
	if len(ps) > 1 && !isNull(ps[1]) && json.Unmarshal(ps[1], &opts) != nil {
		return nil, nil, errors.New("configure: options are not an object")
	}
	return exts, opts, nil
}

// grantMask returns requested & VersionMask (a miner that names no mask
// asks for all bits, as BIP 310 says).
func (c *srvConn) grantMask(opts map[string]json.RawMessage) (uint32, bool) {
	req := uint32(0xffffffff)
	if raw, ok := opts[srvExtVersionRolling+".mask"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		v, err := decodeU32("version-rolling.mask", s)
		if err != nil {
			return 0, false
		}
		req = v
	}
	c.reqMask = req
	mask := req & c.s.mask.Load()
	return mask, mask != 0
}

func srvNumberOption(opts map[string]json.RawMessage, key string) (float64, bool) {
	var v float64
	raw, ok := opts[key]
	if !ok || json.Unmarshal(raw, &v) != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// difficultyAllowed reports whether the server honours a miner's wish for
// difficulty d.
func (c *srvConn) difficultyAllowed(d float64) bool {
	floor := c.s.cfg.MinDifficulty
	if floor <= 0 || !(d >= floor) {
		return false
	}
	_, err := mining.TargetFromDifficulty(d)
	return err == nil
}

// setMinDifficultyLocked applies the minimum-difficulty extension: 0
// clears the floor; an allowed value raises the difficulty to at least it.
func (c *srvConn) setMinDifficultyLocked(v float64) {
	if v == 0 {
		c.minDiff = 0
		return
	}
	if !c.difficultyAllowed(v) {
		return
	}
	c.minDiff = v
	c.setDifficultyLocked(max(c.diff, v))
}

// subscribe answers mining.subscribe, resuming the session named by the
// second parameter when it is one of a recently closed connection. A
// second subscribe on a connection gets the same answer again.
func (c *srvConn) subscribe(m *Message) {
	ps := StringParams(m)
	var agent, resume string
	if len(ps) > 0 {
		agent = srvClip(ps[0])
	}
	if len(ps) > 1 {
		resume = ps[1]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.subscribed {
		en1, err := c.s.allocExtranonce1(resume)
		if err != nil {
			c.log.Warn("subscribe refused", "err", err)
			c.reply(m, nil, ErrorTriple(20, err.Error()))
			return
		}
		c.en1, c.sid, c.agent, c.subscribed = en1, hexString(en1), agent, true
		c.log.Debug("miner subscribed", "agent", agent, "session", c.sid, "resumed", c.sid == resume)
	}
	subs := [][]string{{MethodSetDifficulty, c.sid}, {MethodNotify, c.sid}}
	c.reply(m, []any{subs, c.sid, c.s.cfg.Extranonce2Size}, nil)
	c.activateLocked()
}

func srvClip(s string) string {
	if len(s) > srvMaxNameLen {
		return s[:srvMaxNameLen]
	}
	return s
}

// authorize answers mining.authorize; several workers may authorize on one
// connection.
func (c *srvConn) authorize(m *Message) {
	ps := StringParams(m)
	if len(ps) == 0 {
		c.reply(m, nil, ErrorTriple(20, "authorize: want [user, password]"))
		return
	}
	user, pass := ps[0], ""
	if len(ps) > 1 {
		pass = ps[1]
	}
	ok := user != "" && len(user) <= srvMaxNameLen
	if ok && c.s.cfg.Authorize != nil {
		ok = c.s.cfg.Authorize(user, pass)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok && !c.workers[user] && len(c.workers) >= srvMaxWorkers {
		ok = false
	}
	c.reply(m, ok, nil)
	if !ok {
		c.log.Info("authorize refused", "worker", srvClip(user))
		return
	}
	c.workers[user] = true
	c.authed.Store(true)
	c.activateLocked()
}

// suggestDifficulty handles mining.suggest_difficulty. A suggestion at or
// above MinDifficulty takes effect at once (see setDifficultyLocked); the
// reply, when the request has an id, says whether it was honoured.
func (c *srvConn) suggestDifficulty(m *Message) {
	d, err := DecodeDifficulty(m)
	if err != nil {
		c.reply(m, nil, ErrorValue(Reject(ErrOther, err.Error())))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.difficultyAllowed(d)
	c.reply(m, ok, nil)
	if ok {
		c.setDifficultyLocked(d)
	}
}

// submit handles mining.submit: validates, counts and answers.
func (c *srvConn) submit(m *Message) {
	h := c.s.hooks
	if h != nil {
		if err := h.admitSubmit(c); err != nil {
			c.s.countRejected(err)
			c.reply(m, false, ErrorValue(err))
			return
		}
	}
	sh, j, err := c.checkSubmit(m)
	if err != nil {
		c.s.countRejected(err)
		c.log.Debug("share rejected", "reason", ReasonOf(err), "err", err)
		c.reply(m, false, ErrorValue(err))
		if h != nil {
			h.rejected(c, m, err)
		}
		return
	}
	c.s.countAccepted(&sh)
	if sh.Block {
		c.log.Debug("block found", "worker", sh.Worker, "job", sh.JobID, "difficulty", sh.Difficulty)
	}
	// Record (and forward) the share before answering, so whatever the
	// miner sees accepted is already in the books.
	if h != nil {
		h.accepted(c, &sh, j)
	} else if sink, ok := c.s.src.(ShareSink); ok {
		sink.Share(sh)
	}
	c.reply(m, true, nil)
}

// checkSubmit runs the pool's checks in order: subscribed (25), worker
// authorized here (24), job known (21) and current (21), the field and
// hash checks of ValidateShare (20, 23), and duplicates (22).
func (c *srvConn) checkSubmit(m *Message) (ServerShare, *srvJob, error) {
	c.mu.Lock()
	if !c.subscribed {
		c.mu.Unlock()
		return ServerShare{}, nil, Reject(ErrNotSubscribed, "not subscribed")
	}
	sub, err := DecodeSubmit(m)
	if err != nil {
		c.mu.Unlock()
		return ServerShare{}, nil, Reject(ErrOther, err.Error())
	}
	if !c.workers[sub.Worker] {
		c.mu.Unlock()
		return ServerShare{}, nil, Reject(ErrUnauthorized, "unauthorized worker")
	}
	j, err := c.s.book.lookup(sub.JobID)
	if err != nil {
		c.mu.Unlock()
		return ServerShare{}, nil, err
	}
	view := j.job
	view.Extranonce1 = c.en1
	view.Extranonce2Size = c.s.cfg.Extranonce2Size
	view.VersionMask = c.mask
	view.Difficulty = c.diff
	if view.Algo == "" {
		// Jobs relayed from a pool carry the pool's algorithm; the
		// server's own jobs take the configured one.
		view.Algo = c.s.cfg.Algo
	}
	if d, ok := c.jobDiff[view.ID]; ok {
		view.Difficulty = min(d, c.diff)
	}
	c.mu.Unlock()

	t, err := view.Algo.TargetFromDifficulty(view.Difficulty)
	if err != nil {
		return ServerShare{}, nil, Reject(ErrOther, "no share difficulty")
	}
	view.ShareTarget = t
	sh, err := ValidateShare(&view, sub, c.s.now())
	if err != nil {
		return ServerShare{}, nil, err
	}
	if j.markSeen(sh.Hash) {
		return ServerShare{}, nil, Reject(ErrDuplicate, "duplicate share")
	}
	sh.SourceJobID = j.sourceJobID
	return sh, j, nil
}
