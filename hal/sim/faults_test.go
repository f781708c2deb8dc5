package sim

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.bug.st/serial"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/chips/emulator"
)

// startClocked starts a BM1366 board of chains × chips on a fake clock.
func startClocked(t *testing.T, chains, chips int) (*Board, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1e9, 0)}
	b, err := Start(t.Context(), BoardConfig{Model: bm13xx.BM1366, Chains: chains, ChipsPerChain: chips, ScaleDown: 1e9, Now: clk.Now})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, clk
}

// clockChain sets every chip of chain i to mhz through its serial line, as
// the driver does, and returns the clock the PLL gives.
func clockChain(t *testing.T, b *Board, i int, mhz float64) float64 {
	t.Helper()
	pll, f, err := bm13xx.PLL(b.cfg.Model, mhz)
	if err != nil {
		t.Fatal(err)
	}
	p := driverPort(t, b.SerialPaths()[i])
	defer p.Close()
	n := b.cfg.ChipsPerChain
	got := replies(t, p, false, n, bm13xx.WriteAll(bm13xx.RegPLL0, pll), bm13xx.ReadAll(bm13xx.RegPLL0))
	if len(got) != n {
		t.Fatalf("chain %d: %d PLL read-backs, want %d", i, len(got), n)
	}
	for _, r := range got {
		if r.Value() != pll {
			t.Fatalf("chain %d: PLL0 reads %08x, want %08x", i, r.Value(), pll)
		}
	}
	return f
}

// tempC reads chain i's sensor.
func tempC(t *testing.T, b *Board, i int) float64 {
	t.Helper()
	tc, err := b.TempSensor(i).Temperature()
	if err != nil {
		t.Fatalf("chain %d temperature: %v", i, err)
	}
	return tc.Celsius()
}

// watts reads a power meter.
func watts(t *testing.T, m interface{ Power() (physic.Power, error) }) float64 {
	t.Helper()
	p, err := m.Power()
	if err != nil {
		t.Fatalf("Power: %v", err)
	}
	return float64(p) / float64(physic.Watt)
}

// steady is the die temperature a chip settles at.
func steady(ambient, duty, mhz, mv float64) float64 {
	v := mv / 1000
	return ambient + emulator.HeatCoefficient*CoolingFactor(duty)*mhz*v*v
}

// near reports whether got is within tol of want.
func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestBoardPower(t *testing.T) {
	const chips = 3
	b, _ := startClocked(t, 2, chips)
	if w, want := watts(t, b.PowerMeter()), 2*chips*emulator.IdlePowerW+DefaultFanDuty*FanWattsPerPercent+ControlBoardW; !near(w, want, 1e-6) {
		t.Errorf("idle board: %v W, want %v", w, want)
	}
	// Chain 0 mines: addressed, clocked and given a job over its line.
	m := b.cfg.Model
	addrs := bm13xx.Addresses(chips)
	cmds := []bm13xx.Command{bm13xx.ChainInactive()}
	for _, a := range addrs {
		cmds = append(cmds, bm13xx.SetAddress(a))
	}
	pll, mhz, _ := bm13xx.PLL(m, 485)
	cmds = append(cmds, bm13xx.WriteAll(bm13xx.RegPLL0, pll))
	p := driverPort(t, b.SerialPaths()[0])
	defer p.Close()
	replies(t, p, false, 0, cmds...)
	if _, err := p.Write(bm13xx.EncodeJob(m, bm13xx.Job{ID: 0x08, NumMidstates: 1, Version: 0x20000000})); err != nil {
		t.Fatal(err)
	}
	if got := replies(t, p, false, 1, bm13xx.ReadChip(addrs[2], bm13xx.RegChipID)); len(got) != 1 {
		t.Fatalf("no reply after the job: %v", got)
	}
	check := func(name string, chain0, duty float64) {
		t.Helper()
		chain1 := chips * emulator.IdlePowerW
		if w := watts(t, b.ChainPowerMeter(0)); !near(w, chain0, 1e-6) {
			t.Errorf("%s: chain 0 draws %v W, want %v", name, w, chain0)
		}
		if w := watts(t, b.ChainPowerMeter(1)); !near(w, chain1, 1e-6) {
			t.Errorf("%s: chain 1 draws %v W, want %v", name, w, chain1)
		}
		want := chain0 + chain1 + duty*FanWattsPerPercent + ControlBoardW
		if w := watts(t, b.PowerMeter()); !near(w, want, 1e-6) {
			t.Errorf("%s: board draws %v W, want %v", name, w, want)
		}
	}
	full := emulator.ChipPowerW(mhz, 1200)
	if full < 10.9 || full > 11.1 {
		t.Errorf("a BM1366 at %v MHz, 1.2 V draws %v W, want about 11", mhz, full)
	}
	check("mining", chips*full, DefaultFanDuty)
	if err := b.Fan().SetDuty(100); err != nil {
		t.Fatal(err)
	}
	check("full fan", chips*full, 100)
	if err := b.InjectFault(FaultChipDropout, 0, 1); err != nil {
		t.Fatal(err)
	}
	check("chip 1 dropped", 2*full+emulator.IdlePowerW, 100)
	if err := b.InjectFault(FaultVoltageSag, 0, 0); err != nil {
		t.Fatal(err)
	}
	check("sagging", 2*emulator.ChipPowerW(mhz, 1020)+emulator.IdlePowerW, 100)
	b.ClearFaults()
	check("cleared", chips*full, 100)
	if b.ChainPowerMeter(2) != nil || b.ChainPowerMeter(-1) != nil {
		t.Error("out-of-range chain has a power meter")
	}
}

