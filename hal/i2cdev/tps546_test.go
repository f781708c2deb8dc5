package i2cdev

import (
	"errors"
	"math"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// bitaxeTPS is the single-chip Bitaxe set-up.
var bitaxeTPS = TPS546Config{
	VinOn: 4800 * physic.MilliVolt, VinOff: 4500 * physic.MilliVolt,
	VoutMin: 1 * physic.Volt, VoutMax: 2 * physic.Volt,
	ScaleLoop:  0.25,
	IoutOCWarn: 25 * physic.Ampere, IoutOCFault: 30 * physic.Ampere,
	SwitchFrequency: 650 * physic.KiloHertz,
}

// tpsHead is what NewTPS546 always sends: identity, output off, control by
// OPERATION, clear faults, VOUT_MODE.
var tpsHead = []i2ctest.IO{
	{Addr: 0x24, W: []byte{0xAD}, R: []byte{
		0x06,                               // block count
		0x54, 0x49, 0x54, 0x6B, 0x24, 0x41, // IC_DEVICE_ID: TPS546D24A
	}},
	{Addr: 0x24, W: []byte{0x01, 0x00}},            // OPERATION: output off
	{Addr: 0x24, W: []byte{0x02, 0x18}},            // ON_OFF_CONFIG: OPERATION switches the output
	{Addr: 0x24, W: []byte{0x03}},                  // CLEAR_FAULTS
	{Addr: 0x24, W: []byte{0x20}, R: []byte{0x17}}, // VOUT_MODE: ULINEAR16, exponent -9
}

// tpsBitaxe is the limits part of the Bitaxe set-up, LINEAR11 words and
// ULINEAR16 volts sent low byte first.
var tpsBitaxe = []i2ctest.IO{
	{Addr: 0x24, W: []byte{0x35, 0x66, 0xCA}}, // VIN_ON 4.8 V: N -7, Y 614 (4.797 V)
	{Addr: 0x24, W: []byte{0x36, 0x40, 0xCA}}, // VIN_OFF 4.5 V: N -7, Y 576
	{Addr: 0x24, W: []byte{0x29, 0x00, 0xAA}}, // VOUT_SCALE_LOOP 0.25: N -11, Y 512
	{Addr: 0x24, W: []byte{0x33, 0x8A, 0x02}}, // FREQUENCY_SWITCH 650 kHz: N 0, Y 650
	{Addr: 0x24, W: []byte{0x4A, 0x20, 0xDB}}, // IOUT_OC_WARN 25 A: N -5, Y 800
	{Addr: 0x24, W: []byte{0x46, 0xC0, 0xDB}}, // IOUT_OC_FAULT 30 A: N -5, Y 960
	{Addr: 0x24, W: []byte{0x24, 0x00, 0x04}}, // VOUT_MAX 2 V: 1024 × 2^-9
	{Addr: 0x24, W: []byte{0x2B, 0x00, 0x02}}, // VOUT_MIN 1 V: 512 × 2^-9
}

func join(parts ...[]i2ctest.IO) []i2ctest.IO {
	var out []i2ctest.IO
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func newTPS(t *testing.T, cfg TPS546Config, setup []i2ctest.IO, ops ...i2ctest.IO) *TPS546 {
	t.Helper()
	d, err := NewTPS546(playback(t, join(tpsHead, setup, ops)...), 0, cfg)
	if err != nil {
		t.Fatalf("NewTPS546: %v", err)
	}
	return d
}

func TestTPS546Init(t *testing.T) {
	newTPS(t, bitaxeTPS, tpsBitaxe)
	newTPS(t, TPS546Config{}, nil) // nothing configured: only the head

	bad := func(ops ...i2ctest.IO) error {
		_, err := NewTPS546(playback(t, ops...), 0, TPS546Config{})
		return err
	}
	if err := bad(i2ctest.IO{Addr: 0x24, W: []byte{0xAD}, R: []byte{0x06, 0x54, 0x49, 0x54, 0x6B, 0x24, 0x99}}); !errors.Is(err, ErrWrongDevice) {
		t.Errorf("unknown device id: %v, want ErrWrongDevice", err)
	}
	if err := bad(i2ctest.IO{Addr: 0x24, W: []byte{0xAD}, R: []byte{0x02, 0x54, 0x49, 0, 0, 0, 0}}); err == nil {
		t.Error("short block count accepted")
	}
	head := append([]i2ctest.IO{}, tpsHead...)
	head[4] = i2ctest.IO{Addr: 0x24, W: []byte{0x20}, R: []byte{0x40}} // VOUT_MODE: VID mode
	if err := bad(head...); err == nil {
		t.Error("non-ULINEAR16 VOUT_MODE accepted")
	}
	failEach(t, len(tpsHead)+len(tpsBitaxe), join(tpsHead, tpsBitaxe), func(bus i2c.Bus) error {
		_, err := NewTPS546(bus, 0, bitaxeTPS)
		return err
	})
}

func TestTPS546SetVoltage(t *testing.T) {
	d := newTPS(t, bitaxeTPS, tpsBitaxe,
		i2ctest.IO{Addr: 0x24, W: []byte{0x21, 0x66, 0x02}}, // VOUT_COMMAND 1.2 V: 614 × 2^-9
		i2ctest.IO{Addr: 0x24, W: []byte{0x01, 0x80}},       // OPERATION: on
		i2ctest.IO{Addr: 0x24, W: []byte{0x01, 0x00}},       // 0 V: OPERATION off
	)
	if err := d.SetVoltage(1200 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	if err := d.SetVoltage(0); err != nil {
		t.Fatal(err)
	}
	for _, v := range []physic.ElectricPotential{900 * physic.MilliVolt, 2100 * physic.MilliVolt} {
		if err := d.SetVoltage(v); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("SetVoltage(%v) = %v, want ErrOutOfRange", v, err)
		}
	}
}

func TestTPS546Hex(t *testing.T) {
	// Three stacked domains: the rail is three times the chip voltage.
	cfg := TPS546Config{Domains: 3, VoutMin: 2500 * physic.MilliVolt, VoutMax: 4500 * physic.MilliVolt}
	d := newTPS(t, cfg, []i2ctest.IO{
		{Addr: 0x24, W: []byte{0x24, 0x00, 0x09}}, // VOUT_MAX 4.5 V: 2304
		{Addr: 0x24, W: []byte{0x2B, 0x00, 0x05}}, // VOUT_MIN 2.5 V: 1280
	},
		i2ctest.IO{Addr: 0x24, W: []byte{0x21, 0x33, 0x07}}, // VOUT_COMMAND 3.6 V: 1843
		i2ctest.IO{Addr: 0x24, W: []byte{0x01, 0x80}},
		i2ctest.IO{Addr: 0x24, W: []byte{0x8B}, R: []byte{0x33, 0x07}}, // READ_VOUT 3.5996 V
	)
	if err := d.SetVoltage(1200 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	got, err := d.Voltage()
	if err != nil {
		t.Fatal(err)
	}
	if want := physic.ElectricPotential(math.Round(1843.0 / 512 / 3 * 1e9)); got != want {
		t.Errorf("Voltage() = %v, want %v per domain", got, want)
	}
	if err := d.SetVoltage(1600 * physic.MilliVolt); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("rail 4.8 V accepted: %v", err)
	}
}

func TestTPS546Telemetry(t *testing.T) {
	d := newTPS(t, TPS546Config{}, nil,
		i2ctest.IO{Addr: 0x24, W: []byte{0x8B}, R: []byte{0x66, 0x02}}, // READ_VOUT 614 × 2^-9
		i2ctest.IO{Addr: 0x24, W: []byte{0x88}, R: []byte{0x80, 0xCA}}, // READ_VIN 5.0 V: N -7, Y 640
		i2ctest.IO{Addr: 0x24, W: []byte{0x8C}, R: []byte{0x20, 0xD3}}, // READ_IOUT 12.5 A: N -6, Y 800
		i2ctest.IO{Addr: 0x24, W: []byte{0x8D}, R: []byte{0xB5, 0xF0}}, // READ_TEMPERATURE_1 45.25 °C: N -2, Y 181
		i2ctest.IO{Addr: 0x24, W: []byte{0x8B}, R: []byte{0x66, 0x02}}, // power: READ_VOUT
		i2ctest.IO{Addr: 0x24, W: []byte{0x8C}, R: []byte{0x20, 0xD3}}, //        READ_IOUT
		i2ctest.IO{Addr: 0x24, W: []byte{0x79}, R: []byte{0x00, 0x08}}, // STATUS_WORD
	)
	if v, err := d.Voltage(); err != nil || v != 1199218750*physic.NanoVolt {
		t.Errorf("Voltage() = %v, %v", v, err)
	}
	if v, err := d.InputVoltage(); err != nil || v != 5*physic.Volt {
		t.Errorf("InputVoltage() = %v, %v", v, err)
	}
	if c, err := d.OutputCurrent(); err != nil || c != 12500*physic.MilliAmpere {
		t.Errorf("OutputCurrent() = %v, %v", c, err)
	}
	if c, err := d.Temperature(); err != nil || c != celsius(45.25) {
		t.Errorf("Temperature() = %v, %v", c, err)
	}
	if p, err := d.Power(); err != nil || p != physic.Power(math.Round(614.0/512*12.5*1e9)) {
		t.Errorf("Power() = %v, %v", p, err)
	}
	if s, err := d.Status(); err != nil || s != 0x0800 {
		t.Errorf("Status() = %#04x, %v", s, err)
	}
}

func TestLinear11(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		word uint16
	}{
		{4.8, 0xCA66}, {0.25, 0xAA00}, {650, 0x028A}, {25, 0xDB20}, {30, 0xDBC0},
		{0, 0x8000}, {-1, 0xB400}, {1023, 0x03FF}, {1024, 0x0A00},
	} {
		got, err := encodeLinear11(tc.v)
		if err != nil || got != tc.word {
			t.Errorf("encodeLinear11(%v) = %#04x, %v; want %#04x", tc.v, got, err, tc.word)
		}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), 1 << 30} {
		if _, err := encodeLinear11(v); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("encodeLinear11(%v) = %v, want ErrOutOfRange", v, err)
		}
	}
	if got := decodeLinear11(0xCA66); got != 4.796875 {
		t.Errorf("decodeLinear11(0xCA66) = %v", got)
	}
}

