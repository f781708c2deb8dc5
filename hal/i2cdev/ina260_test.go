package i2cdev

import (
	"errors"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

var inaID = i2ctest.IO{Addr: 0x40, W: []byte{0xFE}, R: []byte{0x54, 0x49}} // manufacturer "TI"

func TestINA260(t *testing.T) {
	bus := playback(t, inaID,
		i2ctest.IO{Addr: 0x40, W: []byte{0x01}, R: []byte{0x03, 0xE8}}, // current 1000 × 1.25 mA
		i2ctest.IO{Addr: 0x40, W: []byte{0x01}, R: []byte{0xFF, 0x38}}, // current -200 × 1.25 mA
		i2ctest.IO{Addr: 0x40, W: []byte{0x02}, R: []byte{0x0F, 0xA0}}, // bus voltage 4000 × 1.25 mV
		i2ctest.IO{Addr: 0x40, W: []byte{0x03}, R: []byte{0x02, 0x71}}, // power 625 × 10 mW
	)
	n, err := NewINA260(bus, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := n.Current(); err != nil || c != 1250*physic.MilliAmpere {
		t.Errorf("Current() = %v, %v", c, err)
	}
	if c, err := n.Current(); err != nil || c != -250*physic.MilliAmpere {
		t.Errorf("Current() = %v, %v", c, err)
	}
	if v, err := n.Voltage(); err != nil || v != 5*physic.Volt {
		t.Errorf("Voltage() = %v, %v", v, err)
	}
	if p, err := n.Power(); err != nil || p != 6250*physic.MilliWatt {
		t.Errorf("Power() = %v, %v", p, err)
	}
}

func TestINA260Errors(t *testing.T) {
	wrong := playback(t, i2ctest.IO{Addr: 0x41, W: []byte{0xFE}, R: []byte{0x12, 0x34}})
	if _, err := NewINA260(wrong, 0x41); !errors.Is(err, ErrWrongDevice) {
		t.Errorf("wrong manufacturer: %v", err)
	}
	failEach(t, 1, nil, func(bus i2c.Bus) error {
		_, err := NewINA260(bus, 0)
		return err
	})
	for name, read := range map[string]func(*INA260) error{
		"current": func(n *INA260) error { _, err := n.Current(); return err },
		"voltage": func(n *INA260) error { _, err := n.Voltage(); return err },
		"power":   func(n *INA260) error { _, err := n.Power(); return err },
	} {
		failEach(t, 1, nil, func(bus i2c.Bus) error {
			err := read(&INA260{r: newRegs(bus, INA260Addr, "ina260")})
			if err != nil && !errors.Is(err, errBus) {
				t.Errorf("%s: %v", name, err)
			}
			return err
		})
	}
}

func FuzzINA260Decode(f *testing.F) {
	for _, w := range []uint16{0x03E8, 0xFF38, 0x0FA0, 0x0271, 0x8000, 0xFFFF} {
		f.Add(w)
	}
	f.Fuzz(func(t *testing.T, w uint16) {
		if c := inaCurrentValue(w); c < -32768*1250*physic.MicroAmpere || c > 32767*1250*physic.MicroAmpere {
			t.Fatalf("current %#04x = %v", w, c)
		}
		if v := inaVoltageValue(w); v < 0 || v > 65535*1250*physic.MicroVolt {
			t.Fatalf("voltage %#04x = %v", w, v)
		}
		if p := inaPowerValue(w); p < 0 || p > 65535*10*physic.MilliWatt {
			t.Fatalf("power %#04x = %v", w, p)
		}
	})
}
