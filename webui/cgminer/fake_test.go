package cgminer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/webui"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNow is the clock of every test server: When fields are 1700000000.
var testNow = time.Unix(1700000000, 0)

// fakeBackend stands in for the controller: it keeps a saved pool list and
// derives the live pool status from it the way the controller does.
type fakeBackend struct {
	mu       sync.Mutex
	summary  webui.Summary
	boards   []webui.Board
	fans     []webui.Fan
	system   webui.SystemInfo
	settings []webui.PoolSetting
	active   int // id of the pool being mined, -1 none
	stats    map[string]webui.Pool
	demo     webui.Pool
	getErr   error
	setErr   error
	sets     int
	restarts chan struct{}
}

func (f *fakeBackend) Summary() webui.Summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.summary
}

func (f *fakeBackend) Boards() []webui.Board {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.boards
}

func (f *fakeBackend) Fans() []webui.Fan {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fans
}

func (f *fakeBackend) System() webui.SystemInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.system
}

// Pools lists the saved pools with live counters from stats (by URL), or
// the demo pool while none is saved.
func (f *fakeBackend) Pools() []webui.Pool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.settings) == 0 {
		return []webui.Pool{f.demo}
	}
	out := make([]webui.Pool, len(f.settings))
	for i, s := range f.settings {
		p := f.stats[s.URL]
		p.Priority, p.URL, p.User, p.Enabled = i, s.URL, s.User, s.Enabled
		switch {
		case !s.Enabled:
			p.Status = "disabled"
		case i == f.active:
			p.Status, p.Active = "active", true
		default:
			p.Status = "standby"
		}
		out[i] = p
	}
	return out
}

func (f *fakeBackend) PoolSettings(context.Context) ([]webui.PoolSetting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return nil, f.getErr
	}
	return slices.Clone(f.settings), nil
}

func (f *fakeBackend) SetPoolSettings(_ context.Context, ps []webui.PoolSetting) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	f.sets++
	f.settings = slices.Clone(ps)
	return nil
}

func (f *fakeBackend) RestartMining(context.Context) error {
	if f.restarts != nil {
		f.restarts <- struct{}{}
	}
	return errors.New("restart failed on purpose")
}

func (f *fakeBackend) savedPools() []webui.PoolSetting {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.settings)
}

// newFixture is a machine with one simulated board of two chains of three
// chips, two fans and three pools, the first active, the third disabled.
func newFixture() *fakeBackend {
	last := testNow.Add(-10 * time.Second)
	chip := func(i int, nonces uint64, ok bool) webui.Chip {
		return webui.Chip{Index: i, Address: i * 2, FrequencyMHz: 500 + float64(i), VoltageMV: 1200,
			TemperatureC: 60 + float64(i), HashrateHS: 1e11, Nonces: nonces, HWErrors: 1,
			Responding: ok, LastNonce: &last}
	}
	return &fakeBackend{
		summary: webui.Summary{
			Accepted: 90, Rejected: 6, Stale: 4, HWErrors: 3,
			Hashrate5s: 612345678901, Hashrate: 600e9, Hashrate15m: 598765432109,
			ActivePool: "stratum+tcp://pool.example:3333", Difficulty: 1024, BestShare: 123456.7,
			UptimeS: 3600.9, Board: "sim", Units: 6, LastShare: &last,
		},
		boards: []webui.Board{{Index: 0, Kind: "sim", Model: "BM1366", HashrateHS: 6e11, Chains: []webui.Chain{
			{Index: 0, Serial: "S0", State: "mining", FrequencyMHz: 500, VoltageMV: 1200, TemperatureC: 65.5,
				ChipDifficulty: 256, HashrateHS: 3e11, HWErrors: 2,
				Chips: []webui.Chip{chip(0, 100, true), chip(1, 200, true), chip(2, 300, true)}},
			{Index: 1, Serial: "S1", State: "initializing", FrequencyMHz: 450, VoltageMV: 1150, TemperatureC: 58,
				ChipDifficulty: 256, HashrateHS: 3e11, HWErrors: 1,
				Chips: []webui.Chip{chip(0, 10, true), chip(1, 0, false), chip(2, 20, true)}},
		}}},
		fans:   []webui.Fan{{Index: 0, RPM: 4200, Percent: 60}, {Index: 1, RPM: 4320, Percent: 60}},
		system: webui.SystemInfo{Version: "1.2.3", OS: "linux", Arch: "arm64", Board: "sim"},
		settings: []webui.PoolSetting{
			{URL: "stratum+tcp://pool.example:3333", User: "alice.rig1", Password: "x", Enabled: true},
			{URL: "stratum+tcp://backup.example:3333", User: "alice.rig1", Password: "x", Enabled: true},
			{URL: "stratum+tcp://old.example:3333", User: "bob", Password: "y", Enabled: false},
		},
		active: 0,
		stats: map[string]webui.Pool{
			"stratum+tcp://pool.example:3333": {Difficulty: 1024, Accepted: 90, Rejected: 6, Stale: 4,
				LastShare: &last, VersionRolling: true},
		},
		demo: webui.Pool{URL: "stratum+tcp://127.0.0.1:40000", User: "kiln-demo", Enabled: true,
			Status: "active", Active: true, Demo: true, Difficulty: 1},
	}
}

// startServer serves s on a loopback port until the test ends, then checks
// that Serve returned nil.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after shutdown, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return ln.Addr().String()
}

// newServer builds a Server on b with the test clock.
func newServer(t *testing.T, b Backend, allow string) *Server {
	t.Helper()
	s, err := New(Config{Backend: b, Allow: allow, Version: "1.2.3", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawQuery sends one request and returns everything the server sent
// before closing.
func rawQuery(t *testing.T, addr, req string) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if err != nil && !isReset(err) {
		t.Fatalf("read reply to %q: %v", req, err)
	}
	return out
}

// isReset reports a connection the server closed with unread data.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// query sends one request and returns the reply without its closing NUL,
// failing unless the reply ends with exactly one NUL.
func query(t *testing.T, addr, req string) string {
	t.Helper()
	out := rawQuery(t, addr, req)
	if len(out) == 0 || out[len(out)-1] != 0 {
		t.Fatalf("reply to %q does not end with NUL: %q", req, out)
	}
	out = out[:len(out)-1]
	if bytes.IndexByte(out, 0) >= 0 {
		t.Fatalf("reply to %q has a NUL inside: %q", req, out)
	}
	return string(out)
}
