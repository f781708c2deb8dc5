package stratumproxy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// srvSinkSource is a demo source that records accepted shares, announces
// jobs on a channel, and can be made to panic on a share.
type srvSinkSource struct {
	*DemoSource
	changed chan struct{}
	panicky bool

	mu     sync.Mutex
	shares []ServerShare
}

func (s *srvSinkSource) JobsChanged() <-chan struct{} { return s.changed }

func (s *srvSinkSource) Share(sh ServerShare) {
	if s.panicky {
		panic("sink exploded")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shares = append(s.shares, sh)
}

func TestServerSourceHooks(t *testing.T) {
	srvLeakCheck(t)
	src := &srvSinkSource{DemoSource: NewDemoSource(), changed: make(chan struct{})}
	_, addr := srvStart(t, ServerConfig{Source: src, Difficulty: srvTestDiff})
	c := srvDial(t, addr)
	_, job := c.handshake("w")

	// A signal from the source sends a new job.
	src.changed <- struct{}{}
	next := c.nextNotify()
	if next.JobID == job.JobID || next.Clean {
		t.Fatalf("job after signal %+v", next)
	}
	en2 := []byte{5, 5, 5, 5}
	nonce := srvMine(t, next, c.en1, en2, next.Version, srvTestDiff, true)
	srvWantAccept(t, c.submit("w", next.JobID, en2, next.NTime, nonce))
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.shares) != 1 {
		t.Fatalf("sink got %d shares", len(src.shares))
	}
	sh := src.shares[0]
	if sh.Worker != "w" || sh.JobID != next.JobID || !strings.HasPrefix(sh.SourceJobID, "900001.") ||
		!bytes.Equal(sh.Extranonce1, c.en1) || !bytes.Equal(sh.Extranonce2, en2) || sh.Nonce != nonce {
		t.Errorf("share %+v", sh)
	}
}

// TestServerRecoversPanic checks a panic while handling a line closes only
// that connection.
func TestServerRecoversPanic(t *testing.T) {
	srvLeakCheck(t)
	var logs srvSyncBuffer
	src := &srvSinkSource{DemoSource: NewDemoSource(), panicky: true}
	_, addr := srvStart(t, ServerConfig{Source: src, Difficulty: srvTestDiff,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	c := srvDial(t, addr)
	_, job := c.handshake("w")
	en2 := []byte{5, 5, 5, 5}
	nonce := srvMine(t, job, c.en1, en2, job.Version, srvTestDiff, true)
	line := EncodeSubmit(1, Submit{Worker: "w", JobID: job.JobID, Extranonce2: en2, NTime: job.NTime, Nonce: nonce})
	c.send(strings.TrimSuffix(string(line), "\n"))
	c.expectClosed()
	d := srvDial(t, addr)
	if r := DecodeReply(d.call(MethodPing)); string(r.Result) != `"pong"` {
		t.Errorf("server after panic: %+v", r)
	}
	if !strings.Contains(logs.String(), "sink exploded") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
}

type srvFailSource struct{}

func (srvFailSource) Job(JobRequest) (Notify, error) { return Notify{}, errors.New("no template") }

func TestNewServerChecksConfig(t *testing.T) {
	for name, cfg := range map[string]ServerConfig{
		"source fails":          {Source: srvFailSource{}},
		"extranonce2 too small": {Extranonce2Size: 1},
		"extranonce2 too big":   {Extranonce2Size: 17},
		"extranonce1 too big":   {Extranonce1Size: 9},
		"difficulty NaN":        {Difficulty: math.NaN()},
		"difficulty negative":   {Difficulty: -1},
		"min difficulty":        {MinDifficulty: -1},
		"max conns":             {MaxConns: -1},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("%s: NewServer accepted %+v", name, cfg)
		}
	}
}

// TestServerListenerClosed checks Serve reports a listener that fails
// under it, and still cleans up.
func TestServerListenerClosed(t *testing.T) {
	srvLeakCheck(t)
	s, err := NewServer(ServerConfig{JobInterval: -1, BlockInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	c := srvDial(t, ln.Addr().String())
	c.call(MethodPing)
	_ = ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve = %v, want a closed listener error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	c.expectClosed()
}

func TestServerProtocolLog(t *testing.T) {
	srvLeakCheck(t)
	var logs srvSyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, addr := srvStart(t, ServerConfig{ProtocolLog: true, Log: log})
	c := srvDial(t, addr)
	c.call(MethodSubscribe, "srv-test/1")
	c.call(MethodAuthorize, "w", "s3cret")
	c.nextDifficulty()
	c.nextNotify()
	out := logs.String()
	for _, want := range []string{"stratum in", "stratum out", "mining.subscribe", "mining.notify"} {
		if !strings.Contains(out, want) {
			t.Errorf("protocol log lacks %q", want)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Error("protocol log shows the password")
	}
}

// srvSyncBuffer is a bytes.Buffer safe for a logger and a test to share.
type srvSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *srvSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *srvSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
