package bm13xx

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

func TestTicketMask(t *testing.T) {
	cases := []struct {
		d    float64
		mask uint32
		back float64
	}{
		{256, 0x000000ff, 256},
		{512, 0x000080ff, 512},
		{64, 0x000000fc, 64},
		{1, 0, 1},
		{0.001, 0, 1},
		{300, 0x000000ff, 256},
		{65536, 0x0000ffff, 65536},
		{1 << 32, 0xffffffff, 1 << 32},
	}
	for _, c := range cases {
		if got := TicketMask(c.d); got != c.mask {
			t.Errorf("TicketMask(%v) = %08x, want %08x", c.d, got, c.mask)
		}
		if got := TicketDifficulty(c.mask); got != c.back {
			t.Errorf("TicketDifficulty(%08x) = %v, want %v", c.mask, got, c.back)
		}
	}
	// D = 256: 40 leading zero bits, all ones below.
	want := mining.TargetFromTop32(0)
	want[4] = 0
	if got := TicketTarget(TicketMask(256)); got != want {
		t.Errorf("TicketTarget(256) = %s, want %s", got, want)
	}
	if tt, td := TicketTarget(TicketMask(256)), mining.MustTarget(256); tt.Int().Cmp(td.Int()) <= 0 {
		t.Error("ticket target must be at or above TargetFromDifficulty (the chip reports a superset)")
	}
	if got := SimTicketLimit(1.0 / 1024); got != 0x000003ff {
		t.Errorf("SimTicketLimit(1/1024) = %08x, want 000003ff", got)
	}
	if got := SimTicketLimit(1); got != 0 {
		t.Errorf("SimTicketLimit(1) = %08x, want 0", got)
	}
	if got := ChipTarget(1.0 / 1024); got != mining.TargetFromTop32(0x3ff) {
		t.Errorf("ChipTarget(1/1024) = %s", got)
	}
	if got := ChipTarget(256); got != TicketTarget(0xff) {
		t.Errorf("ChipTarget(256) = %s", got)
	}
}

// TestPLL checks the §5.3 worked examples and ESP-Miner's own search test,
// and §13 pitfall 5 (post dividers minus one on BM1366+, direct on BM1397;
// the VCO flag only at ≥ 2400 MHz).
func TestPLL(t *testing.T) {
	cases := []struct {
		name string
		m    Model
		mhz  float64
		reg  uint32
	}{
		{"BM1366 485", BM1366, 485, 0x50c20240},
		{"BM1368 490", BM1368, 490, 0x50c40240},
		{"BM1370 525", BM1370, 525, 0x40a80230},
		{"BM1370 600", BM1370, 600, 0x50c00230},
		{"BM1397 425", BM1397, 425, 0x40440221},
		{"BM1397 450 (ESP-Miner test: 72/2/2/1)", BM1397, 450, 0x40480221},
		{"BM1366 50 (reset clock)", BM1366, 50, 0x40a80265},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, f, err := PLL(c.m, c.mhz)
			if err != nil {
				t.Fatal(err)
			}
			if reg != c.reg || f != c.mhz {
				t.Errorf("PLL = %08x (%v MHz), want %08x (%v MHz)", reg, f, c.reg, c.mhz)
			}
			if got := PLLFrequency(c.m, reg); got != c.mhz {
				t.Errorf("PLLFrequency(%08x) = %v", reg, got)
			}
		})
	}
	if got := PLLFrequency(BM1397, 0x40aa0215); got != 425 {
		t.Errorf("gekko-style BM1397 word = %v MHz, want 425", got)
	}
	if got := PLLFrequency(BM1366, 0x40a20255); got != 56.25 {
		t.Errorf("factory 56.25 MHz word = %v MHz", got)
	}
	if got := PLLFrequency(BM1366, 0); got != 0 {
		t.Errorf("zero word = %v MHz", got)
	}
	// Every ramp step of every model has an exact solution.
	for _, m := range Models() {
		for f := 50.0; f <= 700; f += 6.25 {
			if _, got, err := PLL(m, f); err != nil || got != f {
				t.Errorf("%s %v MHz: got %v, %v", m.Name, f, got, err)
			}
		}
	}
	for _, bad := range []float64{0, -5, 1, 100000} {
		if _, _, err := PLL(BM1366, bad); !errors.Is(err, ErrRange) {
			t.Errorf("PLL(%v) = %v, want ErrRange", bad, err)
		}
	}
}

func TestHCN(t *testing.T) {
	cases := []struct {
		m     Model
		chips int
		mhz   float64
		want  uint32
	}{
		{BM1366, 1, 485, 0x000d3224},
		{BM1368, 1, 490, 0x000d0fac},
		{BM1370, 1, 525, 0x000c2fb7},
		{BM1370, 2, 525, 0x00061755},
		{BM1366, 110, 606, 3276800 / 606}, // §14.4 full coverage with I = 2
		{BM1397, 1, 425, 0},
	}
	for _, c := range cases {
		if got := HCN(c.m, c.chips, c.mhz); got != c.want {
			t.Errorf("HCN(%s, %d, %v) = %08x, want %08x", c.m.Name, c.chips, c.mhz, got, c.want)
		}
	}
}

