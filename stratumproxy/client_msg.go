package stratumproxy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// handleLine parses one line from the pool and handles it if it is a
// request or notification; a response is returned for the caller to match.
// An error means the line or its content is unusable: drop the connection.
func (cc *clientConn) handleLine(ctx context.Context, line []byte) (*Message, error) {
	line = clientTrimEOL(line)
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, nil
	}
	cc.c.logProto("recv", line)
	m, err := ParseMessage(line)
	if err != nil {
		return nil, err
	}
	if !m.IsRequest() {
		return m, nil
	}
	return nil, cc.handleRequest(ctx, m)
}

// handleRequest acts on a pool request or notification.
func (cc *clientConn) handleRequest(ctx context.Context, m *Message) error {
	c := cc.c
	switch m.Method {
	case MethodNotify:
		return cc.onNotify(ctx, m)
	case MethodSetDifficulty:
		d, err := DecodeDifficulty(m)
		if err != nil {
			return err
		}
		cc.diff = d
		c.emit(ctx, Event{Kind: EventDifficulty, Difficulty: d})
	case MethodSetExtranonce:
		en1, size, err := DecodeSetExtranonce(m)
		if err != nil {
			return err
		}
		// Jobs already issued keep their extranonce; the next notify
		// carries the new one and voids older work.
		cc.en1, cc.en2Size, cc.forceClean = en1, size, true
		c.log.Info("extranonce changed", "extranonce1", fmt.Sprintf("%x", en1), "extranonce2_size", size)
	case MethodSetVersionMask:
		mask, err := DecodeVersionMask(m)
		if err != nil {
			return err
		}
		if !cc.rolling {
			c.log.Info("ignoring mining.set_version_mask: version rolling was not negotiated")
			return nil
		}
		cc.mask = mask & VersionRollingMask
		c.log.Info("version mask changed", "mask", Hex32(cc.mask))
	case MethodReconnect:
		r, err := DecodeReconnect(m)
		if err != nil {
			return err
		}
		return cc.reconnectTarget(r)
	case MethodGetVersion:
		return cc.reply(m, c.cfg.UserAgent, nil)
	case MethodPing:
		return cc.reply(m, "pong", nil)
	case MethodShowMessage:
		c.log.Info("message from pool", "text", truncate(clientFirstString(StringParams(m))))
	default:
		if m.IsNotification() {
			c.log.Debug("ignoring unknown notification", "method", truncate(m.Method))
			return nil
		}
		return cc.reply(m, nil, ErrorTriple(20, "unsupported method"))
	}
	return nil
}

