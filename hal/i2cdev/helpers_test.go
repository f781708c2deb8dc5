package i2cdev

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
)

// playback returns a bus that expects exactly ops, byte for byte, and
// checks at the end of the test that all of them happened.
func playback(t *testing.T, ops ...i2ctest.IO) *i2ctest.Playback {
	t.Helper()
	p := &i2ctest.Playback{Ops: ops, DontPanic: true}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("bus: %v", err)
		}
	})
	return p
}

// recorder records every transaction on top of bus (nil: writes only), for
// tests that compare what a driver sent with a golden list.
func recorder(bus i2c.Bus) *i2ctest.Record { return &i2ctest.Record{Bus: bus} }

func checkOps(t *testing.T, want []i2ctest.IO, rec *i2ctest.Record) {
	t.Helper()
	if diff := cmp.Diff(want, rec.Ops); diff != "" {
		t.Errorf("bus transactions (-want +got):\n%s", diff)
	}
}

var errBus = errors.New("bus: no acknowledge")

// failingBus passes transactions to its inner bus until the failAt-th
// (1-based), which fails as a device that stopped answering would.
type failingBus struct {
	i2c.Bus
	failAt int
	n      int
}

func (f *failingBus) Tx(addr uint16, w, r []byte) error {
	f.n++
	if f.n == f.failAt {
		return errBus
	}
	return f.Bus.Tx(addr, w, r)
}

// failEach runs run against a bus that fails at transaction 1, 2, … n and
// checks every run reports errBus.
func failEach(t *testing.T, n int, ops []i2ctest.IO, run func(bus i2c.Bus) error) {
	t.Helper()
	for i := 1; i <= n; i++ {
		bus := &failingBus{Bus: &i2ctest.Playback{Ops: ops, DontPanic: true}, failAt: i}
		if err := run(bus); !errors.Is(err, errBus) {
			t.Errorf("bus failing at transaction %d: err = %v, want errBus", i, err)
		}
	}
}

func celsius(c float64) physic.Temperature {
	return physic.ZeroCelsius + physic.Temperature(c*float64(physic.Celsius))
}

func ptr[T any](v T) *T { return &v }

func TestProbe(t *testing.T) {
	bus := playback(t, i2ctest.IO{Addr: 0x4C, R: []byte{0x16}})
	if !Probe(bus, 0x4C) {
		t.Error("Probe missed the device at 0x4C")
	}
	if Probe(&failingBus{Bus: bus, failAt: 1}, 0x24) {
		t.Error("Probe reported a device on a bus that does not acknowledge")
	}
}
