package i2cdev

import (
	"errors"
	"math"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

func TestDS4432UCode(t *testing.T) {
	// The check values open Bitaxe firmware is known to produce.
	for _, tc := range []struct {
		mv   int64
		code byte
	}{
		{1200, 0xC6}, // source 70 steps
		{1150, 0xD4}, // source 84 steps
		{1400, 0x90}, // source 16 steps
		{1500, 0x0C}, // above nominal: sink 12 steps
		{1455, 0x81}, // between 1.451 V and the zero-current 1.458 V: source 1 step
	} {
		got, err := DS4432UCode(physic.ElectricPotential(tc.mv) * physic.MilliVolt)
		if err != nil || got != tc.code {
			t.Errorf("DS4432UCode(%d mV) = %#02x, %v; want %#02x", tc.mv, got, err, tc.code)
		}
	}
	for _, mv := range []int64{0, -1200, 500, 950, 2000, 2390} {
		if _, err := DS4432UCode(physic.ElectricPotential(mv) * physic.MilliVolt); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("DS4432UCode(%d mV) = %v, want ErrOutOfRange", mv, err)
		}
	}
}

func TestDS4432U(t *testing.T) {
	bus := playback(t,
		i2ctest.IO{Addr: 0x48, W: []byte{0xF8}, R: []byte{0x00}}, // presence: read OUT0
		i2ctest.IO{Addr: 0x48, W: []byte{0xF8, 0xC6}},            // 1.20 V
		i2ctest.IO{Addr: 0x48, W: []byte{0xF8}, R: []byte{0xC6}}, // read back
	)
	d, err := NewDS4432U(bus, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetVoltage(1200 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	if err := d.SetVoltage(2 * physic.Volt); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("SetVoltage(2 V) = %v, want ErrOutOfRange", err)
	}
	v, err := d.Voltage()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(v-1200*physic.MilliVolt)) > float64(4*physic.MilliVolt) {
		t.Errorf("Voltage() = %v, want 1.2 V within one step", v)
	}

	out1 := playback(t, i2ctest.IO{Addr: 0x49, W: []byte{0xF9}, R: []byte{0x80}})
	if _, err := NewDS4432U(out1, 0x49, 1); err != nil {
		t.Errorf("output 1: %v", err)
	}
	if _, err := NewDS4432U(playback(t), 0, 2); err == nil {
		t.Error("output 2 accepted")
	}
	failEach(t, 1, nil, func(bus i2c.Bus) error {
		_, err := NewDS4432U(bus, 0, 0)
		return err
	})
	failEach(t, 1, nil, func(bus i2c.Bus) error {
		return (&DS4432U{r: newRegs(bus, DS4432UAddr, "ds4432u"), reg: dsOut0}).SetVoltage(1200 * physic.MilliVolt)
	})
}

// step is one DAC step at the output: full scale / 127 through Rtop.
const step = dsFullScale / 127 * dsRTop

func FuzzDS4432UVoltage(f *testing.F) {
	for _, c := range []byte{0xC6, 0xD4, 0x90, 0x00, 0x80, 0x7F, 0xFF} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, code byte) {
		v := DS4432UVoltage(code)
		volts := float64(v) / 1e9
		if volts < 0.98 || volts > 1.94 {
			t.Fatalf("code %#02x sets %v, outside the DAC's reach", code, v)
		}
		// Encoding the decoded voltage lands within a step.
		back, err := DS4432UCode(v)
		if err != nil {
			t.Fatalf("code %#02x → %v → %v", code, v, err)
		}
		if d := math.Abs(float64(DS4432UVoltage(back)-v)) / 1e9; d > step+1e-9 {
			t.Fatalf("code %#02x → %v → %#02x → %v", code, v, back, DS4432UVoltage(back))
		}
	})
}