func clientFirstString(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// reply answers a pool request; notifications (null id) get no reply.
func (cc *clientConn) reply(m *Message, result, errVal any) error {
	if isNull(m.ID) {
		return nil
	}
	return cc.send(Response(m.ID, result, errVal), nil)
}

// reconnectTarget turns client.reconnect into the error that ends the
// connection: a host is followed only within the configured domain.
func (cc *clientConn) reconnectTarget(r Reconnect) error {
	u := cc.c.url
	rc := &clientReconnect{wait: min(time.Duration(r.WaitS)*time.Second, MaxReconnectWait)}
	host, port := r.Host, r.Port
	if host == "" {
		host = u.Host
	}
	if port == "" {
		port = u.Port
	}
	switch {
	case !poolSameDomain(u.Host, host):
		cc.c.log.Warn("client.reconnect to another domain; reconnecting to the configured pool",
			"host", truncate(host))
	case host != u.Host || port != u.Port:
		rc.addr = net.JoinHostPort(host, port)
	}
	return rc
}

// onNotify turns mining.notify into a job in the session's context.
func (cc *clientConn) onNotify(ctx context.Context, m *Message) error {
	n, err := DecodeNotify(m)
	if err != nil {
		return err
	}
	if !cc.subscribed {
		cc.c.log.Debug("ignoring mining.notify before the subscribe reply", "job", truncate(n.JobID))
		return nil
	}
	algo := cc.c.cfg.Algo.Canonical()
	target, err := algo.TargetFromDifficulty(cc.diff)
	if err != nil {
		return fmt.Errorf("stratum: difficulty %v: %w", cc.diff, err)
	}
	job := &mining.Job{
		ID:              n.JobID,
		PrevHash:        n.PrevHash,
		Coinb1:          n.Coinb1,
		Coinb2:          n.Coinb2,
		Branches:        n.Branches,
		Version:         n.Version,
		NBits:           n.NBits,
		NTime:           n.NTime,
		Clean:           n.Clean || cc.forceClean,
		Extranonce1:     cc.en1,
		Extranonce2Size: cc.en2Size,
		VersionMask:     cc.jobMask(),
		Algo:            algo,
		Difficulty:      cc.diff,
		ShareTarget:     target,
		Pool:            cc.c.cfg.Index,
		Session:         cc.session,
		Received:        cc.c.cfg.Now(),
	}
	cc.forceClean = false
	cc.lastJob = job
	if cc.authorized {
		cc.c.emit(ctx, Event{Kind: EventJob, Job: job})
	}
	return nil
}

// submit sends a share of this connection, or reports it stale.
func (cc *clientConn) submit(ctx context.Context, s *mining.Share) error {
	c := cc.c
	if s == nil || s.Job == nil {
		return nil
	}
	if !cc.authorized || s.Job.Pool != c.cfg.Index || s.Job.Session != cc.session {
		c.stale(ctx, s)
		return nil
	}
	cc.nextID++
	id := cc.nextID
	cc.pending[id] = &clientPending{share: s, sent: time.Now()}
	return cc.send(EncodeSubmit(id, Submit{
		Worker:      c.user,
		JobID:       s.Job.ID,
		Extranonce2: s.Extranonce2,
		NTime:       s.NTime,
		Nonce:       s.Nonce,
		VersionBits: s.VersionBits,
		HasVersion:  cc.rolling,
	}), nil)
}

// handleResponse settles a submit, or notes the reply to an optional
// request; replies to anything else are ignored.
func (cc *clientConn) handleResponse(ctx context.Context, m *Message) {
	c := cc.c
	id, ok := clientID(m.ID)
	if method, opt := cc.optional[id]; ok && opt {
		delete(cc.optional, id)
		if r := DecodeReply(m); !r.OK {
			c.log.Info("pool declined optional request", "method", method, "reason", truncate(r.Reason))
		}
		return
	}
	p := cc.pending[id]
	if !ok || p == nil {
		c.log.Debug("ignoring reply to an unknown request", "id", truncate(string(m.ID)))
		return
	}
	delete(cc.pending, id)
	res := &ShareResult{Pool: c.cfg.Index, URL: c.display, Share: p.share, Latency: time.Since(p.sent)}
	r := DecodeReply(m)
	switch {
	case r.OK && string(bytes.TrimSpace(m.Result)) == "true":
		res.Accepted = true
	case r.OK:
		res.Err = ClassifyReject(0, "unexpected result "+truncate(string(m.Result)))
	default:
		res.Err = ClassifyReject(r.Code, r.Reason)
	}
	c.emit(ctx, Event{Kind: EventShare, Share: res})
}

// expireSubmits rejects with kind, oldest first, the submits sent at or
// before cutoff (all of them when cutoff is zero).
func (cc *clientConn) expireSubmits(ctx context.Context, cutoff time.Time, kind error) {
	var ids []uint64
	for id, p := range cc.pending {
		if cutoff.IsZero() || !p.sent.After(cutoff) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := cc.pending[id]
		delete(cc.pending, id)
		cc.c.emit(ctx, Event{Kind: EventShare, Share: &ShareResult{
			Pool: cc.c.cfg.Index, URL: cc.c.display, Share: p.share,
			Err: Reject(kind, ""), Latency: time.Since(p.sent),
		}})
	}
}