func TestFastUART(t *testing.T) {
	cases := []struct {
		name  string
		m     Model
		baud  hal.Baud
		reg   byte
		value uint32
		chip  hal.Baud
	}{
		{"BM1366 1M", BM1366, hal.Baud1M, RegFastUART, 0x11300200, 1041666},
		{"BM1370 3.125M", BM1370, hal.Baud3125K, RegFastUART, 0x11300000, 3125000},
		{"BM1397 3.125M", BM1397, hal.Baud3125K, RegMiscControl, 0x00006031, 3125000},
		{"BM1397 1.5625M", BM1397, 1562500, RegMiscControl, 0x00006131, 1562500},
		{"BM1397 115200", BM1397, hal.Baud115200, RegMiscControl, 0x00007a31, 115740},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, v, err := FastUARTReg(c.m, c.baud)
			if err != nil || reg != c.reg || v != c.value {
				t.Fatalf("FastUARTReg = %02x %08x %v, want %02x %08x", reg, v, err, c.reg, c.value)
			}
			if b, ok := UARTBaud(c.m, reg, v); !ok || b != c.chip {
				t.Errorf("UARTBaud = %d %v, want %d", b, ok, c.chip)
			}
		})
	}
	if _, _, err := FastUARTReg(BM1366, 2000000); !errors.Is(err, ErrRange) {
		t.Errorf("2 Mbaud (chips can do 1.5625 or 3.125) = %v, want ErrRange", err)
	}
	if _, _, err := FastUARTReg(BM1366, 0); !errors.Is(err, ErrRange) {
		t.Errorf("0 baud = %v", err)
	}
	if _, ok := UARTBaud(BM1370, RegFastUART, 0x15600700); ok {
		t.Error("PLL-clocked UART word reported as a 25 MHz rate")
	}
	if _, ok := UARTBaud(BM1366, RegMiscControl, 0xf000c100); ok {
		t.Error("BM1366 reg 18 reported as a baud write")
	}
}

func TestVersionRollingReg(t *testing.T) {
	if got := VersionRollingReg(0x1fffe000); got != 0x9000ffff {
		t.Errorf("VersionRollingReg(1fffe000) = %08x", got)
	}
	if got := VersionMaskOf(0x9000ffff); got != 0x1fffe000 {
		t.Errorf("VersionMaskOf(9000ffff) = %08x", got)
	}
	if got := VersionMaskOf(0x1000ffff); got != 0 {
		t.Errorf("VersionMaskOf(disabled) = %08x", got)
	}
}

func TestAddresses(t *testing.T) {
	cases := []struct {
		chips    int
		interval int
		first    []byte
		last     byte
	}{
		{1, 256, []byte{0}, 0},
		{2, 128, []byte{0, 0x80}, 0x80},
		{6, 32, []byte{0, 0x20, 0x40}, 0xa0},
		{65, 2, []byte{0, 2, 4}, 0x80},
		{110, 2, []byte{0, 2}, 0xda},
		{126, 2, []byte{0, 2}, 0xfa},
		{200, 1, []byte{0, 1, 2}, 199},
	}
	for _, c := range cases {
		a := Addresses(c.chips)
		if got := AddressInterval(c.chips); got != c.interval {
			t.Errorf("AddressInterval(%d) = %d, want %d", c.chips, got, c.interval)
		}
		if len(a) != c.chips || a[len(a)-1] != c.last {
			t.Errorf("Addresses(%d): %d addresses ending %02x", c.chips, len(a), a[len(a)-1])
		}
		if diff := cmp.Diff(c.first, a[:len(c.first)]); diff != "" {
			t.Errorf("Addresses(%d) (-want +got):\n%s", c.chips, diff)
		}
		for i, addr := range a {
			if got := ChipIndex(int(addr), c.chips); got != i {
				t.Errorf("ChipIndex(%02x, %d) = %d, want %d", addr, c.chips, got, i)
			}
		}
	}
	for _, bad := range []int{0, -1, 257} {
		if Addresses(bad) != nil || AddressInterval(bad) != 0 || ChipIndex(0, bad) != -1 {
			t.Errorf("chip count %d accepted", bad)
		}
	}
}

func TestJobInterval(t *testing.T) {
	if got := BM1397.JobInterval(1, 425); got.Milliseconds() != 39 {
		t.Errorf("BM1397 1 chip 425 MHz = %v, want ≈39.5 ms", got)
	}
	if got := BM1366.JobInterval(6, 485); got.Milliseconds() != 250 {
		t.Errorf("BM1366 6 chips = %v, want 250 ms", got)
	}
	if got := BM1370.JobInterval(2, 525); got.Milliseconds() != 250 {
		t.Errorf("BM1370 2 chips = %v, want 250 ms", got)
	}
}
