package stratumproxy

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// clientRead is one line, or the error that ended reading.
type clientRead struct {
	line []byte
	err  error
}

// clientPending is a submit waiting for its reply.
type clientPending struct {
	share *mining.Share
	sent  time.Time
}

// clientConn is one connection of a Client. Everything but the reader
// goroutine's bufio.Reader belongs to the Client's Run goroutine.
type clientConn struct {
	c       *Client
	nc      net.Conn
	session uint64
	lines   chan clientRead
	done    chan struct{}
	wg      sync.WaitGroup
	tick    *time.Ticker

	nextID   uint64
	pending  map[uint64]*clientPending
	optional map[uint64]string // ids of requests whose replies we do not wait for

	subscribed, authorized bool
	en1                    []byte
	en2Size                int
	rolling                bool
	mask                   uint32
	diff                   float64
	forceClean             bool
	lastJob                *mining.Job
}

func newClientConn(c *Client, nc net.Conn) *clientConn {
	cc := &clientConn{
		c:        c,
		nc:       nc,
		session:  c.session,
		lines:    make(chan clientRead),
		done:     make(chan struct{}),
		tick:     time.NewTicker(max(min(c.cfg.SubmitTimeout/4, time.Second), 5*time.Millisecond)),
		pending:  make(map[uint64]*clientPending),
		optional: make(map[uint64]string),
		diff:     1, // until the first set_difficulty (slush, cgminer)
	}
	cc.wg.Add(1)
	go cc.read()
	return cc
}

// close ends the connection, waits for the reader and reports submits that
// will never get a reply.
func (cc *clientConn) close(ctx context.Context) {
	close(cc.done)
	_ = cc.nc.Close()
	cc.wg.Wait()
	cc.tick.Stop()
	cc.expireSubmits(ctx, time.Time{}, ErrConnectionLost)
}

// read feeds lines to the owner until an error, which it delivers last.
func (cc *clientConn) read() {
	defer cc.wg.Done()
	r := bufio.NewReaderSize(cc.nc, 16<<10)
	idle := cc.c.cfg.IdleTimeout
	for {
		_ = cc.nc.SetReadDeadline(time.Now().Add(idle))
		line, err := clientReadLine(r, MaxLineClient)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("stratum: no line from the pool for %v: %w", idle, err)
		}
		select {
		case cc.lines <- clientRead{line, err}:
		case <-cc.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// clientReadLine reads one newline-terminated line of at most limit bytes
// (the \r\n or \n excluded), without ever buffering much more than that.
func clientReadLine(r *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		buf = append(buf, frag...)
		switch {
		case err == nil:
			if len(clientTrimEOL(buf)) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes", errClientLineTooLong, limit)
			}
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(buf) > limit+1 { // +1: a \r may still precede the newline
				return nil, fmt.Errorf("%w: more than %d bytes", errClientLineTooLong, limit)
			}
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return nil, fmt.Errorf("stratum: pool closed the connection mid-line after %d bytes: %w",
				len(buf), io.ErrUnexpectedEOF)
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("stratum: pool closed the connection: %w", err)
		default:
			return nil, fmt.Errorf("stratum: read: %w", err)
		}
	}
}

// send writes one line under the write deadline; logLine replaces it in
// the protocol log when it carries a secret.
func (cc *clientConn) send(line, logLine []byte) error {
	if logLine == nil {
		logLine = line
	}
	cc.c.logProto("send", logLine)
	_ = cc.nc.SetWriteDeadline(time.Now().Add(cc.c.cfg.WriteTimeout))
	if _, err := cc.nc.Write(line); err != nil {
		return fmt.Errorf("stratum: write: %w", err)
	}
	return nil
}

// request sends a request and returns its id.
func (cc *clientConn) request(method string, params ...any) (uint64, error) {
	cc.nextID++
	return cc.nextID, cc.send(Request(cc.nextID, method, params...), nil)
}

// pump processes input until the reply to want arrives (want 0: forever)
// or timeout passes (0: never), and returns that reply or why it stopped.
func (cc *clientConn) pump(ctx context.Context, want uint64, timeout time.Duration) (*Message, error) {
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-expire:
			return nil, errClientReplyTimeout
		case r := <-cc.lines:
			if r.err != nil {
				return nil, r.err
			}
			m, err := cc.handleLine(ctx, r.line)
			if err != nil {
				return nil, err
			}
			if m == nil {
				continue
			}
			if id, ok := clientID(m.ID); ok && want != 0 && id == want {
				return m, nil
			}
			cc.handleResponse(ctx, m)
		case s := <-cc.c.submits:
			if err := cc.submit(ctx, s); err != nil {
				return nil, err
			}
		case session := <-cc.c.drops:
			if session == cc.session {
				return nil, errClientDropped
			}
		case now := <-cc.tick.C:
			cc.expireSubmits(ctx, now.Add(-cc.c.cfg.SubmitTimeout), ErrSubmitTimeout)
		}
	}
}

// serve runs the authorized connection until it fails.
func (cc *clientConn) serve(ctx context.Context) error {
	_, err := cc.pump(ctx, 0, 0)
	return err
}

// clientID reads a reply id we issued: a JSON integer or a decimal string.
func clientID(raw json.RawMessage) (uint64, bool) {
	var n uint64
	if json.Unmarshal(raw, &n) == nil {
		return n, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		v, err := strconv.ParseUint(s, 10, 64)
		return v, err == nil
	}
	return 0, false
}

