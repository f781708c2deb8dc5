package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/stratumproxy"
)

// Request kinds a connection waits replies for.
const (
	kindConfigure = "configure"
	kindSubscribe = "subscribe"
	kindAuthorize = "authorize"
	kindValid     = "valid"
	kindLowDiff   = "low_difficulty"
	kindDuplicate = "duplicate"
	kindBadNTime  = "bad_ntime"
)

// userAgent is sent in mining.subscribe.
const userAgent = "stratum-load/1"

// maxArrivals bounds the job arrivals one connection records.
const maxArrivals = 1 << 16

// writeTimeout bounds one line written to the server.
const writeTimeout = 5 * time.Second

type pendingReq struct {
	kind string
	at   time.Time
}

// arrival is when a job id first reached a connection.
type arrival struct {
	job string
	at  time.Time
}

// conn is one miner connection. Its goroutine reads it during the
// handshake, then (where supported) a poller thread; the reader owns the
// protocol state and the submitter reads it under mu.
type conn struct {
	r  *runner
	nc net.Conn

	wmu sync.Mutex // serialises writes; guards fd
	// fd is the descriptor a poller reads once it adopted the connection
	// (nc is closed then); -1 before and after.
	fd int
	// carry is a partial line between two reads (the reader only).
	carry []byte

	mu         sync.Mutex
	nextID     uint64
	pending    map[uint64]pendingReq
	mask       uint32
	sub        stratumproxy.Subscription
	subscribed bool
	authorized bool
	diff       float64
	job        *mining.Job
	en2        uint64
	lastValid  *stratumproxy.Submit // the last accepted-candidate share, for duplicates
	invalidSeq int

	started   time.Time
	handshake time.Duration // 0 until established
	joined    time.Time     // first notify: the job handed out at authorize
	arrivals  []arrival
	seenJobs  map[string]struct{}
	done      chan struct{} // closed when established or failed
	doneOnce  sync.Once
}

func newConn(r *runner, nc net.Conn, started time.Time) *conn {
	return &conn{
		r: r, nc: nc, fd: -1, nextID: 1, pending: make(map[uint64]pendingReq), diff: 1,
		started: started, seenJobs: make(map[string]struct{}), done: make(chan struct{}),
	}
}

// write sends one line; errors close the connection (the reader reports).
func (c *conn) write(line []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd >= 0 {
		c.writeFD(line)
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(line); err != nil {
		_ = c.nc.Close()
	}
}

// request registers a pending id and sends the request line built for it.
func (c *conn) request(kind string, build func(id uint64) []byte) {
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.pending[id] = pendingReq{kind: kind, at: time.Now()}
	c.mu.Unlock()
	c.write(build(id))
}

// startHandshake pipelines configure, subscribe and authorize.
func (c *conn) startHandshake(user, password string) {
	c.request(kindConfigure, func(id uint64) []byte {
		return stratumproxy.Request(id, stratumproxy.MethodConfigure, []string{"version-rolling"},
			map[string]any{"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2})
	})
	c.request(kindSubscribe, func(id uint64) []byte {
		return stratumproxy.Request(id, stratumproxy.MethodSubscribe, userAgent)
	})
	c.request(kindAuthorize, func(id uint64) []byte {
		return stratumproxy.Request(id, stratumproxy.MethodAuthorize, user, password)
	})
}

// errAdopted ends readLoop when a poller took the connection over.
var errAdopted = errors.New("stratum-load: adopted by the poller")

// readLoop reads lines until the connection closes. The first deadline
// bounds the handshake; it is lifted once established. Then, if handoff
// is not nil, it is offered what was read past the handshake: when it
// takes the connection over, readLoop returns errAdopted, or the error
// that closed the connection during the handover.
func (c *conn) readLoop(handshakeDeadline time.Time, handoff func(buffered []byte) (bool, error)) error {
	_ = c.nc.SetReadDeadline(handshakeDeadline)
	br := bufio.NewReaderSize(c.nc, 4096)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) > stratumproxy.MaxLineClient {
				return errLineTooLong
			}
			long = append(long, chunk...)
			continue
		}
		if err != nil {
			return err
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		wasEstablished := c.established()
		c.handleLine(line, time.Now())
		if wasEstablished || !c.established() {
			continue
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		if handoff == nil {
			continue
		}
		buffered, _ := br.Peek(br.Buffered())
		switch adopted, err := handoff(buffered); {
		case err != nil:
			return err
		case adopted:
			return errAdopted
		}
	}
}

func (c *conn) established() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handshake > 0
}

// finish marks the handshake resolved (either way) once.
func (c *conn) finish() { c.doneOnce.Do(func() { close(c.done) }) }

// handleLine interprets one line from the server; it never panics on bad
// input, counting it as malformed instead.
func (c *conn) handleLine(line []byte, now time.Time) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if c.r.cfg.SubmitRate == 0 {
		// Not mining: a notify only needs its job id, and decoding ten
		// thousand notifies in full would cost the fan-out figure more than
		// the server under test does.
		if id, ok := notifyJobID(line); ok {
			c.r.tally.notifies.Add(1)
			c.mu.Lock()
			c.arrive(id, now)
			c.mu.Unlock()
			return
		}
	}
	m, err := stratumproxy.ParseMessage(line)
	if err != nil {
		c.r.tally.malformed.Add(1)
		return
	}
	if m.IsRequest() {
		c.handleRequest(m, now)
		return
	}
	var id uint64
	if json.Unmarshal(m.ID, &id) != nil {
		c.r.tally.malformed.Add(1)
		return
	}
	c.mu.Lock()
	p, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		c.r.tally.malformed.Add(1)
		return
	}
	c.handleReply(p, stratumproxy.DecodeReply(m), now)
}

