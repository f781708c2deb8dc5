package uart

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
	"go.bug.st/serial"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/kilnfw/kiln/hal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a pseudo-terminal pair: the test plays the chain on the master,
// the Port under test holds the slave. tty is the test's own handle on
// the slave, used only to inspect the line's termios and queue.
type rig struct {
	master *os.File
	tty    *os.File
	port   *Port
}

func newRig(t *testing.T, baud hal.Baud) *rig {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	t.Cleanup(func() { master.Close(); tty.Close() })
	port, err := Open(tty.Name(), baud)
	if err != nil {
		t.Fatalf("Open(%s): %v", tty.Name(), err)
	}
	t.Cleanup(func() { port.Close() })
	return &rig{master: master, tty: tty, port: port}
}

// readN reads from the port until n bytes arrived or the deadline passed.
func (r *rig) readN(t *testing.T, n int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 64)
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		k, err := r.port.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// masterReadN reads n bytes from the master side with a deadline.
func (r *rig) masterReadN(t *testing.T, n int) []byte {
	t.Helper()
	if err := r.master.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	got := make([]byte, n)
	off := 0
	for off < n {
		k, err := r.master.Read(got[off:])
		if err != nil {
			t.Fatalf("master read after %d bytes: %v", off, err)
		}
		off += k
	}
	return got
}

// pending is how many received bytes wait in the slave's input queue.
func (r *rig) pending(t *testing.T) int {
	t.Helper()
	n, err := unix.IoctlGetInt(int(r.tty.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatalf("TIOCINQ: %v", err)
	}
	return n
}

// waitPending polls (bounded) until the kernel has moved at least n bytes
// from the master into the slave's input queue.
func (r *rig) waitPending(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for r.pending(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("input queue holds %d bytes, want %d", r.pending(t), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadWrite(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	// Chain to host: a BM1366 chip-id reply.
	reply := []byte{0xaa, 0x55, 0x13, 0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1c}
	if _, err := r.master.Write(reply); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(reply, r.readN(t, len(reply))); diff != "" {
		t.Errorf("read (-want +got):\n%s", diff)
	}
	// Host to chain: a broadcast read of register 0x00.
	cmd := []byte{0x55, 0xaa, 0x52, 0x05, 0x00, 0x00, 0x0a}
	n, err := r.port.Write(cmd)
	if err != nil || n != len(cmd) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := r.port.Drain(); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if diff := cmp.Diff(cmd, r.masterReadN(t, len(cmd))); diff != "" {
		t.Errorf("master got (-want +got):\n%s", diff)
	}
}

func TestSetBaud(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	rates := []hal.Baud{1000000, 1041667, 1562500, 3125000, 115200}
	for _, rate := range rates {
		if err := r.port.SetBaud(rate); err != nil {
			t.Fatalf("SetBaud(%d): %v", rate, err)
		}
		tio, err := unix.IoctlGetTermios(int(r.tty.Fd()), unix.TCGETS2)
		if err != nil {
			t.Fatalf("TCGETS2: %v", err)
		}
		if tio.Ospeed != uint32(rate) || tio.Ispeed != uint32(rate) {
			t.Errorf("after SetBaud(%d): line speed in %d out %d", rate, tio.Ispeed, tio.Ospeed)
		}
		if tio.Cflag&unix.CSIZE != unix.CS8 || tio.Cflag&(unix.PARENB|unix.CSTOPB|unix.CRTSCTS) != 0 {
			t.Errorf("after SetBaud(%d): cflag %#o is not 8N1 without flow control", rate, tio.Cflag)
		}
		if r.port.Baud() != rate {
			t.Errorf("Baud() = %d, want %d", r.port.Baud(), rate)
		}
		// The line still carries data both ways.
		msg := []byte{0x55, 0xaa, byte(rate)}
		if _, err := r.port.Write(msg); err != nil {
			t.Fatal(err)
		}
		if got := r.masterReadN(t, len(msg)); !bytes.Equal(got, msg) {
			t.Errorf("at %d baud master got % x, want % x", rate, got, msg)
		}
	}
	if err := r.port.SetBaud(0); err == nil {
		t.Error("SetBaud(0) succeeded")
	}
}

func TestResetInput(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	if err := r.port.SetReadTimeout(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := r.master.Write([]byte("stale reply")); err != nil {
		t.Fatal(err)
	}
	r.waitPending(t, len("stale reply"))
	if err := r.port.ResetInput(); err != nil {
		t.Fatalf("ResetInput: %v", err)
	}
	if n := r.pending(t); n != 0 {
		t.Errorf("after ResetInput %d bytes still queued", n)
	}
	buf := make([]byte, 32)
	if n, err := r.port.Read(buf); n != 0 || err != nil {
		t.Errorf("Read after ResetInput = %d %q, %v; want 0, nil", n, buf[:n], err)
	}
	if _, err := r.master.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	if got := r.readN(t, 2); string(got) != "ok" {
		t.Errorf("read %q after reset, want %q", got, "ok")
	}
}

func TestReadTimeout(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	if got := r.port.ReadTimeout(); got != DefaultReadTimeout {
		t.Errorf("default timeout %v, want %v", got, DefaultReadTimeout)
	}
	const d = 20 * time.Millisecond
	if err := r.port.SetReadTimeout(d); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := r.port.Read(make([]byte, 8))
	took := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("Read on a silent line = %d, %v; want 0, nil", n, err)
	}
	if took < d || took > time.Second {
		t.Errorf("Read waited %v, want about %v", took, d)
	}
	if n, err := r.port.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v", n, err)
	}
	for _, bad := range []time.Duration{0, -time.Second} {
		if err := r.port.SetReadTimeout(bad); err == nil {
			t.Errorf("SetReadTimeout(%v) succeeded", bad)
		}
	}
}

func TestClose(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	if err := r.port.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.port.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.port.Read(make([]byte, 4)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want os.ErrClosed", err)
	}
	if _, err := r.port.Write([]byte{1}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
	for name, f := range map[string]func() error{
		"SetBaud":    func() error { return r.port.SetBaud(hal.Baud1M) },
		"Drain":      r.port.Drain,
		"ResetInput": r.port.ResetInput,
	} {
		if err := f(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s after Close: %v, want os.ErrClosed", name, err)
		}
	}
}

func TestCloseWakesRead(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	if err := r.port.SetReadTimeout(time.Hour); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.port.Read(make([]byte, 4))
		done <- err
	}()
	r.port.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("waiting Read returned %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a waiting Read")
	}
}

func TestDisconnect(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	r.master.Close()
	_, err := r.port.Read(make([]byte, 4))
	if err == nil {
		t.Fatal("Read after the master closed succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "not-a-tty")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	for _, tc := range []struct {
		name string
		path string
		baud hal.Baud
	}{
		{"missing device", filepath.Join(dir, "ttyUSB9"), hal.Baud115200},
		{"regular file", plain, hal.Baud115200},
		{"zero baud", tty.Name(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(tc.path, tc.baud)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.path)) {
				t.Errorf("error %q does not name %s", err, tc.path)
			}
		})
	}
}

func TestPortFDs(t *testing.T) {
	r := newRig(t, hal.Baud115200)
	fds := portFDs(r.port.sp)
	if len(fds) != 3 {
		t.Fatalf("found %d descriptors (%v) in the serial port, want device + pipe = 3", len(fds), fds)
	}
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fds[0]))
	if err != nil {
		t.Fatal(err)
	}
	if link != r.tty.Name() {
		t.Errorf("device fd %d is %s, want %s", fds[0], link, r.tty.Name())
	}
}

