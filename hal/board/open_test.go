package board

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal/i2cdev"
)

// rig is a fake host: named GPIO lines and one I²C bus playing back the
// expected traffic.
type rig struct {
	pins   map[string]*gpiotest.Pin
	bus    *i2ctest.Playback
	opened []string // bus names opened
}

func newRig(ops []i2ctest.IO, lines ...string) *rig {
	r := &rig{pins: map[string]*gpiotest.Pin{}, bus: &i2ctest.Playback{Ops: ops, DontPanic: true}}
	for i, n := range lines {
		// Lines start the way a board's pull-ups leave them: high.
		r.pins[n] = &gpiotest.Pin{N: n, Num: i, L: gpio.High}
	}
	return r
}

func (r *rig) host() Host {
	return Host{
		OpenI2C: func(name string) (i2c.BusCloser, error) {
			r.opened = append(r.opened, name)
			return r.bus, nil
		},
		Pin: func(name string) (gpio.PinIO, error) {
			if p, ok := r.pins[name]; ok {
				return p, nil
			}
			return nil, fmt.Errorf("no line %q", name)
		},
	}
}

func (r *rig) level(name string) gpio.Level { return r.pins[name].Read() }

const tps, emc, dac, ina = 0x24, 0x4C, 0x48, 0x40

// gammaInit is the traffic of opening a Bitaxe Gamma: the regulator first,
// output off, then the fan controller with the Gamma diode tuning.
var gammaInit = []i2ctest.IO{
	{Addr: tps, W: []byte{0xAD}, R: []byte{0x06, 0x54, 0x49, 0x54, 0x6B, 0x24, 0x41}}, // IC_DEVICE_ID
	{Addr: tps, W: []byte{0x01, 0x00}},                                                // OPERATION off
	{Addr: tps, W: []byte{0x02, 0x18}},                                                // ON_OFF_CONFIG
	{Addr: tps, W: []byte{0x03}},                                                      // CLEAR_FAULTS
	{Addr: tps, W: []byte{0x20}, R: []byte{0x17}},                                     // VOUT_MODE 2^-9
	{Addr: tps, W: []byte{0x35, 0x66, 0xCA}},                                          // VIN_ON 4.8 V
	{Addr: tps, W: []byte{0x36, 0x40, 0xCA}},                                          // VIN_OFF 4.5 V
	{Addr: tps, W: []byte{0x29, 0x00, 0xAA}},                                          // VOUT_SCALE_LOOP 0.25
	{Addr: tps, W: []byte{0x33, 0x8A, 0x02}},                                          // FREQUENCY_SWITCH 650 kHz
	{Addr: tps, W: []byte{0x4A, 0x20, 0xDB}},                                          // IOUT_OC_WARN 25 A
	{Addr: tps, W: []byte{0x46, 0xC0, 0xDB}},                                          // IOUT_OC_FAULT 30 A
	{Addr: tps, W: []byte{0x24, 0x00, 0x04}},                                          // VOUT_MAX 2 V
	{Addr: tps, W: []byte{0x2B, 0x00, 0x02}},                                          // VOUT_MIN 1 V
	{Addr: emc, W: []byte{0xFD}, R: []byte{0x16}},                                     // EMC2101 product id
	{Addr: emc, W: []byte{0x03, 0x04}},                                                // tach input on
	{Addr: emc, W: []byte{0x4A, 0x23}},                                                // fan config
	{Addr: emc, W: []byte{0x17, 0x24}},                                                // ideality 0x24
	{Addr: emc, W: []byte{0x18, 0x00}},                                                // beta 0x00
}