// handshake runs configure (unless this pool refused it), subscribe and
// authorize, then the optional requests.
func (cc *clientConn) handshake(ctx context.Context) error {
	if !cc.c.noConfigure {
		if err := cc.configure(ctx); err != nil {
			return err
		}
	}
	if err := cc.subscribe(ctx); err != nil {
		return err
	}
	if err := cc.authorize(ctx); err != nil {
		return err
	}
	return cc.afterAuthorize(ctx)
}

func (cc *clientConn) configure(ctx context.Context) error {
	id, err := cc.request(MethodConfigure, []string{"version-rolling"}, map[string]any{
		"version-rolling.mask":          Hex32(VersionRollingMask),
		"version-rolling.min-bit-count": 2,
	})
	if err != nil {
		return err
	}
	m, err := cc.pump(ctx, id, cc.c.cfg.ConfigureTimeout)
	switch {
	case errors.Is(err, errClientReplyTimeout):
		cc.optional[id] = MethodConfigure
		cc.c.log.Info("no reply to mining.configure; mining without version rolling")
		return nil
	case err != nil && clientPoolClosed(err):
		return fmt.Errorf("%w: %w", errClientConfigureClosed, err)
	case err != nil:
		return err
	}
	mask, ok := DecodeConfigure(m.Result)
	mask &= VersionRollingMask
	cc.rolling = ok && isNull(m.Error) && mask != 0
	if cc.rolling {
		cc.mask = mask
	}
	cc.c.log.Info("mining.configure answered", "version_rolling", cc.rolling, "mask", Hex32(cc.mask))
	return nil
}

func (cc *clientConn) subscribe(ctx context.Context) error {
	c := cc.c
	params := []any{c.cfg.UserAgent}
	resume := c.sessionID
	if resume != "" {
		params = append(params, resume)
	}
	id, err := cc.request(MethodSubscribe, params...)
	if err != nil {
		return err
	}
	m, err := cc.pump(ctx, id, c.cfg.ResponseTimeout)
	if err != nil {
		c.sessionID = "" // do not let a resume attempt fail forever
		return clientReplyErr(MethodSubscribe, c.cfg.ResponseTimeout, err)
	}
	if r := DecodeReply(m); !r.OK {
		if resume != "" {
			c.log.Info("session resume refused; subscribing afresh", "reason", r.Reason)
			c.sessionID = ""
			return cc.subscribe(ctx)
		}
		return fmt.Errorf("stratum: mining.subscribe refused: %s", r.Reason)
	}
	sub, err := DecodeSubscribe(m.Result)
	if err != nil {
		return err
	}
	cc.en1, cc.en2Size, cc.subscribed = sub.Extranonce1, sub.Extranonce2Size, true
	c.sessionID = sub.SessionID
	c.log.Info("subscribed", "extranonce1", hex.EncodeToString(sub.Extranonce1),
		"extranonce2_size", sub.Extranonce2Size, "resumed", resume != "" && resume == sub.SessionID)
	return nil
}

func (cc *clientConn) authorize(ctx context.Context) error {
	c := cc.c
	cc.nextID++
	id := cc.nextID
	redacted := Request(id, MethodAuthorize, c.user, "***")
	if err := cc.send(Request(id, MethodAuthorize, c.user, c.pass), redacted); err != nil {
		return err
	}
	m, err := cc.pump(ctx, id, c.cfg.ResponseTimeout)
	if err != nil {
		return clientReplyErr(MethodAuthorize, c.cfg.ResponseTimeout, err)
	}
	if r := DecodeReply(m); !r.OK {
		return fmt.Errorf("%w: worker %q: %s", ErrAuthRefused, c.user, r.Reason)
	}
	return nil
}

func (cc *clientConn) afterAuthorize(ctx context.Context) error {
	cc.authorized = true
	if d := cc.c.cfg.SuggestDifficulty; d > 0 {
		id, err := cc.request(MethodSuggestDifficulty, clientDifficultyParam(d))
		if err != nil {
			return err
		}
		cc.optional[id] = MethodSuggestDifficulty
	}
	id, err := cc.request(MethodExtranonceSub)
	if err != nil {
		return err
	}
	cc.optional[id] = MethodExtranonceSub
	cc.c.log.Info("authorized", "worker", cc.c.user, "session", cc.session)
	cc.c.emit(ctx, Event{Kind: EventAuthorized, Difficulty: cc.diff, VersionMask: cc.jobMask()})
	if cc.lastJob != nil {
		cc.c.emit(ctx, Event{Kind: EventJob, Job: cc.lastJob})
	}
	return nil
}

// clientDifficultyParam sends whole difficulties as JSON integers (older ckpool
// builds accept nothing else).
func clientDifficultyParam(d float64) any {
	if d == math.Trunc(d) && d < 1<<53 {
		return int64(d)
	}
	return d
}

func clientReplyErr(method string, timeout time.Duration, err error) error {
	if errors.Is(err, errClientReplyTimeout) {
		return fmt.Errorf("stratum: no reply to %s within %v", method, timeout)
	}
	return err
}

// jobMask is the mask stamped on jobs: 0 without version rolling.
func (cc *clientConn) jobMask() uint32 {
	if !cc.rolling {
		return 0
	}
	return cc.mask
}
