package board

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// answering returns a probe under which exactly addrs answer on bus, and a
// counter of how often it was asked.
func answering(bus string, addrs ...uint16) (func(string, uint16) bool, *int) {
	calls := new(int)
	return func(b string, a uint16) bool {
		*calls++
		return b == bus && slices.Contains(addrs, a)
	}, calls
}

func dtModel(model string) fstest.MapFS {
	return fstest.MapFS{"proc/device-tree/model": {Data: []byte(model + "\x00")}}
}

func TestDetect(t *testing.T) {
	pi := dtModel("Raspberry Pi 4 Model B Rev 1.5")
	piSerial := []string{"/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/tty1"}
	tpsBoard, _ := answering("/dev/i2c-1", 0x4C, 0x24)
	dacBoard, _ := answering("/dev/i2c-1", 0x4C, 0x48, 0x40)
	onlyFan, _ := answering("/dev/i2c-1", 0x4C)
	wrongBus, _ := answering("/dev/i2c-0", 0x4C, 0x24)
	for _, tc := range []struct {
		name string
		env  DetectEnv
		want []string // Match, best first; Detect returns the first
	}{
		{"nothing at all", DetectEnv{}, nil},
		{"a PC: serial ports, no device tree, no probe", DetectEnv{Serial: []string{"/dev/ttyS0", "/dev/ttyS1", "/dev/ttyS2", "/dev/ttyS3"}}, nil},
		{"USB adapter only", DetectEnv{FS: pi, Serial: []string{"/dev/ttyUSB0", "/dev/ttyACM0"}}, nil},
		{"EMC2101 and TPS546 on a Pi", DetectEnv{FS: pi, Probe: tpsBoard, Serial: piSerial},
			[]string{"bitaxe-gamma", "bitaxe-supra"}},
		{"DS4432U, INA260 and EMC2101 on a Pi", DetectEnv{FS: pi, Probe: dacBoard, Serial: piSerial},
			[]string{"bitaxe-ultra", "bitaxe-max"}},
		{"a fan controller alone is not a board", DetectEnv{FS: pi, Probe: onlyFan, Serial: piSerial}, nil},
		{"parts on another bus", DetectEnv{FS: pi, Probe: wrongBus, Serial: piSerial}, nil},
		{"I2C matches but the UART is missing", DetectEnv{FS: pi, Probe: tpsBoard, Serial: []string{"/dev/ttyUSB0"}}, nil},
		{"device-tree model names the board", DetectEnv{FS: dtModel("Bitaxe Hex 302"), Serial: piSerial},
			[]string{"bitaxe-hex"}},
		{"model beats I2C", DetectEnv{FS: dtModel("bitaxe supra 403"), Probe: tpsBoard, Serial: piSerial},
			[]string{"bitaxe-supra", "bitaxe-gamma"}},
		{"compatible names the board", DetectEnv{
			FS: fstest.MapFS{
				"proc/device-tree/model":      {Data: []byte("Xilinx Zynq\x00")},
				"proc/device-tree/compatible": {Data: []byte("kiln,antminer-s19xp\x00xlnx,zynq-7000\x00")},
			},
			Serial: []string{"/dev/ttyS0", "/dev/ttyS1", "/dev/ttyS2", "/dev/ttyS3"},
		}, []string{"antminer-s19xp"}},
		{"multi-chain board missing a chain's UART", DetectEnv{
			FS: dtModel("Antminer S19 XP"), Serial: []string{"/dev/ttyS1", "/dev/ttyS2"},
		}, nil},
		{"device tree under /sys", DetectEnv{
			FS:     fstest.MapFS{"sys/firmware/devicetree/base/model": {Data: []byte("Bitaxe Gamma 601\x00")}},
			Serial: piSerial,
		}, []string{"bitaxe-gamma"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range Match(tc.env) {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
			p, ok := Detect(tc.env)
			if ok != (len(tc.want) > 0) || (ok && p.Name != tc.want[0]) {
				t.Errorf("Detect = %q, %v; want %v", p.Name, ok, tc.want)
			}
			if !ok && p.Name != "" {
				t.Errorf("Detect found nothing but returned %q", p.Name)
			}
		})
	}
}

func TestDetectProbesEachAddressOnce(t *testing.T) {
	probe, calls := answering("/dev/i2c-1", 0x4C, 0x24, 0x48, 0x40)
	Detect(DetectEnv{Probe: probe, Serial: []string{"/dev/serial0"}})
	// Four distinct addresses on one bus, however many profiles list them.
	if *calls != 4 {
		t.Errorf("probed %d times, want 4", *calls)
	}
}

func TestSerialDevices(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"ttyS1", "ttyUSB0", "serial0", "null", "i2c-1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "serial"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "serial0"), filepath.Join(dir, "ttyS1"), filepath.Join(dir, "ttyUSB0")}
	if diff := cmp.Diff(want, serialDevices(dir)); diff != "" {
		t.Errorf("serialDevices (-want +got):\n%s", diff)
	}
	if got := serialDevices(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("missing dir: %v", got)
	}
	env := HostEnv(nil)
	if env.FS == nil || env.Probe != nil {
		t.Errorf("HostEnv(nil) = %+v", env)
	}
}

func TestParseDeviceTree(t *testing.T) {
	for in, want := range map[string]string{
		"Bitaxe Gamma\x00":   "Bitaxe Gamma",
		"Bitaxe Gamma":       "Bitaxe Gamma",
		" Pi 5 \x00junk\x00": "Pi 5",
		"\x00":               "",
		"bad \xff utf8\x00":  "bad  utf8",
	} {
		if got := ParseModel([]byte(in)); got != want {
			t.Errorf("ParseModel(%q) = %q, want %q", in, got, want)
		}
	}
	got := ParseCompatible([]byte("kiln,bitaxe-gamma\x00raspberrypi,4-model-b\x00\x00brcm,bcm2711\x00"))
	want := []string{"kiln,bitaxe-gamma", "raspberrypi,4-model-b", "brcm,bcm2711"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseCompatible (-want +got):\n%s", diff)
	}
}

func FuzzDeviceTree(f *testing.F) {
	f.Add([]byte("Bitaxe Gamma 601\x00"), []byte("kiln,bitaxe-gamma\x00brcm,bcm2711\x00"))
	f.Add([]byte("Raspberry Pi 4 Model B Rev 1.5\x00"), []byte("raspberrypi,4-model-b\x00"))
	f.Add([]byte{}, []byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, model, compatible []byte) {
		env := DetectEnv{
			FS: fstest.MapFS{
				"proc/device-tree/model":      {Data: model},
				"proc/device-tree/compatible": {Data: compatible},
			},
			Serial: []string{"/dev/serial0", "/dev/ttyS1", "/dev/ttyS2", "/dev/ttyS3"},
		}
		for _, p := range Match(env) {
			if p.Name == USBName {
				t.Fatal("USB profile detected")
			}
		}
		for _, c := range ParseCompatible(compatible) {
			if c == "" {
				t.Fatal("empty compatible entry")
			}
		}
	})
}
