package sim

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.bug.st/serial"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list fds: %v", err)
	}
	return len(ents)
}

// driverPort opens a chain's slave path the way the driver opens a UART.
func driverPort(t *testing.T, path string) serial.Port {
	t.Helper()
	p, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if err := p.SetReadTimeout(20 * time.Millisecond); err != nil {
		t.Fatalf("read timeout: %v", err)
	}
	return p
}

// replies sends a command and collects register replies until want came
// or a second passed.
func replies(t *testing.T, p serial.Port, long bool, want int, cmds ...bm13xx.Command) []bm13xx.Response {
	t.Helper()
	for _, c := range cmds {
		if _, err := p.Write(c.Encode()); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	rr := bm13xx.NewResponseReader(p, long)
	var out []bm13xx.Response
	deadline := time.Now().Add(time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		r, err := rr.Next()
		if errors.Is(err, bm13xx.ErrNoData) {
			continue
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !r.Nonce {
			out = append(out, r)
		}
	}
	return out
}

func TestTwoChainsEnumerateAndCloseCleanly(t *testing.T) {
	before := openFDs(t)
	b, err := Start(t.Context(), BoardConfig{Model: bm13xx.BM1366, Chains: 2, ChipsPerChain: 3, ScaleDown: 1e6})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	paths := b.SerialPaths()
	if len(paths) != 2 || paths[0] == paths[1] {
		t.Fatalf("serial paths %q, want two distinct", paths)
	}
	addrs := bm13xx.Addresses(3)
	for i, path := range paths {
		if !strings.HasPrefix(path, "/dev/pts/") {
			t.Errorf("chain %d path %q, want /dev/pts/N", i, path)
		}
		p := driverPort(t, path)
		got := replies(t, p, false, 3, bm13xx.ReadAll(bm13xx.RegChipID))
		if len(got) != 3 {
			t.Fatalf("chain %d: %d chips answered, want 3", i, len(got))
		}
		for _, r := range got {
			if r.Value() != 0x13660000 {
				t.Errorf("chain %d: chip id %08x, want 13660000", i, r.Value())
			}
		}
		// Address, switch to the fast rate (the pty takes any rate,
		// including one only BOTHER can express), and read back per chip.
		cmds := []bm13xx.Command{bm13xx.ChainInactive()}
		for _, a := range addrs {
			cmds = append(cmds, bm13xx.SetAddress(a))
		}
		reg, val, err := bm13xx.FastUARTReg(bm13xx.BM1366, 1000000)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, bm13xx.WriteAll(reg, val))
		replies(t, p, false, 0, cmds...)
		for _, baud := range []int{1000000, 3125000} {
			if err := p.SetMode(&serial.Mode{BaudRate: baud}); err != nil {
				t.Fatalf("chain %d: set %d baud on %s: %v", i, baud, path, err)
			}
		}
		for _, a := range addrs {
			got := replies(t, p, false, 1, bm13xx.ReadChip(a, bm13xx.RegChipID))
			if len(got) != 1 || got[0].B6 != a || got[0].Value() != 0x13660000|uint32(a) {
				t.Errorf("chain %d: read chip %02x: %v", i, a, got)
			}
		}
		if err := p.Close(); err != nil {
			t.Errorf("close port: %v", err)
		}
		// The line stays up for a driver that reopens it.
		p = driverPort(t, path)
		if got := replies(t, p, false, 1, bm13xx.ReadChip(addrs[1], bm13xx.RegChipID)); len(got) != 1 || got[0].B6 != addrs[1] {
			t.Errorf("chain %d after reopening: %v", i, got)
		}
		p.Close()
		if st := b.Emulator(i).Chips(); st[2].Address != addrs[2] || st[2].Baud != 1041666 {
			t.Errorf("chain %d: last chip %+v", i, st[2])
		}
	}
	if err := b.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	goleak.VerifyNone(t)
	if after := openFDs(t); after != before {
		t.Errorf("%d open fds after Close, %d before", after, before)
	}
}

func TestContextEndStopsBoard(t *testing.T) {
	before := openFDs(t)
	ctx, cancel := context.WithCancel(t.Context())
	b, err := Start(ctx, BoardConfig{Model: bm13xx.BM1397, Chains: 1, ChipsPerChain: 2})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// A driver is blocked reading when the board goes away.
	p := driverPort(t, b.SerialPaths()[0])
	if err := p.SetReadTimeout(serial.NoTimeout); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := p.Read(buf); err != nil {
				readDone <- err
				return
			}
		}
	}()
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close after ctx end: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("board did not stop within 5 s of ctx ending")
	}
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
		t.Fatal("driver read still blocked 5 s after the board stopped")
	}
	p.Close()
	goleak.VerifyNone(t)
	if after := openFDs(t); after != before {
		t.Errorf("%d open fds after Close, %d before", after, before)
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestDevices(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	b, err := Start(t.Context(), BoardConfig{Model: bm13xx.BM1366, Chains: 2, ChipsPerChain: 2, Now: clk.Now})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer b.Close()

	reg := b.Regulator(1)
	if v, _ := reg.Voltage(); v != 1200*physic.MilliVolt {
		t.Errorf("initial voltage %s, want 1.2V", v)
	}
	if err := reg.SetVoltage(1100 * physic.MilliVolt); err != nil {
		t.Fatalf("SetVoltage: %v", err)
	}
	if v := b.Emulator(1).Chips()[0].VoltageMV; v != 1100 {
		t.Errorf("emulator voltage %v mV, want 1100", v)
	}
	if v := b.Emulator(0).Chips()[0].VoltageMV; v != 1200 {
		t.Errorf("other chain's voltage %v mV, want 1200", v)
	}
	if err := reg.SetVoltage(3 * physic.Volt); !errors.Is(err, ErrRange) {
		t.Errorf("SetVoltage(3V): %v, want ErrRange", err)
	}

	// Reset clock 50 MHz at 1.2 V: the die settles at ambient + k·f·V²,
	// scaled by the fan's cooling factor.
	temp := func() float64 {
		tc, err := b.TempSensor(0).Temperature()
		if err != nil {
			t.Fatalf("Temperature: %v", err)
		}
		return tc.Celsius()
	}
	if c := temp(); math.Abs(c-25) > 0.01 {
		t.Errorf("cold board %.2f °C, want 25", c)
	}
	mhz := b.Emulator(0).Chips()[0].FrequencyMHz
	for _, duty := range []float64{DefaultFanDuty, 100, 0} {
		if err := b.Fan().SetDuty(duty); err != nil {
			t.Fatalf("SetDuty(%v): %v", duty, err)
		}
		clk.Advance(time.Minute)
		want := 25 + 0.05*CoolingFactor(duty)*mhz*1.44
		if c := temp(); math.Abs(c-want) > 0.05 {
			t.Errorf("duty %v%%: %.2f °C, want %.2f", duty, c, want)
		}
		rpm, err := b.Fan().RPM()
		if err != nil || math.Abs(float64(rpm)-duty*RPMPerPercent) > 0.011*duty*RPMPerPercent {
			t.Errorf("duty %v%%: %d rpm (%v), want %v ± 1%%", duty, rpm, err, duty*RPMPerPercent)
		}
	}
	for _, bad := range []float64{-1, 101, math.NaN()} {
		if err := b.Fan().SetDuty(bad); !errors.Is(err, ErrRange) {
			t.Errorf("SetDuty(%v): %v, want ErrRange", bad, err)
		}
	}
	if b.TempSensor(2) != nil || b.Regulator(-1) != nil || b.Emulator(5) != nil {
		t.Error("out-of-range chain gave a device")
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	before := openFDs(t)
	for _, cfg := range []BoardConfig{
		{Model: bm13xx.BM1366, Chains: 0, ChipsPerChain: 1},
		{Model: bm13xx.BM1366, Chains: MaxChains + 1, ChipsPerChain: 1},
		{Model: bm13xx.BM1366, Chains: 2, ChipsPerChain: 0},
		{Model: bm13xx.Model{Name: "x"}, Chains: 1, ChipsPerChain: 1},
	} {
		if b, err := Start(t.Context(), cfg); err == nil {
			b.Close()
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d open fds after failed starts, %d before", after, before)
	}
}
