package emulator

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.uber.org/goleak"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/hal/pty"
)

// host is the test's side of a chain behind a real pseudo-terminal: the
// slave opened with go.bug.st/serial, as the driver opens /dev/ttyS1.
type host struct {
	t    *testing.T
	m    bm13xx.Model
	port serial.Port
	rr   *bm13xx.ResponseReader
}

// openMaster opens a pseudo-terminal and returns its master as a pollable
// file in raw mode (so Serve can release a blocked read), the slave the
// test keeps open, and the slave's path.
func openMaster(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// startChain builds a chain, serves it on a fresh pseudo-terminal and
// opens the slave like a driver. Cleanup stops everything.
func startChain(t *testing.T, cfg Config) (*Chain, *host) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	master, slave := openMaster(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, master) }()
	port, err := serial.Open(slave.Name(), &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("open %s: %v", slave.Name(), err)
	}
	if err := port.SetReadTimeout(20 * time.Millisecond); err != nil {
		t.Fatalf("read timeout: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		port.Close()
		master.Close()
		slave.Close()
	})
	h := &host{t: t, m: cfg.Model, port: port, rr: bm13xx.NewResponseReader(port, false)}
	return c, h
}

// send writes frames to the chain.
func (h *host) send(frames ...[]byte) {
	h.t.Helper()
	for _, f := range frames {
		if _, err := h.port.Write(f); err != nil {
			h.t.Fatalf("write: %v", err)
		}
	}
}

// cmd encodes and sends commands.
func (h *host) cmd(cmds ...bm13xx.Command) {
	h.t.Helper()
	for _, c := range cmds {
		h.send(c.Encode())
	}
}

// setLong switches the reader between 9- and 11-byte frames.
func (h *host) setLong(long bool) { h.rr.SetLong(long) }

// collect reads responses until want of them satisfied keep, or d passed.
// Responses keep rejects are dropped.
func (h *host) collect(d time.Duration, want int, keep func(bm13xx.Response) bool) []bm13xx.Response {
	h.t.Helper()
	var out []bm13xx.Response
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && (want <= 0 || len(out) < want) {
		r, err := h.rr.Next()
		if errors.Is(err, bm13xx.ErrNoData) {
			continue
		}
		if err != nil {
			h.t.Fatalf("read: %v", err)
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// registers keeps register replies only.
func registers(r bm13xx.Response) bool { return !r.Nonce }

// readRaw reads raw bytes until n arrived or d passed.
func (h *host) readRaw(n int, d time.Duration) []byte {
	h.t.Helper()
	var out []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(d)
	for len(out) < n && time.Now().Before(deadline) {
		k, err := h.port.Read(buf)
		if err != nil {
			h.t.Fatalf("read: %v", err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

// drain discards what arrives for d.
func (h *host) drain(d time.Duration) {
	h.readRaw(1<<30, d)
}

// address sends chain inactive and one set-address per address, then
// waits until a broadcast read of 0x00 is answered from every address, so
// that the chain has applied them.
func (h *host) address(addrs []byte) {
	h.t.Helper()
	h.cmd(bm13xx.ChainInactive())
	for _, a := range addrs {
		h.cmd(bm13xx.SetAddress(a))
	}
	h.cmd(bm13xx.ReadAll(bm13xx.RegChipID))
	got := h.collect(time.Second, len(addrs), registers)
	for i, r := range got {
		if r.B6 != addrs[i] {
			h.t.Fatalf("after addressing, reply %d from %02x, want %02x", i, r.B6, addrs[i])
		}
	}
	if len(got) != len(addrs) {
		h.t.Fatalf("after addressing, %d replies, want %d", len(got), len(addrs))
	}
}

// equalBytes reports whether b is want repeated n times.
func repeated(b, want []byte, n int) bool { return bytes.Equal(b, bytes.Repeat(want, n)) }

// serialMode1M is the fast line rate BM1366+ drivers switch to.
var serialMode1M = serial.Mode{BaudRate: 1000000}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
