package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/store"
)

// TestMinesToDemoPool is `make run` in miniature: no pool configured, so the
// controller starts the demo pool and mines to it over real TCP, with version
// rolling negotiated, and the pool accepts every share.
func TestMinesToDemoPool(t *testing.T) {
	c := startController(t, "--board", "cpu", "--threads", "1", "--demo-difficulty", "0.0009765625")
	waitFor(t, 60*time.Second, "3 accepted shares", func() bool { return c.summary(t).Accepted >= 3 })
	s := c.summary(t)
	if s.Rejected != 0 || s.HWErrors != 0 {
		t.Errorf("summary = %+v, want no rejects and no hardware errors", s)
	}
	if !strings.HasPrefix(s.ActivePool, "stratum+tcp://127.0.0.1:") {
		t.Errorf("active pool = %q, want the loopback demo pool", s.ActivePool)
	}
	if s.Hashrate <= 0 {
		t.Errorf("hashrate = %v, want > 0", s.Hashrate)
	}
	p := c.pools(t)
	if len(p) != 1 || !p[0].VersionRolling || p[0].Status != "active" || p[0].Accepted < 3 {
		t.Errorf("pools = %+v, want one active pool with version rolling and accepted shares", p)
	}
	var boards []struct {
		Kind   string `json:"kind"`
		Model  string `json:"model"`
		Chains []any  `json:"chains"`
	}
	c.get(t, "/api/v1/boards", &boards)
	if len(boards) != 1 || boards[0].Kind != "cpu" || boards[0].Model == "" || boards[0].Chains == nil {
		t.Errorf("boards = %+v, want the CPU as one board naming its kernel", boards)
	}
}

// TestPoolAcceptsShares mines to an external pool given with --pool; the
// pool's own books show the shares accepted and none rejected.
func TestPoolAcceptsShares(t *testing.T) {
	pool := startTestPool(t, "")
	c := startController(t, "--board", "cpu", "--threads", "1", "--pool", pool.url())
	waitFor(t, 60*time.Second, "pool to accept 3 shares", func() bool { return pool.srv.Stats().Accepted >= 3 })
	if st := pool.srv.Stats(); len(st.Rejected) != 0 {
		t.Errorf("pool rejected shares: %v", st.Rejected)
	}
	p := c.pools(t)
	if len(p) != 1 || !p[0].VersionRolling {
		t.Errorf("pools = %+v, want version rolling negotiated", p)
	}
	if s := c.summary(t); s.Rejected != 0 || s.ActivePool != "stratum+tcp://"+pool.addr {
		t.Errorf("summary = %+v", s)
	}
}

// TestFailoverAndFailback: the primary dies, shares continue on the backup
// within seconds; the primary returns and the controller goes back to it.
func TestFailoverAndFailback(t *testing.T) {
	primary := startTestPool(t, "")
	backup := startTestPool(t, "")
	c := startController(t, "--board", "cpu", "--threads", "1", "--failback-grace", "1s",
		"--pool", primary.url(), "--pool", backup.url())
	waitFor(t, 60*time.Second, "a share on the primary", func() bool { return primary.srv.Stats().Accepted >= 1 })
	if backup.srv.Stats().Accepted != 0 {
		t.Fatal("shares went to the backup while the primary was healthy")
	}

	primary.stopServing()
	waitFor(t, 10*time.Second, "failover to the backup", func() bool {
		return c.summary(t).ActivePool == "stratum+tcp://"+backup.addr
	})
	waitFor(t, 20*time.Second, "shares on the backup", func() bool { return backup.srv.Stats().Accepted >= 2 })

	primary.start(primary.addr)
	waitFor(t, 20*time.Second, "failback to the primary", func() bool {
		return c.summary(t).ActivePool == "stratum+tcp://"+primary.addr
	})
	waitFor(t, 30*time.Second, "shares on the returned primary", func() bool { return primary.srv.Stats().Accepted >= 1 })
	for _, p := range []*testPool{primary, backup} {
		if st := p.srv.Stats(); len(st.Rejected) != 0 {
			t.Errorf("pool %s rejected shares: %v", p.addr, st.Rejected)
		}
	}
}

