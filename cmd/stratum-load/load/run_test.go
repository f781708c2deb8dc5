package load

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/stratumproxy"
)

// startServer serves a low-difficulty demo pool on 127.0.0.1 until the test
// ends.
func startServer(t *testing.T, cfg stratumproxy.ServerConfig) (*stratumproxy.Server, string) {
	t.Helper()
	srv, err := stratumproxy.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}

func leakCheck(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func TestRunAgainstDemoPool(t *testing.T) {
	leakCheck(t)
	// Easy shares (about 65k hashes each), so valid ones are found even on a
	// machine busy with other tests.
	srv, addr := startServer(t, stratumproxy.ServerConfig{Difficulty: 1.0 / 65536, JobInterval: 200 * time.Millisecond})
	cfg := Config{
		Addr: addr, Conns: 50, Duration: 2 * time.Second, Ramp: 200 * time.Millisecond,
		SubmitRate: 2, Invalid: 0.3, MaxHashes: 1 << 22, User: "w", Password: "x",
		SourceIPs: mustIPs(t, "127.0.0.1-127.0.0.3"), PID: os.Getpid(),
		HandshakeTimeout: 5 * time.Second, Settle: 100 * time.Millisecond,
	}
	start := time.Now()
	r := newRunner(cfg, nil)
	s := r.run(context.Background())
	if took := time.Since(start); took > cfg.Duration+time.Second {
		t.Errorf("run took %v, bound %v", took, cfg.Duration)
	}
	if r.poll != nil && r.poll.adopted.Load() != 50 {
		t.Errorf("poller adopted %d connections, want all 50", r.poll.adopted.Load())
	}
	c := s.Connections
	if c.Attempted != 50 || c.Established != 50 || c.Failed != 0 || c.Dropped != 0 || c.NotStarted != 0 || c.InHandshake != 0 {
		t.Errorf("connections = %+v, want all 50 established", c)
	}
	if s.Handshake.Count != 50 || !(s.Handshake.P50 > 0 && s.Handshake.P50 <= s.Handshake.P99) {
		t.Errorf("handshake = %+v", s.Handshake)
	}
	f := s.Fanout
	// 2 s at 200 ms a job: about 8 broadcasts after the ramp; the last may
	// be cut by the end of the run.
	if f.Jobs < 5 || f.JobsAllUp < 4 || f.JobsToAll < f.JobsAllUp-1 || f.Count < 50*(f.JobsAllUp-1) {
		t.Errorf("fan-out = %+v, want every job at every connection", f)
	}
	if !(f.P50 <= f.P99 && f.P99 <= f.Max && f.Max < 1000) {
		t.Errorf("fan-out figures not sane: %+v", f)
	}
	// Each connection's first notify marks its join; every pair counted
	// in the fan-out is one more.
	if s.Notifies < uint64(50+f.Count) || s.Malformed != 0 {
		t.Errorf("notifies %d malformed %d for 50 joins and %d fan-out pairs", s.Notifies, s.Malformed, f.Count)
	}
	checkShares(t, s.Shares, srv.Stats())
	// The server is this very process, whose RSS the runtime may shrink
	// between samples, so only the taking of the second sample is checked.
	if s.Memory == nil || s.Memory.AfterBytes == 0 {
		t.Errorf("memory = %+v, want a sample after all were up", s.Memory)
	}
}

// checkShares wants valid shares accepted and each invalid kind rejected
// with its code, agreeing with the server's own counters.
func checkShares(t *testing.T, sh ShareStats, st stratumproxy.ServerStats) {
	t.Helper()
	wantOnly := map[string]string{kindValid: "accepted", kindLowDiff: "code 23", kindDuplicate: "code 22", kindBadNTime: "code 20"}
	for kind, outcomes := range sh.ByKind {
		for outcome, n := range outcomes {
			if outcome != wantOnly[kind] {
				t.Errorf("%s shares: %d answered %q, want only %q", kind, n, outcome, wantOnly[kind])
			}
		}
	}
	if sh.ByKind[kindValid]["accepted"] == 0 || sh.ByKind[kindLowDiff]["code 23"] == 0 ||
		sh.ByKind[kindBadNTime]["code 20"] == 0 {
		t.Errorf("shares by kind = %v, want accepted valid, low difficulty and bad ntime rejects", sh.ByKind)
	}
	var rejected uint64
	for _, n := range sh.Rejected {
		rejected += n
	}
	var srvRejected uint64
	for _, n := range st.Rejected {
		srvRejected += n
	}
	// Submits still in flight when the run stops were judged by the
	// server but never answered: the two books differ by exactly those.
	if sh.Sent != sh.Accepted+rejected+sh.Unanswered {
		t.Errorf("shares %+v: sent != answered + unanswered", sh)
	}
	if st.Accepted < sh.Accepted || srvRejected < rejected ||
		(st.Accepted-sh.Accepted)+(srvRejected-rejected) > sh.Unanswered {
		t.Errorf("tool counted accepted %d rejected %d (unanswered %d), server %d and %v",
			sh.Accepted, rejected, sh.Unanswered, st.Accepted, st.Rejected)
	}
}

func mustIPs(t *testing.T, s string) []netip.Addr {
	t.Helper()
	ips, err := ParseSourceIPs(s)
	if err != nil {
		t.Fatal(err)
	}
	return ips
}

func TestRunRefusedAndUnreachable(t *testing.T) {
	leakCheck(t)
	_, addr := startServer(t, stratumproxy.ServerConfig{
		Difficulty: 1.0 / 4096, Authorize: func(string, string) bool { return false },
	})
	cfg := Config{Addr: addr, Conns: 5, Duration: 500 * time.Millisecond, User: "w", Password: "x",
		MaxHashes: 1, HandshakeTimeout: time.Second, PID: 1 << 30}
	s := Run(context.Background(), cfg, nil)
	if c := s.Connections; c.Established != 0 || c.HandshakeFailed != 5 || c.Failed != 5 {
		t.Errorf("refused authorize: connections = %+v", c)
	}
	if s.Memory == nil || s.Memory.Note == "" {
		t.Errorf("memory of a missing pid = %+v, want a note", s.Memory)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cfg.Addr = dead
	s = Run(context.Background(), cfg, nil)
	if c := s.Connections; c.DialFailed != 5 || c.Established != 0 {
		t.Errorf("closed port: connections = %+v", c)
	}
}

func TestMain_Usage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"--conns", "0"}, &out, &errOut); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "--conns") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestMainJSON(t *testing.T) {
	leakCheck(t)
	_, addr := startServer(t, stratumproxy.ServerConfig{Difficulty: 1.0 / 4096, JobInterval: 100 * time.Millisecond})
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"--addr", addr, "--conns", "3", "--duration", "400ms",
		"--ramp", "0s", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var s Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	if s.Connections.Established != 3 || s.RlimitNofile.Soft == 0 {
		t.Errorf("summary = %+v", s)
	}
}
