// Package uart is the serial transport to a chain of hashing chips: a
// control board's UART, a USB-serial adapter on a USB stick miner, or the
// slave side of a pseudo-terminal with a chip emulator behind it. A Port
// implements hal.Chain over go.bug.st/serial: 8 data bits, no parity, one
// stop bit, no flow control, and any line rate the kernel accepts,
// including the non-standard ones BM13xx chips switch to (1 041 667,
// 1 562 500 and 3 125 000 baud, set through termios2 on Linux).
//
// Read waits at most the port's read timeout and returns (0, nil) when
// nothing arrived in time, as hal.Chain specifies.
//
// The wait uses select(2), which cannot watch a file descriptor numbered
// 1024 or higher. Open the chain ports early, before a proxy or pool client
// opens many sockets; Open refuses a port whose descriptors landed past the
// limit with an error wrapping ErrFDLimit rather than failing later.
package uart

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"

	"github.com/kilnfw/kiln/hal"
)

// DefaultReadTimeout is how long Read waits for the first byte before it
// returns (0, nil): long enough for a register reply at 115 200 baud
// (11 bytes take about 1 ms), short enough that a driver polling for
// nonces notices a stop request quickly.
const DefaultReadTimeout = 50 * time.Millisecond

// MaxFD is the highest file descriptor number select(2) can watch
// (FD_SETSIZE − 1).
const MaxFD = 1023

// ErrFDLimit reports that a port's file descriptor is above MaxFD, where
// the serial library's select(2)-based read cannot wait on it.
var ErrFDLimit = errors.New("file descriptor above select() limit of 1023; open serial ports before opening many sockets")

// ErrDisconnected reports that the device went away under an open port
// (a USB adapter unplugged, the master side of a pseudo-terminal closed).
var ErrDisconnected = errors.New("device disconnected")

// Port is an open serial line. It implements hal.Chain. One goroutine may
// Read while another Writes; Close may be called from any goroutine and
// wakes a waiting Read.
type Port struct {
	path   string
	sp     serial.Port
	closed atomic.Bool

	mu      sync.Mutex // guards baud and timeout
	baud    hal.Baud
	timeout time.Duration
}

var _ hal.Chain = (*Port)(nil)

// Open opens the serial device at path at the given line rate, 8N1 with no
// flow control and a read timeout of DefaultReadTimeout. The port is
// opened for exclusive use.
func Open(path string, baud hal.Baud) (*Port, error) {
	if baud == 0 {
		return nil, fmt.Errorf("uart: open %s: baud rate 0", path)
	}
	sp, err := serial.Open(path, mode(baud))
	if err != nil {
		return nil, fmt.Errorf("uart: open %s: %w", path, err)
	}
	if fd, ok := highestFD(sp); ok && fd > MaxFD {
		_ = sp.Close()
		return nil, fmt.Errorf("uart: open %s: fd %d: %w", path, fd, ErrFDLimit)
	}
	if err := sp.SetReadTimeout(DefaultReadTimeout); err != nil {
		_ = sp.Close()
		return nil, fmt.Errorf("uart: open %s: set read timeout: %w", path, err)
	}
	return &Port{path: path, sp: sp, baud: baud, timeout: DefaultReadTimeout}, nil
}

func mode(baud hal.Baud) *serial.Mode {
	return &serial.Mode{
		BaudRate: int(baud),
		DataBits: 8,
		Parity:   serial.NoParity,
		StopBits: serial.OneStopBit,
	}
}

// Path returns the device path the port was opened with.
func (p *Port) Path() string { return p.path }

// Baud returns the host side's current line rate.
func (p *Port) Baud() hal.Baud {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baud
}

// ReadTimeout returns how long Read waits for data.
func (p *Port) ReadTimeout() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.timeout
}

// SetReadTimeout sets how long Read waits for the first byte before it
// returns (0, nil). It must be positive: a chain driver needs Read to come
// back so it can notice cancellation. Call it while no Read is waiting.
func (p *Port) SetReadTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("uart: %s: read timeout %v must be positive", p.path, d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.sp.SetReadTimeout(d); err != nil {
		return fmt.Errorf("uart: %s: set read timeout: %w", p.path, err)
	}
	p.timeout = d
	return nil
}

// Read reads what has arrived, waiting at most the read timeout for the
// first byte. It returns (0, nil) when nothing arrived in time, an error
// wrapping os.ErrClosed after Close, and one wrapping ErrDisconnected when
// the device went away.
func (p *Port) Read(b []byte) (n int, err error) {
	if len(b) == 0 {
		return 0, nil
	}
	if p.closed.Load() {
		return 0, fmt.Errorf("uart: read %s: %w", p.path, os.ErrClosed)
	}
	defer func() {
		// The serial library indexes a fixed 1024-bit fd_set; Open checks
		// the descriptors, this only guards a library whose fields it
		// could not see.
		if r := recover(); r != nil {
			if _, ok := r.(runtime.Error); !ok {
				panic(r)
			}
			n, err = 0, fmt.Errorf("uart: read %s: %w", p.path, ErrFDLimit)
		}
	}()
	n, err = p.sp.Read(b)
	if err != nil {
		return n, p.readError(err)
	}
	return n, nil
}