// TestStateSurvivesRestart: counters, the share log, the pool list and the
// admin password persist in --data across a restart.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	pool := startTestPool(t, "")
	c := startController(t, "--board", "cpu", "--threads", "1", "--data", dir, "--pool", pool.url())
	waitFor(t, 60*time.Second, "2 accepted shares", func() bool { return c.summary(t).Accepted >= 2 })
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	counters, err := st.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	shares, err := st.RecentShares(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	pools, err := st.Pools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if counters["accepted"] < 2 || counters["hashes"] <= 0 {
		t.Errorf("lifetime counters = %v, want accepted >= 2 and hashes > 0", counters)
	}
	if len(shares) < 2 || shares[0].Result != "accepted" || shares[0].Pool == "" {
		t.Errorf("share log = %+v", shares)
	}
	if len(pools) != 1 || pools[0].User != "rig1" || pools[0].URL != "stratum+tcp://"+pool.addr {
		t.Errorf("saved pools = %+v", pools)
	}

	// Second start: no --pool, so the saved pool is used; the password from
	// the first start still holds even though the variable changed.
	t.Setenv("KILN_ADMIN_PASSWORD", "something else")
	c2 := startController(t, "--board", "cpu", "--threads", "1", "--data", dir)
	if s := c2.summary(t); s.ActivePool != "" && s.ActivePool != "stratum+tcp://"+pool.addr {
		t.Errorf("after restart mining to %q, want the saved pool", s.ActivePool)
	}
}

// TestFirstStartSetup: with no KILN_ADMIN_PASSWORD at first start nothing
// protected answers until the owner sets a password through the API; the
// password then works, a second setup is refused, and a later
// KILN_ADMIN_PASSWORD does not replace it.
func TestFirstStartSetup(t *testing.T) {
	dir := t.TempDir()
	pool := startTestPool(t, "")
	base := startControllerWith(t, "", "--board", "cpu", "--threads", "1", "--data", dir, "--pool", pool.url()).base

	status := func(method, path, pw, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if pw != "" {
			req.SetBasicAuth("admin", pw)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const pw = "a long enough secret"
	for _, tc := range []struct {
		method, path, pw, body string
		want                   int
	}{
		{"GET", "/api/v1/summary", "", "", 403},
		{"GET", "/api/v1/summary", "admin", "", 403},
		{"POST", "/api/v1/setup", "", `{"password":"short"}`, 400},
		{"POST", "/api/v1/setup", "", `{"password":"` + pw + `"}`, 200},
		{"POST", "/api/v1/setup", "", `{"password":"another long one"}`, 409},
		{"GET", "/api/v1/summary", pw, "", 200},
		{"GET", "/api/v1/summary", "admin", "", 401},
		{"GET", "/api/v1/summary", "another long one", "", 401},
	} {
		if got := status(tc.method, tc.path, tc.pw, tc.body); got != tc.want {
			t.Errorf("%s %s (password %q, body %s): %d, want %d", tc.method, tc.path, tc.pw, tc.body, got, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"--version"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "kiln controller "+Version) {
		t.Errorf("--version printed %q", out.String())
	}
	for _, args := range [][]string{
		{"--board", "fpga"},
		{"--board", "usb"},
		{"--board", "usb", "--serial", "/dev/null"},
		{"--board", "sim", "--chip", "BM9999", "--data", t.TempDir(), "--http", "127.0.0.1:0"},
		{"--board", "sim", "--serial", "/dev/ttyS1", "--data", t.TempDir(), "--http", "127.0.0.1:0"},
		{"--sim-chips", "0"},
		{"--chip-difficulty", "-1"},
		{"--threads", "-1"},
		{"--log-level", "loud"},
		{"--suggest-difficulty", "-1"},
		{"stray"},
		{"--pool", "http://example.com:80", "--data", t.TempDir(), "--http", "127.0.0.1:0"},
		{"--pool", "not a url", "--data", t.TempDir(), "--http", "127.0.0.1:0"},
		{"bench", "--board", "fpga"},
		{"bench", "--duration", "0s"},
	} {
		if err := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("Run(%q) succeeded, want an error", args)
		}
	}
}

// TestBench checks the bench contract: it hashes, verifies every result on
// the host, and ends with "hashrate_hs: N".
func TestBench(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"bench", "--board", "cpu", "--duration", "500ms", "--threads", "1"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	var rate float64
	if n, _ := fmt.Sscanf(last, "hashrate_hs: %f", &rate); n != 1 || rate <= 0 {
		t.Fatalf("last line %q, want hashrate_hs: N > 0\n%s", last, out.String())
	}
	if !strings.Contains(out.String(), "hw_errors: 0\n") {
		t.Errorf("bench output lacks hw_errors: 0:\n%s", out.String())
	}
}
