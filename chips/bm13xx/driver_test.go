package bm13xx

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

// describe renders port events as lines: decoded commands, jobs, and the
// port calls.
func describe(t *testing.T, evs []event) []string {
	var out []string
	for _, e := range evs {
		switch e.kind {
		case "write":
			if IsJob(e.frame) {
				out = append(out, fmt.Sprintf("job %02x", e.frame[4]))
				continue
			}
			c, err := DecodeCommand(e.frame)
			if err != nil {
				t.Fatalf("driver wrote a bad frame % x: %v", e.frame, err)
			}
			out = append(out, c.String())
		case "baud":
			out = append(out, fmt.Sprintf("baud %d", e.baud))
		default:
			out = append(out, e.kind)
		}
	}
	return out
}

// TestInitSequence checks the whole initialisation of a two-chip chain of
// every model against the §4 sequence, written out by hand: reset rate,
// version rolling, enumeration, the model's registers around addressing,
// the ramp 50 → 56.25 → 62.5 MHz, HCN and the baud switch (write, drain,
// switch, flush).
func TestInitSequence(t *testing.T) {
	cases := []struct {
		model Model
		want  []string
	}{
		{BM1397, []string{
			"baud 115200",
			"read all reg 00",
			"chain-inactive all", "set-address 00", "set-address 80",
			"write all reg 80 = 00000000", "write all reg 84 = 00000000", "write all reg 20 = 00000001",
			"write all reg 3c = 80008074", "write all reg 14 = 000000ff", "write all reg 68 = c0700111",
			"write all reg 28 = 0600000f", "write all reg 18 = 00007a31",
			"write all reg 70 = 0f0f0f00", "write all reg 08 = 403f0272", // 56.25 MHz: 63/2/7/2
			"write all reg 70 = 0f0f0f00", "write all reg 08 = 403c0243", // 62.5 MHz: 60/2/4/3
			"write all reg 18 = 00006031", "drain", "baud 3125000", "reset-input",
		}},
		{BM1366, []string{
			"baud 115200",
			"write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff",
			"read all reg 00",
			"write all reg a8 = 00070000", "write all reg 18 = ff0fc100",
			"chain-inactive all", "set-address 00", "set-address 80",
			"write all reg 3c = 80008540", "write all reg 3c = 80008020", "write all reg 14 = 000000ff",
			"write all reg 54 = 00000003", "write all reg 58 = 02111111", "write chip 00 reg 2c = 007c0003",
			"write chip 00 reg a8 = 000701f0", "write chip 00 reg 18 = f000c100", "write chip 00 reg 3c = 80008540",
			"write chip 00 reg 3c = 80008020", "write chip 00 reg 3c = 800082aa",
			"write chip 80 reg a8 = 000701f0", "write chip 80 reg 18 = f000c100", "write chip 80 reg 3c = 80008540",
			"write chip 80 reg 3c = 80008020", "write chip 80 reg 3c = 800082aa",
			"write all reg 08 = 40bd0265", // 56.25 MHz: 189/2/7/6
			"write all reg 08 = 40960254", // 62.5 MHz: 150/2/6/5
			"write all reg 10 = 00333333", "write all reg a4 = 9000ffff",
			"write all reg 28 = 11300200", "drain", "baud 1000000", "reset-input",
		}},
		{BM1368, []string{
			"baud 115200",
			"write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff",
			"write all reg a4 = 9000ffff",
			"read all reg 00",
			"chain-inactive all",
			"write all reg a8 = 00070000", "write all reg 18 = ff0fc100", "write all reg 3c = 80008b00",
			"write all reg 3c = 80008018", "write all reg 14 = 000000ff", "write all reg 54 = 00000003",
			"write all reg 58 = 02111111",
			"set-address 00", "set-address 80",
			"write chip 00 reg a8 = 000701f0", "write chip 00 reg 18 = f000c100", "write chip 00 reg 3c = 80008b00",
			"write chip 00 reg 3c = 80008018", "write chip 00 reg 3c = 800082aa",
			"write chip 80 reg a8 = 000701f0", "write chip 80 reg 18 = f000c100", "write chip 80 reg 3c = 80008b00",
			"write chip 80 reg 3c = 80008018", "write chip 80 reg 3c = 800082aa",
			"write all reg 14 = 000000ff",
			"write all reg 08 = 40bd0265", "write all reg 08 = 40960254",
			"write all reg 10 = 00333333", "write all reg a4 = 9000ffff",
			"write all reg 28 = 11300200", "drain", "baud 1000000", "reset-input",
		}},
		{BM1370, []string{
			"baud 115200",
			"write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff", "write all reg a4 = 9000ffff",
			"read all reg 00",
			"write all reg a4 = 9000ffff", "write all reg a8 = 00070000", "write all reg 18 = f000c100",
			"chain-inactive all", "set-address 00", "set-address 80",
			"write all reg 3c = 80008b00", "write all reg 3c = 8000800c", "write all reg 14 = 000000ff",
			"write all reg 58 = 00011111",
			"write chip 00 reg a8 = 000701f0", "write chip 00 reg 18 = f000c100", "write chip 00 reg 3c = 80008b00",
			"write chip 00 reg 3c = 8000800c", "write chip 00 reg 3c = 800082aa",
			"write chip 80 reg a8 = 000701f0", "write chip 80 reg 18 = f000c100", "write chip 80 reg 3c = 80008b00",
			"write chip 80 reg 3c = 8000800c", "write chip 80 reg 3c = 800082aa",
			"write all reg b9 = 00004480", "write all reg 54 = 00000002", "write all reg b9 = 00004480",
			"write all reg 3c = 80008dee",
			"write all reg 08 = 40bd0265", // 56.25 MHz: 189/2/7/6
			"write all reg 08 = 40af0264", // 62.5 MHz: 175/2/7/5
			"write all reg 10 = 00333227",
			"write all reg 28 = 11300200", "drain", "baud 1000000", "reset-input",
		}},
	}
	for _, c := range cases {
		t.Run(c.model.Name, func(t *testing.T) {
			g := newRig(t, ChainConfig{Model: c.model, FrequencyMHz: 62.5, Work: mining.NewDispatcher(nil)}, 2)
			g.responder()
			st := g.waitState(StateMining)
			if diff := cmp.Diff(c.want, describe(t, g.port(0).recorded())); diff != "" {
				t.Errorf("init sequence (-want +got):\n%s", diff)
			}
			if len(st.Chips) != 2 || st.Chips[0].Address != 0 || st.Chips[1].Address != 0x80 {
				t.Errorf("chips %+v", st.Chips)
			}
			if st.FrequencyMHz != 62.5 || st.Difficulty != 256 {
				t.Errorf("frequency %v, difficulty %v", st.FrequencyMHz, st.Difficulty)
			}
		})
	}
}

