package i2cdev

import (
	"errors"
	"math"
	"testing"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// emcInit is what NewEMC2101 sends with no diode tuning.
var emcInit = []i2ctest.IO{
	{Addr: 0x4C, W: []byte{0xFD}, R: []byte{0x16}}, // product id: EMC2101
	{Addr: 0x4C, W: []byte{0x03, 0x04}},            // config: pin 4 is the tach input
	{Addr: 0x4C, W: []byte{0x4A, 0x23}},            // fan config
}

func newEMC(t *testing.T, ops ...i2ctest.IO) *EMC2101 {
	t.Helper()
	e, err := NewEMC2101(playback(t, append(append([]i2ctest.IO{}, emcInit...), ops...)...), 0, EMC2101Config{})
	if err != nil {
		t.Fatalf("NewEMC2101: %v", err)
	}
	return e
}

func TestEMC2101Init(t *testing.T) {
	t.Run("gamma diode tuning, EMC2101-R", func(t *testing.T) {
		bus := playback(t,
			i2ctest.IO{Addr: 0x4D, W: []byte{0xFD}, R: []byte{0x28}}, // product id: EMC2101-R
			i2ctest.IO{Addr: 0x4D, W: []byte{0x03, 0x04}},
			i2ctest.IO{Addr: 0x4D, W: []byte{0x4A, 0x23}},
			i2ctest.IO{Addr: 0x4D, W: []byte{0x17, 0x24}}, // ideality factor
			i2ctest.IO{Addr: 0x4D, W: []byte{0x18, 0x00}}, // beta compensation
		)
		if _, err := NewEMC2101(bus, 0x4D, EMC2101Config{Ideality: ptr[uint8](0x24), Beta: ptr[uint8](0)}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong product", func(t *testing.T) {
		bus := playback(t, i2ctest.IO{Addr: 0x4C, W: []byte{0xFD}, R: []byte{0x5A}})
		_, err := NewEMC2101(bus, 0, EMC2101Config{})
		if !errors.Is(err, ErrWrongDevice) {
			t.Errorf("err = %v, want ErrWrongDevice", err)
		}
	})
	t.Run("bus fails", func(t *testing.T) {
		failEach(t, 3, emcInit, func(bus i2c.Bus) error {
			_, err := NewEMC2101(bus, 0, EMC2101Config{})
			return err
		})
	})
}

func TestEMC2101SetDuty(t *testing.T) {
	for _, tc := range []struct {
		percent float64
		code    byte
	}{{0, 0x00}, {100, 0x3F}, {50, 0x20}, {33, 0x15}, {0.7, 0x00}, {0.8, 0x01}} {
		rec := recorder(nil)
		e := &EMC2101{r: newRegs(rec, EMC2101Addr, "emc2101")}
		if err := e.SetDuty(tc.percent); err != nil {
			t.Fatalf("SetDuty(%v): %v", tc.percent, err)
		}
		checkOps(t, []i2ctest.IO{{Addr: 0x4C, W: []byte{0x4C, tc.code}}}, rec)
	}
	rec := recorder(nil)
	e := &EMC2101{r: newRegs(rec, EMC2101Addr, "emc2101")}
	for _, bad := range []float64{-0.1, 100.1, math.NaN()} {
		if err := e.SetDuty(bad); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("SetDuty(%v) = %v, want ErrOutOfRange", bad, err)
		}
	}
	checkOps(t, nil, rec)
}

func TestEMC2101Duty(t *testing.T) {
	e := newEMC(t, i2ctest.IO{Addr: 0x4C, W: []byte{0x4C}, R: []byte{0x3F}})
	if d, err := e.Duty(); err != nil || d != 100 {
		t.Errorf("Duty() = %v, %v; want 100", d, err)
	}
}

func TestEMC2101RPM(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi byte
		rpm    int
	}{
		{"2000 rpm", 0x8C, 0x0A, 2000}, // count 2700
		{"fast", 0x40, 0x02, 9375},     // count 576
		{"stalled", 0xFF, 0xFF, 0},
		{"zero count", 0x00, 0x00, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEMC(t,
				i2ctest.IO{Addr: 0x4C, W: []byte{0x46}, R: []byte{tc.lo}}, // tach low, latches high
				i2ctest.IO{Addr: 0x4C, W: []byte{0x47}, R: []byte{tc.hi}},
			)
			if rpm, err := e.RPM(); err != nil || rpm != tc.rpm {
				t.Errorf("RPM() = %d, %v; want %d", rpm, err, tc.rpm)
			}
		})
	}
	ops := []i2ctest.IO{{Addr: 0x4C, W: []byte{0x46}, R: []byte{0}}, {Addr: 0x4C, W: []byte{0x47}, R: []byte{1}}}
	failEach(t, 2, ops, func(bus i2c.Bus) error {
		_, err := (&EMC2101{r: newRegs(bus, EMC2101Addr, "emc2101")}).RPM()
		return err
	})
}

