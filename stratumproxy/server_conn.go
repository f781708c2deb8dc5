package stratumproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// srvQueueLen is each connection's send queue, in lines. A miner that lets
// it fill (it stopped reading) is dropped rather than allowed to stall the
// job broadcast.
const srvQueueLen = 64

// srvWriteTimeout bounds one write to a miner.
const srvWriteTimeout = 10 * time.Second

// srvReadBuf and srvWriteBuf are each connection's buffer sizes: enough
// for the usual request and reply; a longer request line is gathered in a
// separate buffer up to MaxLineServer, a longer notify written directly.
const (
	srvReadBuf  = 512
	srvWriteBuf = 512
)

// srvMaxWorkers bounds the names one connection may authorize.
const srvMaxWorkers = 16

// srvConn is one miner's connection. The reader goroutine handles requests;
// the job broadcaster and the reader both send lines under mu, so the
// miner sees them in the order they were decided. A line is written at
// once by its sender when nothing is queued before it and the socket takes
// it whole; otherwise it is queued for a writer goroutine, which may block.
// With thousands of miners, a job then costs one write each instead of a
// goroutine wake-up and a write.
type srvConn struct {
	// writeDeadline is when the armed write deadline expires, and
	// unflushed counts the queued lines in the writer's buffer (writer
	// goroutine only).
	writeDeadline time.Time
	unflushed     int32
	s             *Server
	nc            net.Conn // nil in tests that drive handleLine directly
	id            uint64
	log           *slog.Logger
	opened        time.Time
	out           chan []byte
	// raw writes lines straight to the socket (nil when nc is not one).
	raw syscall.RawConn
	// wmu is held by senders (see sendNow); queued counts the lines
	// queued and not yet handed to the kernel.
	wmu      sync.Mutex
	queued   atomic.Int32
	stop     chan struct{} // closed when the reader is done
	dead     atomic.Bool   // no more lines are queued
	authed   atomic.Bool   // some worker authorized (ends the handshake timer)
	killOnce sync.Once
	ip       netip.Addr
	// quit, set by the reader's handlers, closes the connection after the
	// line being handled, with this reason.
	quit string
	// ext is the proxy's per-connection state (nil for a pool server).
	ext *proxyConn

	mu         sync.Mutex
	subscribed bool
	active     bool // subscribed, authorized, first job sent
	en1        []byte
	sid        string // session id: hex of en1
	agent      string
	workers    map[string]bool
	mask       uint32             // granted version-rolling mask; 0 = none
	reqMask    uint32             // the mask the miner asked for
	diff       float64            // share difficulty for jobs sent from now on
	minDiff    float64            // the miner's minimum-difficulty, 0 = none
	sentDiff   float64            // last mining.set_difficulty sent
	jobDiff    map[string]float64 // difficulty each job was sent at
	lastJob    string
}

func newSrvConn(s *Server, nc net.Conn, id uint64, queue int) *srvConn {
	remote := ""
	if nc != nil {
		remote = nc.RemoteAddr().String()
	}
	c := &srvConn{
		s:       s,
		nc:      nc,
		id:      id,
		log:     s.log.With("conn", id, "remote", remote),
		opened:  time.Now(),
		out:     make(chan []byte, queue),
		stop:    make(chan struct{}),
		workers: make(map[string]bool),
		diff:    s.cfg.Difficulty,
		jobDiff: make(map[string]float64, 4),
	}
	if s.hooks != nil {
		c.ext = s.hooks.newConn()
	}
	if nc != nil {
		c.raw = srvRawConn(nc)
	}
	return c
}

// run serves the connection until it closes, then releases it.
func (c *srvConn) run() {
	c.log.Debug("miner connected")
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	reason := c.readLoop()
	close(c.stop)
	<-writerDone
	c.kill()
	c.s.unregister(c)
	c.log.Info("miner disconnected", "reason", reason, "worker", c.firstWorker())
}

// readLoop reads and handles lines until the connection must close, and
// says why.
func (c *srvConn) readLoop() string {
	r := bufio.NewReaderSize(c.nc, srvReadBuf)
	var long []byte
	for {
		_ = c.nc.SetReadDeadline(c.readDeadline())
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			line, err = srvReadLong(r, long)
			long = line[:0]
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return "line too long"
		case errors.Is(err, os.ErrDeadlineExceeded):
			if !c.authed.Load() {
				return "handshake timeout"
			}
			return "idle timeout"
		case errors.Is(err, io.EOF):
			return "closed by miner"
		case err != nil:
			return err.Error()
		}
		if !c.handleLine(line) {
			return "protocol error"
		}
		if c.quit != "" {
			return c.quit
		}
	}
}