func TestSimTicketAndExpectedChips(t *testing.T) {
	g := newRig(t, ChainConfig{
		Model: BM1370, FrequencyMHz: 56.25, Difficulty: 1.0 / 1024, ExpectedChips: 4,
		Work: mining.NewDispatcher(nil, mining.UnitsRollVersion()),
	}, 3)
	g.responder()
	st := g.waitState(StateMining)
	if len(st.Chips) != 3 { // mines with what answered
		t.Fatalf("%d chips, want 3", len(st.Chips))
	}
	if st.Difficulty != 1.0/1024 {
		t.Errorf("difficulty %v", st.Difficulty)
	}
	lines := describe(t, g.port(0).recorded())
	want := []string{"write all reg 14 = 00000000", "write all reg f0 = 000003ff"}
	var got []string
	for _, l := range lines {
		if l == want[0] || l == want[1] {
			got = append(got, l)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticket writes (-want +got):\n%s", diff)
	}
	for i, a := range []byte{0, 0x40, 0x80} { // 256 / next_pow2(3)
		if st.Chips[i].Address != a {
			t.Errorf("chip %d address %02x, want %02x", i, st.Chips[i].Address, a)
		}
	}
	if g.chain.Target() != mining.TargetFromTop32(0x3ff) {
		t.Errorf("target %s", g.chain.Target())
	}
}

// TestReinitAfterPortDies: the far end of the port goes away while mining;
// the chain is reported lost, reopened and initialised again.
func TestReinitAfterPortDies(t *testing.T) {
	d := mining.NewDispatcher(nil, mining.UnitsRollVersion())
	g := newRig(t, ChainConfig{Model: BM1366, FrequencyMHz: 50, Work: d}, 1)
	r := g.responder()
	g.waitState(StateMining)
	r.conn.Close()
	r2 := g.responder()
	st := g.waitState(StateMining)
	if st.Reinits != 1 || st.LastError == "" {
		t.Errorf("after re-init: reinits %d, last error %q", st.Reinits, st.LastError)
	}
	lines := describe(t, g.port(0).recorded())
	if lines[len(lines)-1] != "close" {
		t.Errorf("lost port not closed: %v", lines[len(lines)-3:])
	}
	if got := describe(t, g.port(1).recorded()); got[0] != "baud 115200" || got[len(got)-1] != "reset-input" {
		t.Errorf("second session: %v … %v", got[0], got[len(got)-1])
	}
	d.SetJob(testJob("a", 0x1fffe000, true))
	if j := r2.nextJob(t); j.ID != 0 {
		t.Errorf("first job id %02x", j.ID)
	}
}

// TestLostWhenSilent: no reply to the periodic reads for three intervals
// loses the chain; the chips that still answer keep it alive.
func TestLostWhenSilent(t *testing.T) {
	g := newRig(t, ChainConfig{
		Model: BM1368, FrequencyMHz: 50, PollInterval: 10 * time.Millisecond,
		Work: mining.NewDispatcher(nil, mining.UnitsRollVersion()),
	}, 2)
	r := g.responder()
	g.waitState(StateMining)
	deadline := time.Now().Add(5 * time.Second)
	for st := g.chain.Status(); !(st.Chips[0].Responding && st.Chips[1].Responding); st = g.chain.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("chips never responding: %+v", st.Chips)
		}
		time.Sleep(time.Millisecond)
	}
	r.setSilent(true)
	g.responder() // opened again after the loss
	st := g.waitState(StateMining)
	if st.Reinits != 1 {
		t.Errorf("reinits %d", st.Reinits)
	}
	if want := "nothing heard"; !strings.Contains(st.LastError, want) {
		t.Errorf("last error %q, want it to mention %q", st.LastError, want)
	}
}