func names[T any](items []T, name func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func TestOpenGamma(t *testing.T) {
	ops := append(append([]i2ctest.IO{}, gammaInit...),
		i2ctest.IO{Addr: tps, W: []byte{0x21, 0x4D, 0x02}},      // VOUT_COMMAND 1.15 V: 589 × 2^-9
		i2ctest.IO{Addr: tps, W: []byte{0x01, 0x80}},            // OPERATION on
		i2ctest.IO{Addr: emc, W: []byte{0x01}, R: []byte{0x3C}}, // diode: 60 °C
		i2ctest.IO{Addr: emc, W: []byte{0x10}, R: []byte{0x00}},
		i2ctest.IO{Addr: emc, W: []byte{0x4C, 0x20}}, // fan 50 %
		i2ctest.IO{Addr: tps, W: []byte{0x01, 0x00}}, // Close: OPERATION off
	)
	r := newRig(ops, "ASIC_RST_N", "ASIC_PWR_EN_N")
	p, _ := Lookup("bitaxe-gamma")
	hw, err := Open(p, r.host())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if diff := cmp.Diff([]string{"/dev/i2c-1"}, r.opened); diff != "" {
		t.Errorf("buses opened (-want +got):\n%s", diff)
	}
	// Safe state: chips in reset, supply (active low) off.
	if r.level("ASIC_RST_N") != gpio.Low || r.level("ASIC_PWR_EN_N") != gpio.High {
		t.Errorf("after Open: reset %v, enable %v; want reset low, enable high (off)", r.level("ASIC_RST_N"), r.level("ASIC_PWR_EN_N"))
	}
	if got := names(hw.Temps, func(n NamedTemp) string { return n.Name }); !cmp.Equal(got, []string{"vcore", "asic", "board"}) {
		t.Errorf("temps %v", got)
	}
	if got := names(hw.Fans, func(n NamedFan) string { return n.Name }); !cmp.Equal(got, []string{"fan"}) {
		t.Errorf("fans %v", got)
	}
	if got := names(hw.Power, func(n NamedPower) string { return n.Name }); !cmp.Equal(got, []string{"vcore"}) {
		t.Errorf("power monitors %v", got)
	}
	c := hw.Chains[0]
	if c.Regulator == nil || c.Reset == nil || c.Power == nil {
		t.Fatalf("chain parts missing: %+v", c)
	}
	if err := c.Power.SetPower(true); err != nil || r.level("ASIC_PWR_EN_N") != gpio.Low {
		t.Errorf("power on: %v, enable %v", err, r.level("ASIC_PWR_EN_N"))
	}
	if err := c.Regulator.SetVoltage(1150 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	if temp, err := hw.Temps[1].Temperature(); err != nil || temp != physic.ZeroCelsius+60*physic.Celsius {
		t.Errorf("asic temperature %v, %v", temp, err)
	}
	if err := hw.Fans[0].SetDuty(50); err != nil {
		t.Fatal(err)
	}
	if err := hw.Close(); err != nil {
		t.Fatalf("Close: %v", err) // includes the playback's check that every op happened
	}
	if r.level("ASIC_RST_N") != gpio.Low || r.level("ASIC_PWR_EN_N") != gpio.High {
		t.Error("Close did not leave the chain in reset with its supply off")
	}
}

func TestOpenUltra(t *testing.T) {
	r := newRig([]i2ctest.IO{
		{Addr: dac, W: []byte{0xF8}, R: []byte{0x00}},       // DS4432U OUT0
		{Addr: ina, W: []byte{0xFE}, R: []byte{0x54, 0x49}}, // INA260 manufacturer "TI"
		{Addr: emc, W: []byte{0xFD}, R: []byte{0x28}},       // EMC2101-R
		{Addr: emc, W: []byte{0x03, 0x04}},
		{Addr: emc, W: []byte{0x4A, 0x23}},
		{Addr: emc, W: []byte{0x00}, R: []byte{0x32}},       // die 50 °C, +5 offset
		{Addr: dac, W: []byte{0xF8, 0xC6}},                  // 1.2 V
		{Addr: ina, W: []byte{0x03}, R: []byte{0x03, 0x84}}, // 900 × 10 mW
	}, "ASIC_RST_N", "ASIC_PWR_EN_N")
	p, _ := Lookup("bitaxe-ultra")
	hw, err := Open(p, r.host())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := names(hw.Temps, func(n NamedTemp) string { return n.Name }); !cmp.Equal(got, []string{"asic"}) {
		t.Errorf("temps %v", got)
	}
	if temp, err := hw.Temps[0].Temperature(); err != nil || temp != physic.ZeroCelsius+55*physic.Celsius {
		t.Errorf("asic temperature %v, %v", temp, err)
	}
	if err := hw.Chains[0].Regulator.SetVoltage(1200 * physic.MilliVolt); err != nil {
		t.Fatal(err)
	}
	if w, err := hw.Power[0].Power(); err != nil || w != 9*physic.Watt || hw.Power[0].Name != "power" {
		t.Errorf("power %s = %v, %v", hw.Power[0].Name, w, err)
	}
	if err := hw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestOpenMultiChain(t *testing.T) {
	root := t.TempDir()
	ch := filepath.Join(root, "pwmchip0", "pwm0")
	if err := os.MkdirAll(ch, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"period", "duty_cycle", "enable"} {
		if err := os.WriteFile(filepath.Join(ch, n), []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := newRig(nil, "CHAIN1_RST_N", "CHAIN2_RST_N", "CHAIN3_RST_N")
	h := r.host()
	h.PWMRoot = root
	p, _ := Lookup("antminer-s19xp")
	hw, err := Open(p, h)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(r.opened) != 0 {
		t.Errorf("opened i2c buses %v on a board without i2c parts", r.opened)
	}
	for i, n := range []string{"CHAIN1_RST_N", "CHAIN2_RST_N", "CHAIN3_RST_N"} {
		if r.level(n) != gpio.Low {
			t.Errorf("%s not held low", n)
		}
		if hw.Chains[i].Chain.Device != fmt.Sprintf("/dev/ttyS%d", i+1) || hw.Chains[i].Power != nil || hw.Chains[i].Regulator != nil {
			t.Errorf("chain %d: %+v", i, hw.Chains[i])
		}
	}
	if err := hw.Fans[0].SetDuty(60); err != nil {
		t.Fatal(err)
	}
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(ch, n))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if read("period") != "40000" || read("duty_cycle") != "24000" || read("enable") != "1" {
		t.Errorf("pwm: period %q duty %q enable %q", read("period"), read("duty_cycle"), read("enable"))
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	if read("enable") != "0" {
		t.Error("Close left the fan output enabled")
	}
}

func TestOpenErrors(t *testing.T) {
	gamma, _ := Lookup("bitaxe-gamma")
	usb, _ := Lookup("usb")
	t.Run("incomplete profile", func(t *testing.T) {
		if _, err := Open(usb, newRig(nil).host()); err == nil {
			t.Error("opened a USB profile without device and chip")
		}
	})
	t.Run("invalid profile", func(t *testing.T) {
		bad := gamma.Clone()
		bad.Chains = nil
		if _, err := Open(bad, newRig(nil).host()); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open = %v, want ErrInvalid", err)
		}
	})
	t.Run("missing power line", func(t *testing.T) {
		r := newRig(nil, "ASIC_RST_N")
		if _, err := Open(gamma, r.host()); err == nil {
			t.Fatal("Open succeeded without the power line")
		}
		if r.level("ASIC_RST_N") != gpio.Low {
			t.Error("reset line not left low after a failed open")
		}
	})
	t.Run("no gpio access", func(t *testing.T) {
		h := newRig(nil).host()
		h.Pin = nil
		if _, err := Open(gamma, h); err == nil {
			t.Error("Open succeeded without a way to open lines")
		}
	})
	t.Run("bus will not open", func(t *testing.T) {
		r := newRig(nil, "ASIC_RST_N", "ASIC_PWR_EN_N")
		h := r.host()
		h.OpenI2C = func(string) (i2c.BusCloser, error) { return nil, errors.New("permission denied") }
		if _, err := Open(gamma, h); err == nil {
			t.Error("Open succeeded without its bus")
		}
	})
	t.Run("wrong fan controller: regulator switched off again", func(t *testing.T) {
		ops := append([]i2ctest.IO{}, gammaInit[:13]...)
		ops = append(ops,
			i2ctest.IO{Addr: emc, W: []byte{0xFD}, R: []byte{0x5A}}, // not an EMC2101
			i2ctest.IO{Addr: tps, W: []byte{0x01, 0x00}},            // cleanup: OPERATION off
		)
		r := newRig(ops, "ASIC_RST_N", "ASIC_PWR_EN_N")
		_, err := Open(gamma, r.host())
		if !errors.Is(err, i2cdev.ErrWrongDevice) {
			t.Fatalf("Open = %v, want ErrWrongDevice", err)
		}
		if r.bus.Count != len(ops) {
			t.Errorf("%d of %d bus transactions happened", r.bus.Count, len(ops))
		}
	})
}