func TestVoutMode(t *testing.T) {
	for mode, want := range map[byte]int{0x17: -9, 0x18: -8, 0x00: 0, 0x0F: 15, 0x10: -16, 0x1F: -1} {
		if got, err := voutExponent(mode); err != nil || got != want {
			t.Errorf("voutExponent(%#02x) = %d, %v; want %d", mode, got, err, want)
		}
	}
	for _, mode := range []byte{0x20, 0x40, 0x97} {
		if _, err := voutExponent(mode); err == nil {
			t.Errorf("voutExponent(%#02x) accepted", mode)
		}
	}
	if _, err := encodeULinear16(200, -9); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("200 V at 2^-9 fit: %v", err)
	}
}

func FuzzPMBusDecode(f *testing.F) {
	for _, s := range []struct {
		w    uint16
		mode byte
	}{{0xCA66, 0x17}, {0xDB20, 0x18}, {0x028A, 0x00}, {0xFFFF, 0x1F}, {0x8000, 0x40}} {
		f.Add(s.w, s.mode)
	}
	f.Fuzz(func(t *testing.T, w uint16, mode byte) {
		v := decodeLinear11(w)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("decodeLinear11(%#04x) = %v", w, v)
		}
		// Re-encoding keeps the value to within the coarser of the two
		// exponents' resolution.
		back, err := encodeLinear11(v)
		if err != nil {
			t.Fatalf("encodeLinear11(%v) from %#04x: %v", v, w, err)
		}
		if d := math.Abs(decodeLinear11(back) - v); d > math.Abs(v)/1000+1e-4 {
			t.Fatalf("linear11 %#04x → %v → %#04x → %v", w, v, back, decodeLinear11(back))
		}
		exp, err := voutExponent(mode)
		if err != nil {
			return
		}
		u := decodeULinear16(w, exp)
		if back, err := encodeULinear16(u, exp); err != nil || back != w {
			t.Fatalf("ulinear16 %#04x exp %d → %v → %#04x, %v", w, exp, u, back, err)
		}
	})
}
