package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/stratumproxy"
)

const testPassword = "correct horse battery staple"

// syncBuffer collects the controller's log for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// controller is an in-process controller started through Run.
type controller struct {
	base string
	logs *syncBuffer
	stop func() error
}

// startController runs the controller with args plus a fresh --data dir
// (unless given) and a loopback --http port, and waits for its web server.
func startController(t testing.TB, args ...string) *controller {
	t.Helper()
	return startControllerWith(t, testPassword, args...)
}

// startControllerWith is startController with KILN_ADMIN_PASSWORD set to
// env ("" for a first start without it).
func startControllerWith(t testing.TB, env string, args ...string) *controller {
	t.Helper()
	t.Setenv("KILN_ADMIN_PASSWORD", env)
	if !hasFlag(args, "--data") {
		args = append(args, "--data", t.TempDir())
	}
	args = append(args, "--http", "127.0.0.1:0")
	if !hasFlag(args, "--cgminer-api") {
		args = append(args, "--cgminer-api", "127.0.0.1:0")
	}
	addr := make(chan string, 1)
	listening = func(a string) { addr <- a }
	t.Cleanup(func() { listening = nil })

	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, io.Discard, logs) }()
	c := &controller{logs: logs}
	var once sync.Once
	var stopErr error
	c.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("controller did not stop within 15 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("controller stopped with %v", err)
		}
		if t.Failed() {
			t.Logf("controller log:\n%s", c.logs.String())
		}
	})
	select {
	case a := <-addr:
		c.base = "http://" + a
	case err := <-done:
		t.Fatalf("controller exited early: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("controller did not start\n%s", logs.String())
	}
	return c
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// get fetches an API path with the admin credentials into v.
func (c *controller) get(t testing.TB, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.SetBasicAuth("admin", testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
}

type summary struct {
	Accepted   uint64  `json:"accepted"`
	Rejected   uint64  `json:"rejected"`
	Stale      uint64  `json:"stale"`
	HWErrors   uint64  `json:"hw_errors"`
	Hashrate   float64 `json:"hashrate_hs"`
	ActivePool string  `json:"active_pool"`
}

type poolEntry struct {
	URL            string `json:"url"`
	Status         string `json:"status"`
	Accepted       uint64 `json:"accepted"`
	Rejected       uint64 `json:"rejected"`
	VersionRolling bool   `json:"version_rolling"`
}

func (c *controller) summary(t testing.TB) summary {
	var s summary
	c.get(t, "/api/v1/summary", &s)
	return s
}

func (c *controller) pools(t testing.TB) []poolEntry {
	var p []poolEntry
	c.get(t, "/api/v1/pools", &p)
	return p
}

// waitFor polls cond every 50 ms until it holds or timeout passes: the
// controller runs in other goroutines and across real sockets, so there is
// no channel to wait on.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testPool is a real Stratum server (the demo pool's implementation) on a
// loopback port, that a test can stop and start again on the same address.
type testPool struct {
	t      *testing.T
	srv    *stratumproxy.Server
	addr   string
	cancel context.CancelFunc
	done   chan error
}

func startTestPool(t *testing.T, addr string) *testPool {
	t.Helper()
	p := &testPool{t: t}
	p.start(addr)
	t.Cleanup(p.stopServing)
	return p
}

// start serves a fresh pool (as a restarted pool process would be) on addr.
func (p *testPool) start(addr string) {
	p.t.Helper()
	srv, err := stratumproxy.NewServer(stratumproxy.ServerConfig{Difficulty: 1.0 / 1024})
	if err != nil {
		p.t.Fatal(err)
	}
	p.srv = srv
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	// The old socket of a restarted pool may linger briefly.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.srv.Serve(ctx, ln) }()
}

func (p *testPool) stopServing() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	p.cancel = nil
}

func (p *testPool) url() string { return "stratum+tcp://rig1:x@" + p.addr }
