package stratumproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// cliWait bounds every wait in these tests.
const cliWait = 5 * time.Second

// cliNotifyB1 is the synthetic job of stratum-v1.md §8(b).
const cliNotifyB1 = `{"id":null,"method":"mining.notify","params":["b1",` +
	`"2728a05456b7a8d7165a2701c5a37902c1e48d760002a7c40000000000000000",` +
	`"02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1b0340d10c0d2f7374726174756d2d7265662f08",` +
	`"ffffffff02205fa0120000000016001411111111111111111111111111111111111111110000000000000000266a24aa21a9ed222222222222222222222222222222222222222222222222222222222222222200000000",` +
	`["4ab8e84b32323522906c4bdc3c6923ad88a8da0168bcbd5eb9d3d3235f799684","c5a8bad06c730e237ea5b57219e709ae760c91d12f0129cdb8221ad8d1035150"],` +
	`"20000000","17034219","66255d00",true]}`

// cliNotify returns a small valid notify for job id.
func cliNotify(id string, clean bool) string {
	return fmt.Sprintf(`{"id":null,"method":"mining.notify","params":[%q,"%s","01","02",[],"20000000","1d00ffff","66255d00",%v]}`,
		id, strings.Repeat("00", 32), clean)
}

// cliNoLeaks checks, after every other cleanup, that the test left no
// goroutines behind.
func cliNoLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// cliLog is a concurrency-safe log sink.
type cliLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *cliLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *cliLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *cliLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// cliPool is a scripted pool: a real listener whose connections the test
// drives line by line.
type cliPool struct {
	ln    net.Listener
	conns chan net.Conn
	wg    sync.WaitGroup
}

func newCliPool(t *testing.T, conf *tls.Config) *cliPool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	p := &cliPool{ln: ln, conns: make(chan net.Conn, 64)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns <- nc
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
		close(p.conns)
		for nc := range p.conns {
			nc.Close()
		}
	})
	return p
}

func (p *cliPool) addr() string { return p.ln.Addr().String() }

func (p *cliPool) url(scheme, userinfo string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return scheme + "://" + userinfo + p.addr()
}

// accept returns the next connection the client made.
func (p *cliPool) accept(t *testing.T) *cliPoolConn {
	t.Helper()
	select {
	case nc := <-p.conns:
		pc := &cliPoolConn{t: t, nc: nc, r: bufio.NewReader(nc)}
		t.Cleanup(func() { nc.Close() })
		return pc
	case <-time.After(cliWait):
		t.Fatal("pool: no connection from the client")
		return nil
	}
}

// cliPoolConn is one scripted connection, used from the test goroutine.
type cliPoolConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

// read returns the next line from the client, parsed.
func (pc *cliPoolConn) read() *Message {
	pc.t.Helper()
	_ = pc.nc.SetReadDeadline(time.Now().Add(cliWait))
	line, err := pc.r.ReadBytes('\n')
	if err != nil {
		pc.t.Fatalf("pool: read: %v (got %q)", err, line)
	}
	m, err := ParseMessage(line)
	if err != nil {
		pc.t.Fatalf("pool: %v: %q", err, line)
	}
	return m
}

// expect reads the next line and checks its method.
func (pc *cliPoolConn) expect(method string) *Message {
	pc.t.Helper()
	m := pc.read()
	if m.Method != method {
		pc.t.Fatalf("pool: got %q (params %s), want %q", m.Method, m.Params, method)
	}
	return m
}

// expectClosed waits until the client closes the connection.
func (pc *cliPoolConn) expectClosed() {
	pc.t.Helper()
	_ = pc.nc.SetReadDeadline(time.Now().Add(cliWait))
	for range 1000 {
		line, err := pc.r.ReadBytes('\n')
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				pc.t.Fatal("pool: client did not close the connection")
			}
			return
		}
		_ = line
	}
	pc.t.Fatal("pool: client kept talking instead of closing")
}

func (pc *cliPoolConn) send(s string) {
	pc.t.Helper()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	pc.sendRaw([]byte(s))
}

func (pc *cliPoolConn) sendRaw(b []byte) {
	pc.t.Helper()
	_ = pc.nc.SetWriteDeadline(time.Now().Add(cliWait))
	if _, err := pc.nc.Write(b); err != nil {
		pc.t.Fatalf("pool: write: %v", err)
	}
}

func (pc *cliPoolConn) reply(m *Message, result, errVal any) {
	pc.t.Helper()
	pc.sendRaw(Response(m.ID, result, errVal))
}

// cliHS describes how the scripted pool answers the handshake.
type cliHS struct {
	noConfigure bool   // the client is not expected to send configure
	rolling     bool   // grant version rolling
	session     string // subscription id
	suggest     bool   // expect suggest_difficulty
}

// handshake answers configure/subscribe/authorize and returns the
// requests the client sent, in order.
func (pc *cliPoolConn) handshake(hs cliHS) []*Message {
	pc.t.Helper()
	var got []*Message
	if !hs.noConfigure {
		m := pc.expect(MethodConfigure)
		got = append(got, m)
		if hs.rolling {
			pc.reply(m, map[string]any{"version-rolling": true, "version-rolling.mask": "1fffe000"}, nil)
		} else {
			pc.reply(m, nil, ErrorTriple(20, "unknown method"))
		}
	}
	m := pc.expect(MethodSubscribe)
	got = append(got, m)
	sid := hs.session
	if sid == "" {
		sid = "s1"
	}
	pc.reply(m, []any{[][]string{{"mining.set_difficulty", "d1"}, {"mining.notify", sid}}, "f000000f", 4}, nil)
	m = pc.expect(MethodAuthorize)
	got = append(got, m)
	pc.reply(m, true, nil)
	if hs.suggest {
		got = append(got, pc.expect(MethodSuggestDifficulty))
	}
	got = append(got, pc.expect(MethodExtranonceSub))
	return got
}

