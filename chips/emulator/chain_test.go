package emulator

import (
	"bytes"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/mining"
)

// fakeClock is a settable clock for the heat model.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// newTestChain returns a chain driven directly through handleFrame, without
// a line.
func newTestChain(t *testing.T, cfg Config) *Chain {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// feed applies commands as if they arrived on the line.
func feed(c *Chain, cmds ...bm13xx.Command) {
	for _, cmd := range cmds {
		c.handleFrame(cmd.Encode())
	}
}

// queued decodes the responses waiting in the output queue.
func queued(t *testing.T, c *Chain) []bm13xx.Response {
	t.Helper()
	var out []bm13xx.Response
	for {
		select {
		case it := <-c.out:
			r, err := bm13xx.DecodeResponse(it.b)
			if err != nil {
				t.Fatalf("queued frame % x: %v", it.b, err)
			}
			out = append(out, r)
		default:
			return out
		}
	}
}

// senders returns b6 of each response.
func senders(rs []bm13xx.Response) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, r.B6)
	}
	return b
}

func TestChainInactiveBlocksRelay(t *testing.T) {
	c := newTestChain(t, Config{Model: bm13xx.BM1366, Chips: 4})
	feed(c, bm13xx.ReadAll(bm13xx.RegChipID))
	if got := senders(queued(t, c)); !bytes.Equal(got, []byte{0, 0, 0, 0}) {
		t.Errorf("after reset: replies from % x, want four from address 0", got)
	}
	// Two of four chips addressed: chip 2 waits and relays nothing, so a
	// broadcast read reaches chips 0–2 only.
	feed(c, bm13xx.ChainInactive(), bm13xx.SetAddress(0x10), bm13xx.SetAddress(0x20))
	feed(c, bm13xx.ReadAll(bm13xx.RegChipID))
	if got := senders(queued(t, c)); !bytes.Equal(got, []byte{0x10, 0x20, 0}) {
		t.Errorf("partly addressed: replies from % x, want 10 20 00", got)
	}
	feed(c, bm13xx.SetAddress(0x30), bm13xx.SetAddress(0x40), bm13xx.SetAddress(0x50))
	feed(c, bm13xx.ReadAll(bm13xx.RegChipID))
	if got := senders(queued(t, c)); !bytes.Equal(got, []byte{0x10, 0x20, 0x30, 0x40}) {
		t.Errorf("fully addressed: replies from % x, want 10 20 30 40", got)
	}
	// A stopped chip before addressing is skipped: the next one takes its
	// address.
	c.StopChip(1)
	feed(c, bm13xx.ChainInactive(), bm13xx.SetAddress(0x00), bm13xx.SetAddress(0x40), bm13xx.SetAddress(0x80))
	var addrs []byte
	for _, st := range c.Chips() {
		addrs = append(addrs, st.Address)
	}
	if want := []byte{0x00, 0x20, 0x40, 0x80}; !bytes.Equal(addrs, want) {
		t.Errorf("addresses with chip 1 stopped: % x, want % x", addrs, want)
	}
}

func TestCoreRegisterAndCounters(t *testing.T) {
	c := newTestChain(t, Config{Model: bm13xx.BM1370, Chips: 1})
	feed(c,
		bm13xx.WriteAll(bm13xx.RegCoreControl, bm13xx.CoreWrite(0, 2, 0xaa)),
		bm13xx.WriteAll(bm13xx.RegCoreControl, 0x80000200), // read core register 2
	)
	want := []bm13xx.Response{bm13xx.RegisterReply(0, bm13xx.RegCoreValue, 0xaa, false)}
	if diff := cmp.Diff(want, queued(t, c)); diff != "" {
		t.Errorf("core register read (-want +got):\n%s", diff)
	}
	c.mu.Lock()
	c.chips[0].hashes = 1 << 30
	c.chips[0].hwErrors = 5
	c.mu.Unlock()
	feed(c, bm13xx.ReadAll(bm13xx.RegHashCounter), bm13xx.ReadAll(bm13xx.RegErrorCounter))
	got := queued(t, c)
	wantCounter := uint32(float64(1<<30) * DefaultScaleDown / (1 << 32))
	if len(got) != 2 || got[0].Value() != wantCounter || got[1].Value() != 5 {
		t.Errorf("counters %v, want %08x and 5", got, wantCounter)
	}
}

