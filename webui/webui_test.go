package webui

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testPassword = "correct horse"

// fakeClock is the injected clock: it moves only when a test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeStatus is a fixed Status; with panicMsg set, every call panics.
type fakeStatus struct {
	summary  Summary
	pools    []Pool
	boards   []Board
	workers  []ProxyWorker
	panicMsg string
}

func (f *fakeStatus) ProxyWorkers() []ProxyWorker { return f.workers }

func (f *fakeStatus) Boards() []Board {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.boards
}

func (f *fakeStatus) Summary() Summary {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.summary
}

func (f *fakeStatus) Pools() []Pool {
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.pools
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Server behind a real HTTP listener on 127.0.0.1.
type harness struct {
	srv    *httptest.Server
	client *http.Client
	clock  *fakeClock
	logs   *syncBuffer
	checks atomic.Int32 // calls of CheckPassword
}

func newHarness(t *testing.T, st Status) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock(), logs: &syncBuffer{}}
	s := New(Config{
		Status: st,
		CheckPassword: func(pw string) bool {
			h.checks.Add(1)
			return pw == testPassword
		},
		Version: "v0.1.0-test",
		Log:     slog.New(slog.NewTextHandler(h.logs, nil)),
		Now:     h.clock.Now,
	})
	h.srv = httptest.NewServer(s.Handler())
	h.client = clientFrom(t, "127.0.0.1")
	t.Cleanup(h.srv.Close)
	return h
}

// clientFrom returns a client whose connections leave from the loopback
// address local, so tests can act as distinct clients without trusting
// any header.
func clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// request describes one call; zero fields mean GET without credentials.
type request struct {
	method   string
	path     string
	user     string
	password string
	header   map[string]string
}

// do sends r and returns the response with its body read.
func (h *harness) do(t *testing.T, c *http.Client, r request) (*http.Response, []byte) {
	t.Helper()
	if c == nil {
		c = h.client
	}
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, h.srv.URL+r.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" || r.password != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, r.path, err)
	}
	return resp, body
}

// admin is a request with the right credentials.
func admin(path string) request {
	return request{path: path, user: "admin", password: testPassword}
}

// decodeObject decodes a JSON object body, failing the test otherwise.
func decodeObject(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", body, err)
	}
	return m
}

// wantJSONError checks status, content type and the {"error": ...} shape.
func wantJSONError(t *testing.T, resp *http.Response, body []byte, status int, msg string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want JSON", ct)
	}
	m := decodeObject(t, body)
	e, _ := m["error"].(map[string]any)
	got, _ := e["message"].(string)
	code, _ := e["code"].(string)
	if len(m) != 1 || len(e) != 2 || got == "" || code == "" || (msg != "" && got != msg) {
		t.Errorf("error body = %s, want {\"error\": {\"code\": ..., \"message\": %q}}", body, msg)
	}
}