func TestFanStall(t *testing.T) {
	b, clk := startClocked(t, 2, 2)
	mhz := clockChain(t, b, 0, 485)
	rpm := func() int {
		t.Helper()
		r, err := b.Fan().RPM()
		if err != nil {
			t.Fatalf("RPM: %v", err)
		}
		return r
	}
	if err := b.Fan().SetDuty(80); err != nil {
		t.Fatal(err)
	}
	if r := rpm(); !near(float64(r), 80*RPMPerPercent, 0.011*80*RPMPerPercent) {
		t.Errorf("80 %% duty: %d rpm", r)
	}
	if err := b.InjectFault(FaultFanStall, 7, 7); err != nil { // chain and chip do not apply
		t.Fatalf("InjectFault: %v", err)
	}
	if diff := cmp.Diff([]Fault{{Kind: FaultFanStall, Chain: -1, Chip: -1}}, b.Faults()); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	for _, duty := range []float64{80, 100} {
		if err := b.Fan().SetDuty(duty); err != nil {
			t.Errorf("SetDuty(%v) on a stalled fan: %v", duty, err)
		}
		if r := rpm(); r != 0 {
			t.Errorf("stalled at %v %% duty: %d rpm, want 0", duty, r)
		}
		clk.Advance(time.Minute)
		if c, want := tempC(t, b, 0), steady(25, 0, mhz, 1200); !near(c, want, 0.05) {
			t.Errorf("stalled at %v %% duty: %.2f °C, want %.2f as with no airflow", duty, c, want)
		}
	}
	b.ClearFaults()
	if r := rpm(); !near(float64(r), 100*RPMPerPercent, 0.011*100*RPMPerPercent) {
		t.Errorf("cleared at 100 %% duty: %d rpm", r)
	}
	clk.Advance(time.Minute)
	if c, want := tempC(t, b, 0), steady(25, 100, mhz, 1200); !near(c, want, 0.05) {
		t.Errorf("cleared at 100 %% duty: %.2f °C, want %.2f", c, want)
	}
	if f := b.Faults(); len(f) != 0 {
		t.Errorf("faults after ClearFaults: %v", f)
	}
}

func TestSensorFailure(t *testing.T) {
	b, _ := startClocked(t, 2, 1)
	for range 2 { // idempotent
		if err := b.InjectFault(FaultSensorFailure, 1, 0); err != nil {
			t.Fatalf("InjectFault: %v", err)
		}
	}
	if diff := cmp.Diff([]Fault{{Kind: FaultSensorFailure, Chain: 1, Chip: -1}}, b.Faults()); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	if _, err := b.TempSensor(1).Temperature(); !errors.Is(err, ErrSensor) {
		t.Errorf("failed sensor: %v, want ErrSensor", err)
	}
	if c := tempC(t, b, 0); !near(c, 25, 0.01) {
		t.Errorf("other chain's sensor: %.2f °C", c)
	}
	b.ClearFaults()
	if c := tempC(t, b, 1); !near(c, 25, 0.01) {
		t.Errorf("cleared sensor: %.2f °C", c)
	}
}