func TestHeatModel(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	m := bm13xx.BM1366
	c := newTestChain(t, Config{Model: m, Chips: 1, Now: clk.Now})
	pll, mhz, err := bm13xx.PLL(m, 485)
	if err != nil {
		t.Fatal(err)
	}
	feed(c, bm13xx.WriteAll(bm13xx.RegPLL0, pll))
	c.SetVoltage(1200)
	steady := DefaultAmbientC + HeatCoefficient*mhz*1.2*1.2
	if steady < 55 || steady > 65 {
		t.Fatalf("steady state %.1f °C, want 55–65", steady)
	}
	clk.Advance(ThermalTimeConstant)
	want := steady + (DefaultAmbientC-steady)*math.Exp(-1)
	if got := c.Chips()[0].TemperatureC; math.Abs(got-want) > 0.01 {
		t.Errorf("after one time constant: %.2f °C, want %.2f", got, want)
	}
	clk.Advance(20 * ThermalTimeConstant)
	if got := c.Chips()[0].TemperatureC; math.Abs(got-steady) > 0.01 {
		t.Errorf("settled: %.2f °C, want %.2f", got, steady)
	}
	c.SetCooling(0.5)
	c.SetAmbient(30)
	clk.Advance(20 * ThermalTimeConstant)
	cooled := 30 + 0.5*HeatCoefficient*mhz*1.44
	if got := c.Chips()[0].TemperatureC; math.Abs(got-cooled) > 0.01 {
		t.Errorf("better cooling, 30 °C air: %.2f °C, want %.2f", got, cooled)
	}
	c.StopChip(0)
	clk.Advance(20 * ThermalTimeConstant)
	if got := c.Chips()[0].TemperatureC; math.Abs(got-30) > 0.01 {
		t.Errorf("stopped chip: %.2f °C, want ambient 30", got)
	}
}

func TestUndervoltRaisesErrorRate(t *testing.T) {
	m := bm13xx.BM1366
	c := newTestChain(t, Config{Model: m, Chips: 1})
	pll, mhz, _ := bm13xx.PLL(m, 485)
	feed(c, bm13xx.WriteAll(bm13xx.RegPLL0, pll))
	floor := MinStableVoltageMV(m, mhz)
	rate := func(mv float64) float64 {
		c.SetVoltage(mv)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.errorRate(c.chips[0])
	}
	if p := rate(1200); p != 0 {
		t.Errorf("nominal voltage: error rate %v, want 0", p)
	}
	if p := rate(floor - 20); math.Abs(p-0.1) > 1e-9 {
		t.Errorf("20 mV under the floor: error rate %v, want 0.1", p)
	}
	if p := rate(0); p != 1 {
		t.Errorf("no voltage: error rate %v, want 1", p)
	}
}