// cliHarness runs one Client against a pool.
type cliHarness struct {
	client *Client
	events chan Event
	log    *cliLog
}

func newCliHarness(t *testing.T, url string, mutate func(*ClientConfig)) *cliHarness {
	t.Helper()
	h := &cliHarness{events: make(chan Event, 256), log: &cliLog{}}
	cfg := ClientConfig{
		URL: url, UserAgent: "kiln/test", Index: 3,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Log: h.log.logger(), Events: h.events,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.client = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(cliWait):
			t.Error("client Run did not return after cancel")
		}
	})
	return h
}

// wait returns the next event of kind, skipping others.
func (h *cliHarness) wait(t *testing.T, kind EventKind) Event {
	t.Helper()
	deadline := time.After(cliWait)
	for {
		select {
		case ev := <-h.events:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event of kind %d", kind)
			return Event{}
		}
	}
}

// cliAutoPool answers every connection by itself: handshake, a job, then
// submits by policy. The test flips its behaviour through the setters.
type cliAutoPool struct {
	t    *testing.T
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	live map[*cliAutoConn]bool
	jobN int
	// behaviour
	down, refuseAuth, reject bool
	notifyEvery              time.Duration
	authDelay                time.Duration // a slow pool: wait this long before answering authorize
	conns, submits           int
	stop                     chan struct{}
}

type cliAutoConn struct {
	nc net.Conn
	wm sync.Mutex
}

func (c *cliAutoConn) write(b []byte) {
	c.wm.Lock()
	defer c.wm.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(cliWait))
	_, _ = c.nc.Write(b)
}

func newCliAutoPool(t *testing.T) *cliAutoPool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cliAutoPool{t: t, ln: ln, live: map[*cliAutoConn]bool{}, stop: make(chan struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(func() {
		close(p.stop)
		ln.Close()
		p.dropAll()
		p.wg.Wait()
	})
	return p
}

func (p *cliAutoPool) url() string { return "stratum+tcp://w:x@" + p.ln.Addr().String() }

func (p *cliAutoPool) set(f func(p *cliAutoPool)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *cliAutoPool) counts() (conns, submits int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns, p.submits
}

func (p *cliAutoPool) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		c := &cliAutoConn{nc: nc}
		p.mu.Lock()
		p.conns++
		down := p.down
		if !down {
			p.live[c] = true
		}
		p.mu.Unlock()
		if down {
			nc.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// dropAll closes every live connection.
func (p *cliAutoPool) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.live {
		c.nc.Close()
		delete(p.live, c)
	}
}

func (p *cliAutoPool) job(c *cliAutoConn) {
	p.mu.Lock()
	p.jobN++
	id := fmt.Sprintf("j%d", p.jobN)
	p.mu.Unlock()
	c.write([]byte(cliNotify(id, true) + "\n"))
}

func (p *cliAutoPool) serve(c *cliAutoConn) {
	defer p.wg.Done()
	defer func() {
		c.nc.Close()
		p.mu.Lock()
		delete(p.live, c)
		p.mu.Unlock()
	}()
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		r := bufio.NewReader(c.nc)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	defer func() {
		c.nc.Close()
		for range lines { // let the reader finish
		}
	}()
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	var tick <-chan time.Time
	for {
		select {
		case <-p.stop:
			return
		case <-tick:
			p.job(c)
		case line, ok := <-lines:
			if !ok {
				return
			}
			if t := p.handle(c, line); t != nil && ticker == nil {
				ticker, tick = t, t.C
			}
		}
	}
}

// handle answers one client line; after authorize it returns the job
// ticker, if any.
func (p *cliAutoPool) handle(c *cliAutoConn, line []byte) *time.Ticker {
	m, err := ParseMessage(line)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	refuse, reject, every, delay := p.refuseAuth, p.reject, p.notifyEvery, p.authDelay
	p.mu.Unlock()
	switch m.Method {
	case MethodConfigure:
		c.write(Response(m.ID, map[string]any{"version-rolling": true, "version-rolling.mask": "1fffe000"}, nil))
	case MethodSubscribe:
		c.write(Response(m.ID, []any{[][]string{{"mining.notify", "s"}}, "f000000f", 4}, nil))
	case MethodAuthorize:
		time.Sleep(delay) // the pool under test is slow by design
		if refuse {
			c.write(Response(m.ID, false, ErrorTriple(24, "unauthorized worker")))
			return nil
		}
		c.write(Response(m.ID, true, nil))
		c.write(Notification(MethodSetDifficulty, 2))
		p.job(c)
		if every > 0 {
			return time.NewTicker(every)
		}
	case MethodSubmit:
		p.mu.Lock()
		p.submits++
		p.mu.Unlock()
		if reject {
			c.write(Response(m.ID, false, ErrorTriple(23, "low difficulty share")))
		} else {
			c.write(Response(m.ID, true, nil))
		}
	}
	return nil
}