// srvReadLong completes a line longer than the read buffer into acc, up to
// MaxLineServer bytes (bufio.ErrBufferFull beyond).
func srvReadLong(r *bufio.Reader, acc []byte) ([]byte, error) {
	for len(acc) <= MaxLineServer {
		part, err := r.ReadSlice('\n')
		acc = append(acc, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil && len(acc) > MaxLineServer {
			break
		}
		return acc, err
	}
	return acc, bufio.ErrBufferFull
}

// readDeadline is the idle deadline, or the handshake deadline while no
// worker is authorized, whichever comes first.
func (c *srvConn) readDeadline() time.Time {
	d := time.Now().Add(c.s.cfg.IdleTimeout)
	if !c.authed.Load() {
		if hs := c.opened.Add(c.s.cfg.HandshakeTimeout); hs.Before(d) {
			return hs
		}
	}
	return d
}

// writeLoop drains the send queue; once the reader is done it writes what
// is still queued (a final error reply) and returns.
func (c *srvConn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, srvWriteBuf)
	for {
		select {
		case line := <-c.out:
			if !c.write(w, line) {
				c.kill()
				return
			}
		case <-c.stop:
			for {
				select {
				case line := <-c.out:
					if !c.write(w, line) {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// write writes one queued line, flushing when the queue is empty; the
// lines flushed stop counting as queued. The write deadline is re-armed
// only once half of it is used up: a stalled miner is still cut off within
// srvWriteTimeout, and a job fanned out to thousands of miners does not
// re-arm thousands of runtime timers.
func (c *srvConn) write(w *bufio.Writer, line []byte) bool {
	if now := time.Now(); c.writeDeadline.Sub(now) < srvWriteTimeout/2 {
		c.writeDeadline = now.Add(srvWriteTimeout)
		_ = c.nc.SetWriteDeadline(c.writeDeadline)
	}
	c.unflushed++
	if _, err := w.Write(line); err != nil {
		c.log.Debug("write failed", "err", err)
		return false
	}
	if len(c.out) > 0 {
		return true
	}
	if err := w.Flush(); err != nil {
		c.log.Debug("write failed", "err", err)
		return false
	}
	c.queued.Add(-c.unflushed)
	c.unflushed = 0
	return true
}

// send queues a line for the writer goroutine; a miner whose queue is full
// is dropped. Replies go this way: the writer batches a burst of them into
// few writes, and a connection closed right after a burst (with requests
// still unread, so the kernel resets it) loses none to segments the kernel
// had not sent yet.
func (c *srvConn) send(line []byte) {
	if c.dead.Load() {
		return
	}
	c.logOut(line)
	c.wmu.Lock()
	c.enqueue(line)
	c.wmu.Unlock()
}

// sendNow writes a line at once when nothing is queued before it, and
// queues what the socket does not take (all of it when it is full). The
// job broadcaster sends this way: a job then costs each miner one write
// instead of a goroutine wake-up and a write.
//
// Senders hold wmu; the writer goroutine does not, but it only writes
// queued lines and counts them out only once flushed. So a sender that
// sees nothing queued has the socket to itself, and what the socket does
// not take is queued before wmu is released, ahead of any later line.
func (c *srvConn) sendNow(line []byte) {
	if c.dead.Load() {
		return
	}
	c.logOut(line)
	c.wmu.Lock()
	rest, ok := line, true
	if c.raw != nil && c.queued.Load() == 0 {
		rest, ok = c.writeNow(line)
	}
	if ok && len(rest) > 0 {
		c.enqueue(rest)
	}
	c.wmu.Unlock()
	if !ok {
		c.kill()
	}
}

// logOut logs a line sent, with ProtocolLog.
func (c *srvConn) logOut(line []byte) {
	if c.s.cfg.ProtocolLog {
		c.log.Debug("stratum out", "line", string(bytes.TrimRight(line, "\n")))
	}
}

// writeNow writes line to the socket without waiting and returns what it
// did not take; ok is false when the connection failed. The caller holds
// wmu with nothing queued.
func (c *srvConn) writeNow(line []byte) (rest []byte, ok bool) {
	n, again, called, werr := c.tryWrite(line)
	if !called && errors.Is(werr, os.ErrDeadlineExceeded) {
		// The deadline the writer goroutine armed for its last line has
		// passed; a write that does not wait needs none. The writer arms a
		// fresh one before it next writes.
		_ = c.nc.SetWriteDeadline(time.Time{})
		n, again, called, werr = c.tryWrite(line)
	}
	switch {
	case !called:
		return nil, false // closed
	case again:
		return line, true
	case werr != nil:
		c.log.Debug("write failed", "err", werr)
		return nil, false
	}
	return line[n:], true
}

// tryWrite makes one write to the socket that does not wait; called is
// false when the write was refused before the system call (closed, or the
// write deadline passed).
func (c *srvConn) tryWrite(line []byte) (n int, again, called bool, err error) {
	var werr error
	err = c.raw.Write(func(fd uintptr) bool {
		called = true
		n, again, werr = srvWriteFD(fd, line)
		return true // never wait: what is left is queued
	})
	if called {
		err = werr
	}
	return n, again, called, err
}

// enqueue hands a line to the writer goroutine (wmu held).
func (c *srvConn) enqueue(line []byte) {
	c.queued.Add(1)
	select {
	case c.out <- line:
	default:
		c.queued.Add(-1)
		c.log.Warn("miner not reading, dropping connection", "queued", len(c.out))
		c.kill()
	}
}

// kill closes the connection (once); the reader and writer then stop.
func (c *srvConn) kill() {
	c.killOnce.Do(func() {
		c.dead.Store(true)
		if c.nc != nil {
			_ = c.nc.Close()
		}
	})
}

func (c *srvConn) sessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

func (c *srvConn) firstWorker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.workers {
		return w
	}
	return ""
}

// handleLine handles one line from the miner and reports whether the
// connection stays open. It never panics: a bug in a handler closes the
// connection and is logged.
func (c *srvConn) handleLine(line []byte) (keep bool) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("stratum server: panic handling a line", "panic", r,
				"stack", string(debug.Stack()))
			keep = false
		}
	}()
	line = bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return true
	}
	m, err := ParseMessage(line)
	if c.s.cfg.ProtocolLog {
		c.logIn(m, line)
	}
	if err != nil {
		if !srvIsJSONObject(line) {
			// As ckpool does: a peer that does not speak JSON is not a miner.
			c.send(Response(nil, nil, ErrorTriple(20, "invalid JSON, disconnecting")))
			return false
		}
		if id := srvRawID(line); !isNull(id) {
			c.send(Response(id, nil, ErrorTriple(20, err.Error())))
		}
		return true
	}
	if !m.IsRequest() {
		return true // a reply; the server sends no requests that need one
	}
	c.dispatch(m)
	return true
}

// logIn logs a received line, without the password of an authorize.
func (c *srvConn) logIn(m *Message, line []byte) {
	if m != nil && m.Method == MethodAuthorize {
		user := ""
		if ps := StringParams(m); len(ps) > 0 {
			user = srvClip(ps[0])
		}
		c.log.Debug("stratum in", "method", m.Method, "worker", user)
		return
	}
	if len(line) > 512 {
		line = line[:512]
	}
	c.log.Debug("stratum in", "line", string(line))
}

func srvIsJSONObject(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// srvRawID digs the id out of an object that failed to parse as a message.
func srvRawID(line []byte) json.RawMessage {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &v) != nil {
		return nil
	}
	return v.ID
}

// reply answers a request; notifications (id null) get no reply.
func (c *srvConn) reply(m *Message, result any, errVal any) {
	if m.IsNotification() {
		return
	}
	c.send(Response(m.ID, result, errVal))
}

// activateLocked starts mining once the connection is both subscribed and
// authorized: the difficulty, then the current job with clean_jobs set.
func (c *srvConn) activateLocked() {
	if c.active || !c.subscribed || len(c.workers) == 0 {
		return
	}
	j := c.s.book.current()
	if j == nil {
		return
	}
	c.active = true
	if h := c.s.hooks; h != nil {
		c.diff = max(h.startDifficulty(c), c.minDiff)
	}
	c.sendDifficultyLocked(false)
	c.sendJobLocked(j, j.notifyClean, false)
}

// pushJob sends a new job to a mining connection, preceded by
// set_difficulty if the difficulty changed.
func (c *srvConn) pushJob(j *srvJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		c.activateLocked() // subscribed and authorized before any job
		return
	}
	if c.lastJob == j.job.ID {
		return
	}
	if h := c.s.hooks; h != nil {
		if d, ok := h.retarget(c, false); ok {
			c.diff = max(d, c.minDiff)
		}
	}
	if c.diff != c.sentDiff {
		c.sendDifficultyLocked(true)
	}
	c.sendJobLocked(j, j.notifyUpdate, true)
}

