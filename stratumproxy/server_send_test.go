//go:build unix

package stratumproxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServerSendOrderUnderBackpressure sends a miner that is not reading
// more than its socket takes, from two goroutines at once: the first line
// goes straight to the socket, later ones fill it and then the queue (a
// line the socket takes only in part has its rest queued), and the queue
// drains once the miner reads. Every line must arrive whole, and each
// sender's lines in the order sent.
func TestServerSendOrderUnderBackpressure(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: 1})
	// A small receive buffer (no autotuning) so the unread lines overflow
	// the kernel's buffers and reach the queue.
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	cl := &srvClient{t: t, nc: nc, r: bufio.NewReaderSize(nc, 1<<16), nextID: 100}
	srvWaitConns(t, s, 1)
	c := s.snapshot()[0]
	if c.raw == nil {
		t.Fatal("a TCP connection has no raw socket to write to")
	}
	c.sendNow([]byte(`{"id":null,"method":"test.first","params":[]}` + "\n"))
	if n := c.queued.Load(); n != 0 {
		t.Fatalf("first line: %d queued, want it written at once", n)
	}
	const perSender, size = srvQueueLen/2 - 2, 64 << 10
	pad := strings.Repeat("x", size)
	var wg sync.WaitGroup
	for _, who := range []string{"a", "b"} {
		wg.Go(func() {
			for i := range perSender {
				c.sendNow(fmt.Appendf(nil, `{"id":null,"method":"test.seq","params":["%s",%d,"%s"]}`+"\n", who, i, pad))
			}
		})
	}
	wg.Wait()
	if c.queued.Load() == 0 || c.dead.Load() {
		t.Fatalf("after %d KiB unread: queued %d, dead %v; want lines queued on a live connection",
			2*perSender*size>>10, c.queued.Load(), c.dead.Load())
	}

	if m := cl.read(); m.Method != "test.first" {
		t.Fatalf("first line is %q, want test.first", m.Method)
	}
	next := map[string]int{}
	for range 2 * perSender {
		line, err := cl.readLine()
		if err != nil {
			t.Fatalf("after %v: %v", next, err)
		}
		var m struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		var who, body string
		var seq int
		if json.Unmarshal(line, &m) != nil || m.Method != "test.seq" || len(m.Params) != 3 ||
			json.Unmarshal(m.Params[0], &who) != nil || json.Unmarshal(m.Params[1], &seq) != nil ||
			json.Unmarshal(m.Params[2], &body) != nil || body != pad {
			t.Fatalf("line %d bytes is not a whole test.seq line (after %v)", len(line), next)
		}
		if seq != next[who] {
			t.Fatalf("sender %s: line %d arrived, want %d", who, seq, next[who])
		}
		next[who]++
	}
	srvWaitQueued(t, c)
}

// srvWaitQueued polls (bounded) until every line sent to c was handed to
// the kernel.
func srvWaitQueued(t *testing.T, c *srvConn) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.queued.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines still queued", c.queued.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestServerSendAfterWriteDeadline sends a line when the write deadline
// the writer goroutine armed long ago has passed: the line is still
// written at once, not queued or lost.
func TestServerSendAfterWriteDeadline(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: 1})
	cl := srvDial(t, addr)
	srvWaitConns(t, s, 1)
	c := s.snapshot()[0]
	_ = c.nc.SetWriteDeadline(time.Now().Add(-time.Second))
	c.sendNow([]byte(`{"id":null,"method":"test.late","params":[]}` + "\n"))
	if n := c.queued.Load(); n != 0 || c.dead.Load() {
		t.Fatalf("queued %d, dead %v; want the line written at once", n, c.dead.Load())
	}
	if m := cl.read(); m.Method != "test.late" {
		t.Fatalf("got %q, want test.late", m.Method)
	}
}