// TestStaleAfterCleanJob: after a clean job, nonces for the jobs sent before
// it are dropped and counted as stale; nonces for the new job go up.
func TestStaleAfterCleanJob(t *testing.T) {
	m := BM1366
	d := mining.NewDispatcher(nil, mining.UnitsRollVersion())
	g := newRig(t, ChainConfig{Model: m, FrequencyMHz: 50, Difficulty: everyHash, Work: d}, 1)
	r := g.responder()
	g.waitState(StateMining)

	d.SetJob(testJob("a", 0x1fffe000, true))
	ja := r.nextJob(t)
	d.SetJob(testJob("b", 0x1fffe000, false)) // not clean: job a stays valid
	jb := r.nextJob(t)
	d.SetJob(testJob("c", 0x1fffe000, true))
	jc := r.nextJob(t)
	if ja.ID == jb.ID || jb.ID == jc.ID || jc.ID != m.NextJobID(jb.ID) {
		t.Fatalf("job ids %02x %02x %02x", ja.ID, jb.ID, jc.ID)
	}
	nonce := [4]byte{1, 2, 3, 4}
	for _, id := range []byte{ja.ID, jb.ID, jc.ID} {
		if err := r.send(m.EncodeNonce(id, 1, nonce, 0x0011)); err != nil {
			t.Fatal(err)
		}
	}
	res := g.result()
	if res.Work.Job.ID != "c" || res.Version != 0x20000004|0x0011<<13 || res.Nonce != 0x04030201 {
		t.Errorf("result: job %s version %08x nonce %08x", res.Work.Job.ID, res.Version, res.Nonce)
	}
	if st := g.chain.Status(); st.StaleNonces != 2 {
		t.Errorf("stale %d, want 2", st.StaleNonces)
	}
	select {
	case extra := <-g.results:
		t.Errorf("stale nonce passed up: job %s", extra.Work.Job.ID)
	default:
	}
}