// TestTicketFilter drives the hashing step directly: with a target
// stricter than the kernel's limit, only hashes meeting the target are
// reported, each verified in full.
func TestTicketFilter(t *testing.T) {
	m := bm13xx.BM1366
	c := newTestChain(t, Config{Model: m, Chips: 1})
	feed(c, bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
	job, hdr := testJob(t, m, 0x28, 11)
	c.handleFrame(bm13xx.EncodeJob(m, job))

	c.mu.Lock()
	ch := c.chips[0]
	ch.limit = 0x00ffffff
	ch.target = mining.TargetFromTop32(0x003fffff)
	ch.exact = false
	for range 200 {
		c.prepare(ch)
		c.step(ch)
	}
	hashes := ch.hashes
	c.mu.Unlock()

	got := queued(t, c)
	want := float64(hashes) * 0x400000 / (1 << 32)
	if float64(len(got)) < want/2 || float64(len(got)) > want*2 {
		t.Errorf("%d nonces from %d hashes, want about %.0f", len(got), hashes, want)
	}
	for _, r := range got {
		if _, err := checkNonce(m, r, hdr, job.Version, 0x003fffff); err != nil {
			t.Fatalf("nonce %v: %v", r, err)
		}
	}
	c.mu.Lock()
	ch.setTicket(bm13xx.TicketMask(256), 0)
	if ch.limit != 0 || ch.exact {
		t.Errorf("ticket 256: limit %08x exact %v, want 0 and a full check", ch.limit, ch.exact)
	}
	ch.setTicket(0, 0)
	if ch.limit != 0 || !ch.exact {
		t.Errorf("ticket 1: limit %08x exact %v, want 0 and exact", ch.limit, ch.exact)
	}
	c.mu.Unlock()
}

// TestHCNWindow checks that a chip moves to its next version batch after
// sweeping 2·HCN·f/25 nonces per core.
func TestHCNWindow(t *testing.T) {
	m := bm13xx.BM1366
	c := newTestChain(t, Config{Model: m, Chips: 1})
	pll, mhz, _ := bm13xx.PLL(m, 500)
	feed(c,
		bm13xx.WriteAll(bm13xx.RegPLL0, pll),
		bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)),
		bm13xx.WriteAll(bm13xx.RegHCN, 5), // window 2·5·500/25 = 200 nonces per core
	)
	job, _ := testJob(t, m, 0x08, 1)
	c.handleFrame(bm13xx.EncodeJob(m, job))
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.chips[0]
	window := int(2 * 5 * mhz / 25)
	steps := 0
	for ch.batchNo == 0 && steps < 1000 {
		c.prepare(ch)
		c.step(ch)
		steps++
	}
	// A lone chip's rows stand for two chip-field values each.
	if want := (window + 1) / 2; steps != want {
		t.Errorf("moved to the next batch after %d steps, want %d", steps, want)
	}
	c.prepare(ch)
	if ch.cur.fields[0] != uint16(m.SmallCores) {
		t.Errorf("second batch starts at field %04x, want %04x", ch.cur.fields[0], m.SmallCores)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	bad := []Config{
		{Model: bm13xx.Model{Name: "BM9999", ID: 0x9999}, Chips: 1},
		{Model: bm13xx.BM1366, Chips: 0},
		{Model: bm13xx.BM1366, Chips: 257},
		{Model: bm13xx.BM1366, Chips: 1, ScaleDown: -1},
		{Model: bm13xx.BM1366, Chips: 1, ScaleDown: math.NaN()},
		{Model: bm13xx.BM1366, Chips: 1, HWErrorRate: 1.5},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// rw joins a reader and a writer.
type rw struct {
	io.Reader
	io.Writer
}

func TestServeEndsWithStream(t *testing.T) {
	c := newTestChain(t, Config{Model: bm13xx.BM1366, Chips: 2})
	var out bytes.Buffer
	in := bytes.NewReader(bm13xx.ReadAll(bm13xx.RegChipID).Encode())
	err := c.Serve(t.Context(), rw{in, &lockedWriter{w: &out}})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("EOF")) {
		t.Errorf("Serve on a finished stream: %v, want an EOF error", err)
	}
	if err := c.Serve(t.Context(), rw{bytes.NewReader(nil), io.Discard}); err == nil {
		t.Error("second Serve: want the EOF error again")
	}
}

// lockedWriter serialises writes for a buffer read after Serve.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// FuzzHostStream feeds arbitrary bytes to a chain: it must neither panic
// nor hang, whatever frames they hold.
func FuzzHostStream(f *testing.F) {
	m := bm13xx.BM1366
	job, _ := testJob(&testing.T{}, m, 0x18, 1)
	seeds := [][]byte{
		bm13xx.ReadAll(bm13xx.RegChipID).Encode(),
		append(bm13xx.ChainInactive().Encode(), bm13xx.SetAddress(0x80).Encode()...),
		bm13xx.WriteAll(bm13xx.RegVersionRolling, 0x9000ffff).Encode(),
		bm13xx.WriteAll(bm13xx.RegCoreControl, 0x80000200).Encode(),
		bm13xx.WriteChip(0, bm13xx.RegPLL0, 0x50c20240).Encode(),
		bm13xx.EncodeJob(m, job),
		{0x55, 0xaa, 0x21, 0x56, 0x00},
		{0x55, 0xaa, 0x55, 0xaa, 0x52, 0x05, 0x00, 0x00, 0x0a},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := New(Config{Model: m, Chips: 3, ScaleDown: 1e9})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Serve(t.Context(), rw{bytes.NewReader(data), io.Discard})
		_ = c.Chips()
	})
}

func TestResetState(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	for _, m := range bm13xx.Models() {
		c := newTestChain(t, Config{Model: m, Chips: 2, Now: clk.Now})
		for _, st := range c.Chips() {
			want := ChipState{
				Index: st.Index, FrequencyMHz: 50, VoltageMV: NominalVoltageMV(m),
				TemperatureC: DefaultAmbientC, Responding: true, Baud: 115740,
				PowerW: IdlePowerW, // no job yet
			}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("%s chip %d after reset (-want +got):\n%s", m, st.Index, diff)
			}
		}
	}
}