func TestEMC2101Temperature(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hi, lo byte
		want   physic.Temperature
		fault  bool
	}{
		{"45.625 °C", 0x2D, 0xA0, celsius(45.625), false},
		{"0 °C", 0x00, 0x00, celsius(0), false},
		{"-5.25 °C", 0xFA, 0xC0, celsius(-5.25), false},
		{"low bits ignored", 0x3C, 0x1F, celsius(60), false},
		{"127 °C less an eighth", 0x7F, 0xC0, celsius(127.75), false},
		{"diode open (0x3F8)", 0x7F, 0x00, 0, true},
		{"diode shorted (0x3FF)", 0x7F, 0xE0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEMC(t,
				i2ctest.IO{Addr: 0x4C, W: []byte{0x01}, R: []byte{tc.hi}}, // external high, latches low
				i2ctest.IO{Addr: 0x4C, W: []byte{0x10}, R: []byte{tc.lo}},
			)
			got, err := e.Temperature()
			if tc.fault {
				if !errors.Is(err, ErrSensorFault) {
					t.Errorf("Temperature() = %v, %v; want ErrSensorFault", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Temperature() = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	ops := []i2ctest.IO{{Addr: 0x4C, W: []byte{0x01}, R: []byte{0}}, {Addr: 0x4C, W: []byte{0x10}, R: []byte{0}}}
	failEach(t, 2, ops, func(bus i2c.Bus) error {
		_, err := (&EMC2101{r: newRegs(bus, EMC2101Addr, "emc2101")}).Temperature()
		return err
	})
}

func TestEMC2101Internal(t *testing.T) {
	e := newEMC(t,
		i2ctest.IO{Addr: 0x4C, W: []byte{0x00}, R: []byte{0x2A}}, // 42 °C
		i2ctest.IO{Addr: 0x4C, W: []byte{0x00}, R: []byte{0xFB}}, // -5 °C
		i2ctest.IO{Addr: 0x4C, W: []byte{0x00}, R: []byte{0x32}}, // 50 °C, read through a +5 °C offset
	)
	if got, err := e.InternalTemperature(); err != nil || got != celsius(42) {
		t.Errorf("InternalTemperature() = %v, %v", got, err)
	}
	if got, err := e.InternalTemperature(); err != nil || got != celsius(-5) {
		t.Errorf("InternalTemperature() = %v, %v", got, err)
	}
	if got, err := e.Internal(5 * physic.Celsius).Temperature(); err != nil || got != celsius(55) {
		t.Errorf("Internal(+5).Temperature() = %v, %v", got, err)
	}
	failEach(t, 1, nil, func(bus i2c.Bus) error {
		_, err := (&EMC2101{r: newRegs(bus, EMC2101Addr, "emc2101")}).Internal(0).Temperature()
		return err
	})
}

func FuzzEMC2101Decode(f *testing.F) {
	for _, s := range [][2]byte{{0x2D, 0xA0}, {0xFB, 0xC0}, {0x7F, 0x00}, {0x7F, 0xE0}, {0xFF, 0xFF}, {0, 0}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, hi, lo byte) {
		temp, err := externalTemp(hi, lo)
		if err == nil {
			c := temp.Celsius()
			if c < -128 || c >= 128 || c != math.Round(c*8)/8 {
				t.Fatalf("externalTemp(%#x, %#x) = %v °C, outside the 11-bit range or not in eighths", hi, lo, c)
			}
		} else if !errors.Is(err, ErrSensorFault) {
			t.Fatalf("externalTemp error %v does not wrap ErrSensorFault", err)
		}
		rpm := tachRPM(hi, lo)
		if rpm < 0 || rpm > emcTachConstant {
			t.Fatalf("tachRPM(%#x, %#x) = %d", hi, lo, rpm)
		}
	})
}