// TestPerChipCounting sends good and bad nonces from chosen chips and
// checks the driver's per-chip counters, Unit ids and that every nonce is
// passed up with the work it was found on.
func TestPerChipCounting(t *testing.T) {
	m := BM1370
	d := mining.NewDispatcher(nil, mining.UnitsRollVersion())
	diff := 1.0 / (1 << 31)
	g := newRig(t, ChainConfig{Index: 2, Model: m, FrequencyMHz: 50, Difficulty: diff, Work: d}, 4)
	r := g.responder()
	g.waitState(StateMining)
	d.SetJob(testJob("a", 0x1fffe000, true))
	j := r.nextJob(t)
	target := ChipTarget(diff)
	plan := []struct {
		chip, good, bad int
	}{{0, 2, 0}, {1, 1, 1}, {3, 3, 2}}
	v := mining.NewValidator(nil, nil)
	sent := 0
	for _, p := range plan {
		field := int(Addresses(4)[p.chip]) + 5
		for i := range p.good + p.bad {
			vf := uint16(0x0100 + i)
			nb := findNonce(t, m, j, field+i, vf, target, i < p.good)
			if err := r.send(m.EncodeNonce(j.ID, m.SmallCoreOf(vf), nb, vf)); err != nil {
				t.Fatal(err)
			}
			sent++
		}
	}
	hw := 0
	for range sent {
		res := g.result()
		if _, err := v.Check(res); err != nil {
			hw++
		}
		if res.Unit/1000 != 2 {
			t.Errorf("unit %d", res.Unit)
		}
	}
	if hw != 3 {
		t.Errorf("validator found %d HW errors, want 3", hw)
	}
	st := g.chain.Status()
	if st.HWErrors != 3 {
		t.Errorf("chain HW errors %d, want 3", st.HWErrors)
	}
	want := []struct{ nonces, hw uint64 }{{2, 0}, {2, 1}, {0, 0}, {5, 2}}
	for i, w := range want {
		c := st.Chips[i]
		if c.Nonces != w.nonces || c.HWErrors != w.hw {
			t.Errorf("chip %d: %d nonces %d HW errors, want %d and %d", i, c.Nonces, c.HWErrors, w.nonces, w.hw)
		}
		if w.nonces > 0 && (c.LastNonce.IsZero() || c.HashrateHS <= 0) {
			t.Errorf("chip %d: last nonce %v hashrate %v", i, c.LastNonce, c.HashrateHS)
		}
		if w.nonces > 0 {
			if rate := float64(w.hw) / float64(w.nonces); c.HWErrorRate != rate {
				t.Errorf("chip %d: HW error rate %v, want %v", i, c.HWErrorRate, rate)
			}
		}
	}
}

// TestVersionMaskChange: BM1366+ chips get a new 0xA4 before the first job
// whose mask differs from what they have.
func TestVersionMaskChange(t *testing.T) {
	d := mining.NewDispatcher(nil, mining.UnitsRollVersion())
	g := newRig(t, ChainConfig{Model: BM1366, FrequencyMHz: 50, Work: d}, 1)
	r := g.responder()
	g.waitState(StateMining)
	d.SetJob(testJob("a", 0x1fffe000, true))
	r.nextJob(t)
	d.SetJob(testJob("b", 0x00ffe000, true))
	r.nextJob(t)
	d.SetJob(testJob("c", 0x00ffe000, true))
	r.nextJob(t)
	lines := describe(t, g.port(0).recorded())
	var tail []string
	for i, l := range lines {
		if l == "reset-input" {
			tail = lines[i+1:]
		}
	}
	want := []string{"job 00", "write all reg a4 = 900007ff", "job 08", "job 10"}
	if diff := cmp.Diff(want, tail); diff != "" {
		t.Errorf("mining writes (-want +got):\n%s", diff)
	}
}

// TestBM1397Midstates: with a version mask a BM1397 job carries four
// midstates of four consecutive work slots, and a nonce's midstate index
// selects the work (and version) it belongs to.
func TestBM1397Midstates(t *testing.T) {
	m := BM1397
	d := mining.NewDispatcher(nil)
	diff := everyHash
	g := newRig(t, ChainConfig{Model: m, FrequencyMHz: 50, Difficulty: diff, JobInterval: 5 * time.Millisecond, Work: d}, 1)
	r := g.responder()
	g.waitState(StateMining)
	pj := testJob("a", 0x1fffe000, true)
	d.SetJob(pj)
	var j Job
	for range 10 { // the first job has one midstate; later ones four
		if j = r.nextJob(t); len(j.Midstates) == 4 {
			break
		}
	}
	if len(j.Midstates) != 4 || j.NumMidstates != 4 {
		t.Fatalf("no 4-midstate job: %d midstates", len(j.Midstates))
	}
	// Find the slots behind the midstates.
	space := mining.SpaceOf(pj)
	var slot uint64
	for slot = 0; slot < 64; slot++ {
		if space.Work(pj, slot).Midstate == j.Midstates[0] {
			break
		}
	}
	for k := range 4 {
		w := space.Work(pj, slot+uint64(k))
		if w.Midstate != j.Midstates[k] {
			t.Fatalf("midstate %d is not slot %d", k, slot+uint64(k))
		}
	}
	if err := r.send(m.EncodeNonce(j.ID, 2, [4]byte{9, 8, 7, 6}, 0)); err != nil {
		t.Fatal(err)
	}
	res := g.result()
	want := space.Work(pj, slot+2)
	if res.Work.Slot != want.Slot || res.Version != want.Version || res.Nonce != 0x06070809 {
		t.Errorf("result slot %d version %08x nonce %08x, want slot %d version %08x",
			res.Work.Slot, res.Version, res.Nonce, want.Slot, want.Version)
	}
	if _, err := mining.NewValidator(nil, nil).Check(res); err != nil {
		t.Errorf("validator: %v", err)
	}
}

