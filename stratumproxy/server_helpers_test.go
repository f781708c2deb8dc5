package stratumproxy

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
	"go.uber.org/goleak"
)

// srvLeakCheck registers a goroutine leak check that runs after every
// cleanup registered later (the server's shutdown).
func srvLeakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// srvStart runs a server on a loopback port until the test ends and checks
// that Serve returns nil promptly once cancelled.
func srvStart(t *testing.T, cfg ServerConfig) (*Server, string) {
	t.Helper()
	if cfg.JobInterval == 0 {
		cfg.JobInterval = -1
	}
	if cfg.BlockInterval == 0 {
		cfg.BlockInterval = -1
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := srvServeLoopback(t, s.Serve)
	return s, addr
}

// srvServeLoopback runs serve on a fresh loopback listener and gives the
// listener's address and a stop that cancels serve and checks it returns
// cleanly; stop runs at most once, and at cleanup if the test did not.
func srvServeLoopback(t testing.TB, serve func(context.Context, net.Listener) error) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Serve did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// srvClient is a raw Stratum test client: it keeps the notifications that
// arrive while it waits for replies.
type srvClient struct {
	t      *testing.T
	nc     net.Conn
	r      *bufio.Reader
	nextID uint64
	queue  []*Message // notifications not yet consumed

	en1     []byte
	en2Size int
}

func srvDial(t *testing.T, addr string) *srvClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &srvClient{t: t, nc: nc, r: bufio.NewReaderSize(nc, 1<<16), nextID: 100}
}

func (c *srvClient) send(line string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.nc, line+"\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readLine returns the next line, or the read error.
func (c *srvClient) readLine() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c.r.ReadBytes('\n')
}

func (c *srvClient) read() *Message {
	c.t.Helper()
	line, err := c.readLine()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := ParseMessage(line)
	if err != nil {
		c.t.Fatalf("server sent %q: %v", line, err)
	}
	return m
}

// expectClosed reads until the server closes the connection and returns
// the lines it sent before.
func (c *srvClient) expectClosed() []string {
	c.t.Helper()
	var lines []string
	for range 1000 {
		line, err := c.readLine()
		if len(line) > 0 {
			lines = append(lines, string(line))
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open; got %q", lines)
			}
			return lines
		}
	}
	c.t.Fatal("too many lines before close")
	return nil
}

// call sends a request and returns its reply, queueing notifications.
func (c *srvClient) call(method string, params ...any) *Message {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	c.send(strings.TrimSuffix(string(Request(id, method, params...)), "\n"))
	return c.await(id)
}

func (c *srvClient) await(id uint64) *Message {
	c.t.Helper()
	for range 1000 {
		m := c.read()
		if m.IsRequest() {
			c.queue = append(c.queue, m)
			continue
		}
		var got uint64
		if json.Unmarshal(m.ID, &got) == nil && got == id {
			return m
		}
		c.t.Fatalf("reply to unknown id %s", m.ID)
	}
	c.t.Fatal("no reply")
	return nil
}

// next returns the next notification.
func (c *srvClient) next() *Message {
	c.t.Helper()
	if len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		return m
	}
	m := c.read()
	if !m.IsRequest() {
		c.t.Fatalf("unexpected reply %s", m.ID)
	}
	return m
}

func (c *srvClient) nextDifficulty() float64 {
	c.t.Helper()
	m := c.next()
	if m.Method != MethodSetDifficulty {
		c.t.Fatalf("got %s, want set_difficulty", m.Method)
	}
	d, err := DecodeDifficulty(m)
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

func (c *srvClient) nextNotify() Notify {
	c.t.Helper()
	m := c.next()
	if m.Method != MethodNotify {
		c.t.Fatalf("got %s, want notify", m.Method)
	}
	n, err := DecodeNotify(m)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// handshake subscribes and authorizes worker, returning the first
// difficulty and job.
func (c *srvClient) handshake(worker string) (float64, Notify) {
	c.t.Helper()
	m := c.call(MethodSubscribe, "srv-test/1")
	sub, err := DecodeSubscribe(m.Result)
	if err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	c.en1, c.en2Size = sub.Extranonce1, sub.Extranonce2Size
	if r := DecodeReply(c.call(MethodAuthorize, worker, "x")); !r.OK || string(r.Result) != "true" {
		c.t.Fatalf("authorize %s: %+v", worker, r)
	}
	return c.nextDifficulty(), c.nextNotify()
}

// srvMine scans nonces for one whose header hash meets diff (want true) or
// misses it (want false).
func srvMine(t *testing.T, n Notify, en1, en2 []byte, version uint32, diff float64, want bool) uint32 {
	t.Helper()
	j := mining.Job{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branches: n.Branches,
		NBits: n.NBits, Extranonce1: en1}
	root := j.MerkleRoot(en2)
	target := mining.MustTarget(diff)
	for nonce := range uint32(1 << 22) {
		h := j.Header(root, version, n.NTime, nonce)
		hash := mining.Sha256d(h[:])
		if target.Meets(&hash) == want {
			return nonce
		}
	}
	t.Fatalf("no nonce found at difficulty %v", diff)
	return 0
}

// srvSubmit submits and returns the reply.
func (c *srvClient) submit(worker, job string, en2 []byte, ntime, nonce uint32, bits ...uint32) Reply {
	c.t.Helper()
	params := []any{worker, job, hex.EncodeToString(en2), Hex32(ntime), Hex32(nonce)}
	for _, b := range bits {
		params = append(params, Hex32(b))
	}
	return DecodeReply(c.call(MethodSubmit, params...))
}

// srvWantReject checks a reply is a refusal with code and message.
func srvWantReject(t *testing.T, r Reply, code int, msg string) {
	t.Helper()
	if r.OK || r.Code != code || (msg != "" && r.Reason != msg) {
		t.Errorf("reply %+v, want error %d %q", r, code, msg)
	}
}

func srvWantAccept(t *testing.T, r Reply) {
	t.Helper()
	if !r.OK || string(r.Result) != "true" {
		t.Errorf("reply %+v, want accepted", r)
	}
}

// srvWaitConns polls (bounded) until the server has n connections.
func srvWaitConns(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Connections != n {
		if time.Now().After(deadline) {
			t.Fatalf("connections = %d, want %d", s.Stats().Connections, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
