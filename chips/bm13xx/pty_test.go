package bm13xx_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/chips/emulator"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/hal/pty"
	"github.com/kilnfw/kiln/mining"
)

// serialPort adapts a go.bug.st/serial port to bm13xx.Port.
type serialPort struct{ serial.Port }

func (p serialPort) SetBaud(b hal.Baud) error {
	return p.SetMode(&serial.Mode{BaudRate: int(b), DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}
func (p serialPort) ResetInput() error { return p.ResetInputBuffer() }

// rawMaster opens a pseudo-terminal and returns its master as a pollable
// raw-mode file (so the emulator can release its blocked read) and the
// slave, which the test keeps open.
func rawMaster(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := pty.OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// TestDriverAgainstEmulator runs the driver against the chip emulator
// behind a real pseudo-terminal, opened with the serial library the
// controller uses: enumeration, addressing, clock, baud, jobs, and nonces
// that verify on the host.
func TestDriverAgainstEmulator(t *testing.T) {
	cases := []struct {
		model bm13xx.Model
		chips int
		work  *mining.Dispatcher
	}{
		{bm13xx.BM1366, 4, mining.NewDispatcher(nil, mining.UnitsRollVersion())},
		{bm13xx.BM1397, 2, mining.NewDispatcher(nil)},
	}
	for _, c := range cases {
		t.Run(c.model.Name, func(t *testing.T) { runAgainstEmulator(t, c.model, c.chips, c.work) })
	}
}

// ptyRig is the driver and the emulator joined by a real pseudo-terminal.
type ptyRig struct {
	emu     *emulator.Chain
	chain   *bm13xx.Chain
	v       *mining.Validator
	results chan struct{}

	mu      sync.Mutex
	hw      int
	perUnit map[int]int
}

// startPTYRig runs the emulator on a pty master and the driver on the slave,
// opened with the serial library the controller uses; both stop at cleanup.
func startPTYRig(t *testing.T, m bm13xx.Model, chips int, d *mining.Dispatcher) *ptyRig {
	t.Helper()
	emu, err := emulator.New(emulator.Config{Model: m, Chips: chips, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	master, slave := rawMaster(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := emu.Serve(ctx, master); err != nil {
			t.Errorf("emulator: %v", err)
		}
	})
	r := &ptyRig{emu: emu, v: mining.NewValidator(nil, nil), results: make(chan struct{}, 4096), perUnit: map[int]int{}}
	r.chain, err = bm13xx.NewChain(bm13xx.ChainConfig{
		Index: 1, Model: m, ExpectedChips: chips, FrequencyMHz: ptyMHz,
		Difficulty: 1.0 / 65536, // about 7 nonces/s per chip at this clock
		Open: func() (bm13xx.Port, error) {
			p, err := serial.Open(slave.Name(), &serial.Mode{BaudRate: 115200})
			if err != nil {
				return nil, err
			}
			if err := p.SetReadTimeout(10 * time.Millisecond); err != nil {
				p.Close()
				return nil, err
			}
			return serialPort{p}, nil
		},
		Work:     d,
		Results:  r.result,
		RampStep: time.Millisecond, EnumerateWait: 100 * time.Millisecond,
		PollInterval: 200 * time.Millisecond, JobInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		if err := r.chain.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		master.Close()
		slave.Close()
	})
	d.SetJob(ptyJob())
	return r
}

// ptyMHz is the clock the rigs run their chips at.
const ptyMHz = 62.5

// result is the rig's host: the validator's verdict, counted per unit.
func (r *ptyRig) result(res mining.Result) error {
	_, err := r.v.Check(res)
	r.mu.Lock()
	if err != nil && !errors.Is(err, mining.ErrDuplicate) {
		r.hw++
	}
	r.perUnit[res.Unit]++
	r.mu.Unlock()
	r.results <- struct{}{}
	return err
}

// waitNonces waits until at least n more nonces arrived and cond holds.
func (r *ptyRig) waitNonces(t *testing.T, n int, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for i := 0; ; i++ {
		r.mu.Lock()
		done := i >= n && cond()
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-r.results:
		case <-deadline:
			t.Fatalf("timed out waiting for %s: heard from %v; status %+v", what, r.perUnit, r.chain.Status())
		}
	}
}

func runAgainstEmulator(t *testing.T, m bm13xx.Model, chips int, d *mining.Dispatcher) {
	r := startPTYRig(t, m, chips, d)
	r.waitNonces(t, 20, "nonces from every chip", func() bool { return len(r.perUnit) == chips })

	st := r.chain.Status()
	if st.State != bm13xx.StateMining || len(st.Chips) != chips || st.Reinits != 0 {
		t.Fatalf("status %+v", st)
	}
	r.mu.Lock()
	if r.hw != 0 || st.HWErrors != 0 {
		t.Errorf("HW errors: validator %d, driver %d", r.hw, st.HWErrors)
	}
	r.mu.Unlock()
	if s := r.v.Stats(); s.HWErrors != 0 || s.Results == 0 {
		t.Errorf("validator stats %+v", s)
	}
	addrs := bm13xx.Addresses(chips)
	fastReg, fastVal, _ := bm13xx.FastUARTReg(m, m.DefaultFastBaud)
	wantBaud, _ := bm13xx.UARTBaud(m, fastReg, fastVal)
	for i, cs := range r.emu.Chips() {
		if cs.Address != addrs[i] || cs.FrequencyMHz != ptyMHz || cs.Baud != wantBaud || cs.LongReplies != m.HardwareRolling {
			t.Errorf("emulated chip %d: address %02x, %v MHz, %d baud, long %v", i, cs.Address, cs.FrequencyMHz, cs.Baud, cs.LongReplies)
		}
		if st.Chips[i].Address != addrs[i] || st.Chips[i].Nonces == 0 || !st.Chips[i].Responding {
			t.Errorf("driver chip %d: %+v", i, st.Chips[i])
		}
		if cs.HWErrors != 0 {
			t.Errorf("emulated chip %d corrupted %d nonces", i, cs.HWErrors)
		}
	}
}

// ptyJob is a pool job with a version mask.
func ptyJob() *mining.Job {
	j := &mining.Job{
		ID: "pty", Coinb1: []byte("coinbase one"), Coinb2: []byte("coinbase two"),
		Version: 0x20000000, NBits: 0x1705ae3a, NTime: uint32(time.Now().Unix()), Clean: true,
		Extranonce1: []byte{0xf0, 0, 0, 0x0f}, Extranonce2Size: 4, VersionMask: 0x1fffe000,
		Difficulty: 1e6, ShareTarget: mining.MustTarget(1e6), Received: time.Now(),
	}
	copy(j.PrevHash[:], "a previous block hash of 32 byte")
	return j
}
