package webui

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// blockingStatus blocks in Summary until release is closed, reporting on
// entered when a request is inside.
type blockingStatus struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStatus) Summary() Summary {
	b.entered <- struct{}{}
	<-b.release
	return Summary{Accepted: 1}
}

func (b *blockingStatus) Pools() []Pool { return nil }

// serveOn runs Serve on a fresh loopback listener and returns the base URL
// and a channel with Serve's result.
func serveOn(t *testing.T, ctx context.Context, s *Server) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), done
}

func waitServe(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
		return nil
	}
}

func TestServeStopsGracefully(t *testing.T) {
	defer goleak.VerifyNone(t)
	st := &blockingStatus{entered: make(chan struct{}), release: make(chan struct{})}
	s := New(Config{Status: st, CheckPassword: func(pw string) bool { return pw == testPassword }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := serveOn(t, ctx, s)
	client := clientFrom(t, "127.0.0.1")
	defer client.Transport.(*http.Transport).CloseIdleConnections()

	resp, err := client.Get(base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", resp.StatusCode)
	}

	// A request in flight when ctx ends still gets its answer.
	type result struct {
		status int
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/summary", nil)
		req.SetBasicAuth("admin", testPassword)
		resp, err := client.Do(req)
		if err != nil {
			inflight <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		inflight <- result{status: resp.StatusCode}
	}()
	<-st.entered
	cancel()
	close(st.release)
	if r := <-inflight; r.err != nil || r.status != http.StatusOK {
		t.Errorf("in-flight request: status %d, err %v", r.status, r.err)
	}
	if err := waitServe(t, done); err != nil {
		t.Errorf("Serve after cancel = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", base[len("http://"):], time.Second); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	s := New(Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = s.Serve(context.Background(), ln)
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed listener = %v, want an error wrapping net.ErrClosed", err)
	}
}