func TestOverheat(t *testing.T) {
	b, clk := startClocked(t, 2, 2)
	mhz := clockChain(t, b, 0, 485)
	clk.Advance(time.Minute)
	before := tempC(t, b, 0)
	if want := steady(25, DefaultFanDuty, mhz, 1200); !near(before, want, 0.05) {
		t.Fatalf("settled at %.2f °C, want %.2f", before, want)
	}
	for range 2 { // idempotent: the air rises once
		if err := b.InjectFault(FaultOverheat, 0, 0); err != nil {
			t.Fatalf("InjectFault: %v", err)
		}
	}
	// 30 °C of a 45 °C step takes τ·ln 3 ≈ 5.5 s.
	var took time.Duration
	for tempC(t, b, 0) <= before+30 {
		if took >= 10*time.Second {
			t.Fatalf("%.2f °C after %v of overheat, want above %.2f", tempC(t, b, 0), took, before+30)
		}
		clk.Advance(time.Second)
		took += time.Second
	}
	if took > 6*time.Second {
		t.Errorf("took %v to rise 30 °C, want ≤ 6 s", took)
	}
	if c := tempC(t, b, 1); c > 30 {
		t.Errorf("other chain at %.2f °C", c)
	}
	clk.Advance(time.Minute)
	if c, want := tempC(t, b, 0), steady(25+OverheatRiseC, DefaultFanDuty, mhz, 1200); !near(c, want, 0.05) {
		t.Errorf("overheated: settled at %.2f °C, want %.2f", c, want)
	}
	if err := b.SetAmbient(30); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if c, want := tempC(t, b, 0), steady(30+OverheatRiseC, DefaultFanDuty, mhz, 1200); !near(c, want, 0.05) {
		t.Errorf("overheated in 30 °C air: %.2f °C, want %.2f", c, want)
	}
	b.ClearFaults()
	clk.Advance(time.Minute)
	if c, want := tempC(t, b, 0), steady(30, DefaultFanDuty, mhz, 1200); !near(c, want, 0.05) {
		t.Errorf("cleared: %.2f °C, want %.2f", c, want)
	}
	for _, bad := range []float64{-41, 61, math.NaN()} {
		if err := b.SetAmbient(bad); !errors.Is(err, ErrRange) {
			t.Errorf("SetAmbient(%v): %v, want ErrRange", bad, err)
		}
	}
}

// addressChips addresses a chain's chips through its line.
func addressChips(t *testing.T, p serial.Port, chips int) []byte {
	t.Helper()
	addrs := bm13xx.Addresses(chips)
	cmds := []bm13xx.Command{bm13xx.ChainInactive()}
	for _, a := range addrs {
		cmds = append(cmds, bm13xx.SetAddress(a))
	}
	replies(t, p, false, 0, cmds...)
	return addrs
}

// countAnswering sends a broadcast read of the chip id, then a read of
// PLL0 from chip last, and counts the chip-id replies that came before
// last's: the chips answering, without waiting out a timeout.
func countAnswering(t *testing.T, p serial.Port, last byte) int {
	t.Helper()
	for _, c := range []bm13xx.Command{bm13xx.ReadAll(bm13xx.RegChipID), bm13xx.ReadChip(last, bm13xx.RegPLL0)} {
		if _, err := p.Write(c.Encode()); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	rr := bm13xx.NewResponseReader(p, false)
	n := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		r, err := rr.Next()
		switch {
		case errors.Is(err, bm13xx.ErrNoData):
		case err != nil:
			t.Fatalf("read: %v", err)
		case r.Nonce:
		case r.B7 == bm13xx.RegPLL0:
			return n
		case r.B7 == bm13xx.RegChipID:
			n++
		}
	}
	t.Fatalf("chip %02x did not answer", last)
	return 0
}

func TestChipDropout(t *testing.T) {
	const chips = 3
	b, _ := startClocked(t, 1, chips)
	p := driverPort(t, b.SerialPaths()[0])
	defer p.Close()
	addrs := addressChips(t, p, chips)
	answering := func() int {
		t.Helper()
		return countAnswering(t, p, addrs[chips-1])
	}
	if n := answering(); n != chips {
		t.Fatalf("%d chips answer, want %d", n, chips)
	}
	for range 2 {
		if err := b.InjectFault(FaultChipDropout, 0, 1); err != nil {
			t.Fatalf("InjectFault: %v", err)
		}
	}
	if diff := cmp.Diff([]Fault{{Kind: FaultChipDropout, Chain: 0, Chip: 1}}, b.Faults()); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
	if n := answering(); n != chips-1 {
		t.Errorf("chip 1 dropped: %d chips answer, want %d", n, chips-1)
	}
	if st := b.Emulator(0).Chips(); st[1].Responding || !st[0].Responding || !st[2].Responding {
		t.Errorf("chip states %+v", st)
	}
	b.ClearFaults()
	if n := answering(); n != chips {
		t.Errorf("cleared: %d chips answer, want %d", n, chips)
	}
}