// sendDifficultyLocked sends mining.set_difficulty, written at once (see
// sendNow) when now is set.
func (c *srvConn) sendDifficultyLocked(now bool) {
	c.sentDiff = c.diff
	c.emit(Notification(MethodSetDifficulty, c.diff), now)
}

// sendJobLocked sends a job line (written at once when now is set) and
// records the difficulty the job carries for this connection: the lowest
// it was ever sent at, so a difficulty rise never voids shares already in
// flight.
func (c *srvConn) sendJobLocked(j *srvJob, line []byte, now bool) {
	id := j.job.ID
	d := c.diff
	if old, ok := c.jobDiff[id]; ok {
		d = min(d, old)
	}
	c.jobDiff[id] = d
	if len(c.jobDiff) > 2*srvJobWindow {
		for k := range c.jobDiff {
			if !c.s.book.known(k) {
				delete(c.jobDiff, k)
			}
		}
	}
	c.lastJob = id
	c.emit(line, now)
}

// emit is sendNow when now is set, else send.
func (c *srvConn) emit(line []byte, now bool) {
	if now {
		c.sendNow(line)
		return
	}
	c.send(line)
}

// setDifficultyLocked changes the connection's difficulty. A mining
// connection gets mining.set_difficulty at once, followed by the current
// job re-sent with clean_jobs=false, so the new value governs work from
// now on while shares on earlier jobs are still judged at the old one.
func (c *srvConn) setDifficultyLocked(d float64) {
	d = max(d, c.minDiff)
	if d == c.diff {
		return
	}
	c.diff = d
	if !c.active {
		return
	}
	j := c.s.book.current()
	if j == nil {
		return
	}
	c.sendDifficultyLocked(false)
	c.sendJobLocked(j, j.notifyResend, false)
}