func TestNewChainErrors(t *testing.T) {
	ok := ChainConfig{Model: BM1366, Open: func() (Port, error) { return nil, nil },
		Work: mining.NewDispatcher(nil), Results: func(mining.Result) error { return nil }}
	cases := []struct {
		name string
		mod  func(*ChainConfig)
	}{
		{"unknown model", func(c *ChainConfig) { c.Model = Model{Name: "BM1384"} }},
		{"no open", func(c *ChainConfig) { c.Open = nil }},
		{"no results", func(c *ChainConfig) { c.Results = nil }},
		{"frequency", func(c *ChainConfig) { c.FrequencyMHz = 1e6 }},
		{"difficulty", func(c *ChainConfig) { c.Difficulty = -1 }},
		{"baud", func(c *ChainConfig) { c.FastBaud = hal.Baud(2000000) }},
		{"chips", func(c *ChainConfig) { c.ExpectedChips = 300 }},
	}
	for _, c := range cases {
		cfg := ok
		c.mod(&cfg)
		if _, err := NewChain(cfg); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if _, err := NewChain(ok); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestRampSteps(t *testing.T) {
	cases := []struct {
		from, to float64
		want     []float64
	}{
		{50, 62.5, []float64{56.25, 62.5}},
		{50, 60, []float64{56.25, 60}},
		{50, 50, []float64{50}},
		{62.5, 50, []float64{56.25, 50}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, rampSteps(c.from, c.to)); diff != "" {
			t.Errorf("rampSteps(%v, %v) (-want +got):\n%s", c.from, c.to, diff)
		}
	}
	if n := len(rampSteps(50, 485)); n != 70 {
		t.Errorf("50 → 485 MHz takes %d writes, want 70", n)
	}
}

// resetLine is a reset line that puts shared scripted chips back in their
// power-on state.
type resetLine struct {
	st    *chipState
	count chan struct{}
}

func (r *resetLine) Reset(ctx context.Context) error {
	r.st.Lock()
	r.st.addrs, r.st.long, r.st.baud = nil, false, 115741
	r.st.Unlock()
	r.count <- struct{}{}
	return nil
}

// TestReinitBaud: chips keep their fast rate when the port dies. Without a
// reset line the driver finds them at the fast rate after the reset rate
// gets no answer; with one, the reset brings them back to 115 200.
func TestReinitBaud(t *testing.T) {
	for _, withReset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset line %v", withReset), func(t *testing.T) {
			st := newChipState()
			cfg := ChainConfig{Model: BM1366, FrequencyMHz: 50, Work: mining.NewDispatcher(nil, mining.UnitsRollVersion())}
			var rl *resetLine
			if withReset {
				rl = &resetLine{st: st, count: make(chan struct{}, 8)}
				cfg.Reset = rl
			}
			g := newRigShared(t, cfg, 2, st)
			r := g.responder()
			g.waitState(StateMining)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				st.Lock()
				fast := st.baud == 1041666
				st.Unlock()
				if fast {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("chips never switched to the fast rate")
				}
			}
			r.conn.Close()
			g.responder()
			if s := g.waitState(StateMining); s.Reinits != 1 || len(s.Chips) != 2 {
				t.Fatalf("after re-init: %+v", s)
			}
			var bauds []string
			reads := 0
			for _, l := range describe(t, g.port(1).recorded()) {
				if strings.HasPrefix(l, "baud") {
					bauds = append(bauds, l)
				}
				if l == "read all reg 00" {
					reads++
				}
			}
			want, wantReads := []string{"baud 115200", "baud 1000000", "baud 1000000"}, 2
			if withReset {
				want, wantReads = []string{"baud 115200", "baud 1000000"}, 1
				if len(rl.count) != 2 {
					t.Errorf("%d resets, want one per session", len(rl.count))
				}
			}
			if diff := cmp.Diff(want, bauds); diff != "" || reads != wantReads {
				t.Errorf("second session: %d enumerations, rates (-want +got):\n%s", reads, diff)
			}
		})
	}
}