func TestVoltageSag(t *testing.T) {
	b, clk := startClocked(t, 2, 1)
	mhz := clockChain(t, b, 1, 485)
	volts := func(i int) (reg, chip float64) {
		t.Helper()
		v, err := b.Regulator(i).Voltage()
		if err != nil {
			t.Fatalf("Voltage: %v", err)
		}
		return float64(v) / float64(physic.MilliVolt), b.Emulator(i).Chips()[0].VoltageMV
	}
	for range 2 {
		if err := b.InjectFault(FaultVoltageSag, 1, 0); err != nil {
			t.Fatalf("InjectFault: %v", err)
		}
	}
	if reg, chip := volts(1); reg != 1020 || chip != 1020 {
		t.Errorf("sagging: regulator reads %v mV, chips get %v, want 1020 (85 %% of 1200)", reg, chip)
	}
	if reg, chip := volts(0); reg != 1200 || chip != 1200 {
		t.Errorf("other chain: %v mV, chips %v", reg, chip)
	}
	clk.Advance(time.Minute)
	if c, want := tempC(t, b, 1), steady(25, DefaultFanDuty, mhz, 1020); !near(c, want, 0.05) {
		t.Errorf("sagging: %.2f °C, want %.2f", c, want)
	}
	if err := b.Regulator(1).SetVoltage(1100 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	if reg, chip := volts(1); reg != 935 || chip != 935 {
		t.Errorf("new setpoint while sagging: %v mV, chips %v, want 935", reg, chip)
	}
	b.ClearFaults()
	if reg, chip := volts(1); reg != 1100 || chip != 1100 {
		t.Errorf("cleared: %v mV, chips %v, want the setpoint 1100", reg, chip)
	}
}

func TestInjectFaultErrors(t *testing.T) {
	b, _ := startClocked(t, 2, 3)
	cases := []struct {
		kind        string
		chain, chip int
		want        error
	}{
		{"meltdown", 0, 0, ErrFaultKind},
		{"", 0, 0, ErrFaultKind},
		{FaultOverheat, 2, 0, ErrRange},
		{FaultSensorFailure, -1, 0, ErrRange},
		{FaultVoltageSag, 5, 0, ErrRange},
		{FaultChipDropout, 0, 3, ErrRange},
		{FaultChipDropout, 1, -1, ErrRange},
		{FaultChipDropout, 2, 0, ErrRange},
	}
	for _, tc := range cases {
		err := b.InjectFault(tc.kind, tc.chain, tc.chip)
		if !errors.Is(err, tc.want) {
			t.Errorf("InjectFault(%q, %d, %d): %v, want %v", tc.kind, tc.chain, tc.chip, err, tc.want)
		}
	}
	if f := b.Faults(); len(f) != 0 {
		t.Errorf("faults after failed injections: %v", f)
	}
	if len(FaultKinds()) != 5 {
		t.Errorf("fault kinds %v", FaultKinds())
	}
}

// TestFaultsConcurrent injects and clears faults from several goroutines
// while the fan and regulators are driven and a driver talks to a chain;
// once cleared, every effect is undone.
func TestFaultsConcurrent(t *testing.T) {
	const chips = 2
	b, _ := startClocked(t, 2, chips)
	p := driverPort(t, b.SerialPaths()[0])
	defer p.Close()
	// The chips of chain 0 other than chip 0 never drop out below.
	addrs := addressChips(t, p, chips)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				kind := FaultKinds()[(g+i)%len(FaultKinds())]
				if err := b.InjectFault(kind, i%2, i%chips); err != nil {
					t.Errorf("InjectFault(%s): %v", kind, err)
					return
				}
				_ = b.Faults()
				_, _ = b.TempSensor(i % 2).Temperature()
				_ = watts(t, b.PowerMeter())
				if i%10 == 9 {
					b.ClearFaults()
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			_ = b.Fan().SetDuty(float64(i * 2))
			_ = b.Regulator(i % 2).SetVoltage(physic.ElectricPotential(1100+i) * physic.MilliVolt)
			_ = b.SetAmbient(float64(20 + i%10))
		}
	})
	for range 20 {
		if n := countAnswering(t, p, addrs[chips-1]); n < chips-1 {
			t.Errorf("%d chips answer during the faults, want at least %d", n, chips-1)
		}
	}
	wg.Wait()

	b.ClearFaults()
	if f := b.Faults(); len(f) != 0 {
		t.Errorf("faults after ClearFaults: %v", f)
	}
	if err := b.Fan().SetDuty(50); err != nil {
		t.Fatal(err)
	}
	if r, _ := b.Fan().RPM(); r == 0 {
		t.Error("fan still stalled")
	}
	for i := range 2 {
		if _, err := b.TempSensor(i).Temperature(); err != nil {
			t.Errorf("chain %d sensor: %v", i, err)
		}
		v, _ := b.Regulator(i).Voltage()
		if st := b.Emulator(i).Chips(); float64(v)/float64(physic.MilliVolt) != st[0].VoltageMV || !st[0].Responding || !st[1].Responding {
			t.Errorf("chain %d: regulator %s, chips %+v", i, v, st)
		}
	}
	if n := countAnswering(t, p, addrs[chips-1]); n != chips {
		t.Errorf("%d chips answer after ClearFaults, want %d", n, chips)
	}
}