func (c *conn) handleRequest(m *stratumproxy.Message, now time.Time) {
	switch m.Method {
	case stratumproxy.MethodNotify:
		n, err := stratumproxy.DecodeNotify(m)
		if err != nil {
			c.r.tally.malformed.Add(1)
			return
		}
		c.onNotify(n, now)
	case stratumproxy.MethodSetDifficulty:
		if d, err := stratumproxy.DecodeDifficulty(m); err == nil {
			c.mu.Lock()
			c.diff = d
			c.mu.Unlock()
		}
	case stratumproxy.MethodSetVersionMask:
		if v, err := stratumproxy.DecodeVersionMask(m); err == nil {
			c.mu.Lock()
			c.mask = v
			c.mu.Unlock()
		}
	case stratumproxy.MethodSetExtranonce:
		if en1, size, err := stratumproxy.DecodeSetExtranonce(m); err == nil {
			c.mu.Lock()
			c.sub.Extranonce1, c.sub.Extranonce2Size = en1, size
			c.mu.Unlock()
		}
	case stratumproxy.MethodPing:
		if !m.IsNotification() {
			c.write(stratumproxy.Response(m.ID, "pong", nil))
		}
	case stratumproxy.MethodGetVersion:
		if !m.IsNotification() {
			c.write(stratumproxy.Response(m.ID, userAgent, nil))
		}
	}
}

// onNotify makes the job current and records its arrival. The first job
// of a connection is the one handed out at authorize, not a broadcast, so
// it only marks when the connection joined.
func (c *conn) onNotify(n stratumproxy.Notify, now time.Time) {
	c.r.tally.notifies.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	j := &mining.Job{
		ID: n.JobID, PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2,
		Branches: n.Branches, Version: n.Version, NBits: n.NBits, NTime: n.NTime, Clean: n.Clean,
		Extranonce1: c.sub.Extranonce1, Extranonce2Size: c.sub.Extranonce2Size,
		VersionMask: c.mask, Difficulty: c.diff, Received: now,
	}
	if t, err := mining.TargetFromDifficulty(c.diff); err == nil {
		j.ShareTarget = t
	}
	c.job = j
	if n.Clean {
		c.lastValid = nil
	}
	c.arrive(n.JobID, now)
}