func (p *Port) readError(err error) error {
	if portClosed(err) {
		if p.closed.Load() {
			return fmt.Errorf("uart: read %s: %w", p.path, os.ErrClosed)
		}
		return fmt.Errorf("uart: read %s: %w", p.path, ErrDisconnected)
	}
	return fmt.Errorf("uart: read %s: %w", p.path, err)
}

func portClosed(err error) bool {
	var pe *serial.PortError
	if errors.As(err, &pe) {
		return pe.Code() == serial.PortClosed
	}
	var pv serial.PortError
	return errors.As(err, &pv) && pv.Code() == serial.PortClosed
}

// Write writes all of b to the line. It returns once the kernel has taken
// the bytes; Drain waits until they have left.
func (p *Port) Write(b []byte) (int, error) {
	if p.closed.Load() {
		return 0, fmt.Errorf("uart: write %s: %w", p.path, os.ErrClosed)
	}
	total := 0
	for total < len(b) {
		n, err := p.sp.Write(b[total:])
		total += n
		if err != nil {
			return total, fmt.Errorf("uart: write %s: %w", p.path, err)
		}
		if n == 0 {
			return total, fmt.Errorf("uart: write %s: %w", p.path, io.ErrShortWrite)
		}
	}
	return total, nil
}

// SetBaud changes the host side's line rate. Call Drain first: bytes still
// in the transmit queue would go out at the new rate.
func (p *Port) SetBaud(baud hal.Baud) error {
	if baud == 0 {
		return fmt.Errorf("uart: %s: baud rate 0", p.path)
	}
	if p.closed.Load() {
		return fmt.Errorf("uart: set baud %s: %w", p.path, os.ErrClosed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.sp.SetMode(mode(baud)); err != nil {
		return fmt.Errorf("uart: set baud %d on %s: %w", baud, p.path, err)
	}
	p.baud = baud
	return nil
}

// Drain waits until everything written has been transmitted (tcdrain).
func (p *Port) Drain() error {
	if p.closed.Load() {
		return fmt.Errorf("uart: drain %s: %w", p.path, os.ErrClosed)
	}
	if err := p.sp.Drain(); err != nil {
		return fmt.Errorf("uart: drain %s: %w", p.path, err)
	}
	return nil
}

// ResetInput discards whatever has been received and not yet read.
func (p *Port) ResetInput() error {
	if p.closed.Load() {
		return fmt.Errorf("uart: reset input %s: %w", p.path, os.ErrClosed)
	}
	if err := p.sp.ResetInputBuffer(); err != nil {
		return fmt.Errorf("uart: reset input %s: %w", p.path, err)
	}
	return nil
}

// Close closes the port; a Read waiting on it returns an error wrapping
// os.ErrClosed. Closing twice is not an error.
func (p *Port) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	if err := p.sp.Close(); err != nil {
		return fmt.Errorf("uart: close %s: %w", p.path, err)
	}
	return nil
}

// highestFD returns the highest file descriptor the serial library holds
// for sp: the device itself and the pipe it uses to interrupt a waiting
// Read. It reads the library's unexported fields (go.bug.st/serial v1.8.0
// on Unix); ok is false where they are not there.
func highestFD(sp serial.Port) (fd int, ok bool) {
	fds := portFDs(sp)
	if len(fds) == 0 {
		return 0, false
	}
	fd = fds[0]
	for _, f := range fds[1:] {
		fd = max(fd, f)
	}
	return fd, true
}

func portFDs(sp serial.Port) []int {
	v := reflect.ValueOf(sp)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	var fds []int
	if h, ok := intField(v.Elem(), "handle"); ok {
		fds = append(fds, h)
	}
	pipe := v.Elem().FieldByName("closeSignal")
	if pipe.IsValid() && pipe.Kind() == reflect.Pointer && !pipe.IsNil() && pipe.Elem().Kind() == reflect.Struct {
		for _, name := range []string{"rd", "wr"} {
			if f, ok := intField(pipe.Elem(), name); ok {
				fds = append(fds, f)
			}
		}
	}
	return fds
}

func intField(v reflect.Value, name string) (int, bool) {
	f := v.FieldByName(name)
	if !f.IsValid() {
		return 0, false
	}
	switch f.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return int(f.Int()), true
	case reflect.Uint, reflect.Uint32, reflect.Uintptr:
		return int(f.Uint()), true
	}
	return 0, false
}