// fillFDs opens /dev/null until the next descriptor is past MaxFD.
func fillFDs(t *testing.T) {
	t.Helper()
	var filler []*os.File
	t.Cleanup(func() {
		for _, f := range filler {
			f.Close()
		}
	})
	for range 1100 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatalf("fill descriptor table: %v", err)
		}
		filler = append(filler, f)
		if f.Fd() > MaxFD {
			return
		}
	}
	t.Fatal("descriptor table did not reach 1024")
}

// TestFDLimit fills the descriptor table below 1024 so the port's own
// descriptors land above it: Open must refuse with ErrFDLimit instead of
// handing back a port whose Read would fault.
func TestFDLimit(t *testing.T) {
	_, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	fillFDs(t)
	p, err := Open(tty.Name(), hal.Baud115200)
	if err == nil {
		p.Close()
		t.Fatal("Open with descriptors past 1023 succeeded")
	}
	if !errors.Is(err, ErrFDLimit) {
		t.Errorf("Open: %v, want ErrFDLimit", err)
	}
}

// TestReadFDFault is the guard behind Open's check: a port the library
// opened past the limit faults inside its select() wrapper, and Read turns
// that into ErrFDLimit instead of crashing the controller.
func TestReadFDFault(t *testing.T) {
	_, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	fillFDs(t)
	sp, err := serial.Open(tty.Name(), mode(hal.Baud115200))
	if err != nil {
		t.Fatal(err)
	}
	p := &Port{path: tty.Name(), sp: sp}
	defer p.Close()
	if err := p.SetReadTimeout(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(make([]byte, 4)); !errors.Is(err, ErrFDLimit) {
		t.Errorf("Read on a descriptor past 1023: %v, want ErrFDLimit", err)
	}
}