// arrive records when job id first reached the connection (c.mu held).
func (c *conn) arrive(id string, now time.Time) {
	if c.joined.IsZero() {
		c.joined = now
		c.seenJobs[id] = struct{}{}
		return
	}
	if _, seen := c.seenJobs[id]; seen || len(c.arrivals) >= maxArrivals {
		return
	}
	c.seenJobs[id] = struct{}{}
	c.arrivals = append(c.arrivals, arrival{job: id, at: now})
}

// notifyJobID extracts the job id of a mining.notify line without decoding
// the rest; ok is false for any other line or an unexpected shape.
func notifyJobID(line []byte) (string, bool) {
	if !bytes.Contains(line, []byte(`"method":"mining.notify"`)) {
		return "", false
	}
	_, rest, found := bytes.Cut(line, []byte(`"params":["`))
	if !found {
		return "", false
	}
	id, _, found := bytes.Cut(rest, []byte(`"`))
	if !found || len(id) == 0 || bytes.IndexByte(id, '\\') >= 0 {
		return "", false
	}
	return string(id), true
}

func (c *conn) handleReply(p pendingReq, rep stratumproxy.Reply, now time.Time) {
	switch p.kind {
	case kindConfigure:
		if mask, ok := stratumproxy.DecodeConfigure(rep.Result); ok && rep.OK {
			c.mu.Lock()
			c.mask = mask
			c.mu.Unlock()
		}
	case kindSubscribe:
		sub, err := stratumproxy.DecodeSubscribe(rep.Result)
		if !rep.OK || err != nil {
			c.fail()
			return
		}
		c.mu.Lock()
		c.sub, c.subscribed = sub, true
		c.mu.Unlock()
		c.maybeEstablished(now)
	case kindAuthorize:
		if !rep.OK || string(bytes.TrimSpace(rep.Result)) != "true" {
			c.fail()
			return
		}
		c.mu.Lock()
		c.authorized = true
		c.mu.Unlock()
		c.maybeEstablished(now)
	default:
		c.r.tally.shareReply(p.kind, rep, now.Sub(p.at))
	}
}

// fail ends a connection whose handshake was refused.
func (c *conn) fail() {
	c.shutdown()
	c.finish()
}

// feed handles the complete lines in data, read at now, keeping a partial
// last line for the next call. A line longer than the client limit is an
// error: the connection must close.
func (c *conn) feed(data []byte, now time.Time) error {
	if len(c.carry) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(c.carry)+len(data) > stratumproxy.MaxLineClient {
				return errLineTooLong
			}
			c.carry = append(c.carry, data...)
			return nil
		}
		c.carry = append(c.carry, data[:i+1]...)
		data = data[i+1:]
		line := c.carry
		c.carry = nil
		if len(line) > stratumproxy.MaxLineClient {
			return errLineTooLong
		}
		c.handleLine(line, now)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if i+1 > stratumproxy.MaxLineClient {
			return errLineTooLong
		}
		c.handleLine(data[:i+1], now)
		data = data[i+1:]
	}
	if len(data) > stratumproxy.MaxLineClient {
		return errLineTooLong
	}
	if len(data) > 0 {
		c.carry = append([]byte(nil), data...)
	}
	return nil
}

// errLineTooLong closes a connection whose server sent an over-long line.
var errLineTooLong = errors.New("stratum-load: line too long")

func (c *conn) maybeEstablished(now time.Time) {
	c.mu.Lock()
	ok := c.subscribed && c.authorized && c.handshake == 0
	if ok {
		c.handshake = max(now.Sub(c.started), time.Nanosecond)
	}
	c.mu.Unlock()
	if ok {
		c.finish()
	}
}

// submitLoop sends shares at rate per second until ctx ends.
func (c *conn) submitLoop(ctx context.Context, rate, invalid float64, maxHashes uint64, user string) {
	interval := time.Duration(float64(time.Second) / rate)
	// A random phase keeps thousands of connections from submitting in step.
	timer := time.NewTimer(time.Duration(c.r.randFloat() * float64(interval)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		c.submitOne(ctx, invalid, maxHashes, user)
		timer.Reset(interval)
	}
}
