package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

func TestTable(t *testing.T) {
	if _, err := table(); err != nil {
		t.Fatalf("built-in table: %v", err)
	}
	want := []string{"bitaxe-gamma", "bitaxe-supra", "bitaxe-ultra", "bitaxe-max", "bitaxe-hex", "antminer-s19xp", "usb"}
	if diff := cmp.Diff(want, Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	for _, p := range Profiles() {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if p.Description == "" {
			t.Errorf("%s: no description", p.Name)
		}
	}
}

// facts is what a test checks of a profile: the chip, the chains and the
// parts by kind and address.
type facts struct {
	chip     string
	mhz      int64
	mv       int64
	chains   []Chain
	devices  map[string]string // name → "kind@addr"
	complete bool
}

func factsOf(p Profile) facts {
	f := facts{
		chip: p.Chip, mhz: int64(p.Frequency / physic.MegaHertz), mv: int64(p.Voltage / physic.MilliVolt),
		chains: p.Chains, devices: map[string]string{}, complete: p.Complete(),
	}
	for _, d := range p.Devices {
		f.devices[d.Name] = string(d.Kind) + "@" + hexAddr(d.Addr)
	}
	return f
}

func hexAddr(a uint16) string { return fmt.Sprintf("0x%02X", a) }

func bitaxeChain(chips, domains int, baud hal.Baud) []Chain {
	return []Chain{{Device: "/dev/serial0", Chips: chips, Domains: domains, Baud: baud,
		Reset: "ASIC_RST_N", Power: "ASIC_PWR_EN_N", PowerActiveLow: true, Regulator: "vcore"}}
}

func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		want facts
	}{
		{"bitaxe-ultra", facts{"BM1366", 485, 1200, bitaxeChain(1, 0, 1000000),
			map[string]string{"vcore": "ds4432u@0x48", "power": "ina260@0x40", "fan": "emc2101@0x4C"}, true}},
		{"bitaxe-supra", facts{"BM1368", 490, 1166, bitaxeChain(1, 0, 1000000),
			map[string]string{"vcore": "tps546@0x24", "fan": "emc2101@0x4C"}, true}},
		{"bitaxe-gamma", facts{"BM1370", 525, 1150, bitaxeChain(1, 0, 1000000),
			map[string]string{"vcore": "tps546@0x24", "fan": "emc2101@0x4C"}, true}},
		{"bitaxe-max", facts{"BM1397", 425, 1400, bitaxeChain(1, 0, 3125000),
			map[string]string{"vcore": "ds4432u@0x48", "power": "ina260@0x40", "fan": "emc2101@0x4C"}, true}},
		{"bitaxe-hex", facts{"BM1366", 485, 1200, bitaxeChain(6, 3, 1000000),
			map[string]string{"vcore": "tps546@0x24"}, true}},
		{"antminer-s19xp", facts{"BM1366", 485, 1200, []Chain{
			{Device: "/dev/ttyS1", Chips: 110, Domains: 11, Baud: 1000000, Reset: "CHAIN1_RST_N"},
			{Device: "/dev/ttyS2", Chips: 110, Domains: 11, Baud: 1000000, Reset: "CHAIN2_RST_N"},
			{Device: "/dev/ttyS3", Chips: 110, Domains: 11, Baud: 1000000, Reset: "CHAIN3_RST_N"},
		}, map[string]string{"fan": "pwm-fan@0x00"}, true}},
		{"usb", facts{"", 0, 0, []Chain{{Chips: 1, Baud: 1000000}}, map[string]string{}, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Lookup(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, factsOf(p), cmp.AllowUnexported(facts{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestProfileDetails(t *testing.T) {
	gamma, _ := Lookup("bitaxe-gamma")
	fan, _ := gamma.Device("fan")
	if fan.Ideality == nil || *fan.Ideality != 0x24 || fan.Beta == nil || *fan.Beta != 0 || fan.Temp != "external" {
		t.Errorf("gamma EMC2101 diode set-up: %+v", fan)
	}
	vr, _ := gamma.Device("vcore")
	want := Device{Name: "vcore", Kind: KindTPS546, Addr: 0x24,
		VinOn: 4800 * physic.MilliVolt, VinOff: 4500 * physic.MilliVolt,
		VoutMin: physic.Volt, VoutMax: 2 * physic.Volt, ScaleLoop: 0.25,
		IoutOCWarn: 25 * physic.Ampere, IoutOCFault: 30 * physic.Ampere, SwitchFrequency: 650 * physic.KiloHertz}
	if diff := cmp.Diff(want, vr); diff != "" {
		t.Errorf("gamma TPS546 (-want +got):\n%s", diff)
	}
	ultra, _ := Lookup("bitaxe-ultra")
	if f, _ := ultra.Device("fan"); f.Temp != "internal" || f.TempOffset != 5*physic.Celsius {
		t.Errorf("ultra reads the EMC2101 die plus 5 °C: %+v", f)
	}
	hex, _ := Lookup("bitaxe-hex")
	if d, _ := hex.Device("vcore"); d.Domains != 3 || d.VoutMax != 4500*physic.MilliVolt {
		t.Errorf("hex TPS546 feeds 3 domains up to 4.5 V: %+v", d)
	}
	if _, ok := hex.Device("fan"); ok {
		t.Error("hex lists an EMC2101 it does not have")
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("bitaxe-nope")
	if err == nil || !strings.Contains(err.Error(), "bitaxe-gamma") {
		t.Errorf("Lookup of an unknown board: %v (should list the known ones)", err)
	}
}

func TestCloneIsolation(t *testing.T) {
	p, _ := Lookup("bitaxe-gamma")
	p.Chains[0].Device = "/dev/ttyAMA3"
	p.Devices[1].Addr = 0x10
	*p.Devices[1].Ideality = 0x99
	p.Detect.I2C[0] = 0x11
	again, _ := Lookup("bitaxe-gamma")
	if again.Chains[0].Device != "/dev/serial0" || again.Devices[1].Addr != 0x4C ||
		*again.Devices[1].Ideality != 0x24 || again.Detect.I2C[0] != 0x4C {
		t.Errorf("editing a looked-up profile changed the table: %+v", again)
	}
}

func TestUSB(t *testing.T) {
	p, err := USB("/dev/ttyUSB0", "bm1370", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Chip != "BM1370" || p.Chains[0].Device != "/dev/ttyUSB0" || p.Chains[0].Chips != 1 || !p.Complete() || len(p.Devices) != 0 {
		t.Errorf("USB profile: %+v", p)
	}
	if p, _ := USB("/dev/ttyACM0", "BM1397", 2); p.Chains[0].Baud != 1562500 || p.Chains[0].Chips != 2 {
		t.Errorf("BM1397 stick: %+v", p.Chains[0])
	}
	for _, tc := range []struct{ dev, chip string }{{"/dev/ttyUSB0", "BM9999"}, {"", "BM1366"}} {
		if _, err := USB(tc.dev, tc.chip, 1); err == nil {
			t.Errorf("USB(%q, %q) succeeded", tc.dev, tc.chip)
		}
	}
	if _, err := USB("/dev/ttyUSB0", "BM1366", -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("USB with -1 chips: %v", err)
	}
}

// base is a small valid profile the validation cases break one way each.
func base() Profile {
	return Profile{
		Name: "test-board", Chip: "BM1366", I2CBus: "/dev/i2c-1",
		Chains: []Chain{{Device: "/dev/ttyS1", Chips: 6, Domains: 3, Regulator: "vcore", Power: "EN", PowerActiveLow: true}},
		Devices: []Device{
			{Name: "vcore", Kind: KindTPS546, Addr: 0x24, Domains: 3},
			{Name: "fan", Kind: KindEMC2101, Addr: 0x4C},
			{Name: "pwm", Kind: KindPWMFan},
		},
		Detect: Detection{I2C: []uint16{0x24}},
	}
}

func TestValidate(t *testing.T) {
	if err := base().Validate(); err != nil {
		t.Fatalf("base: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(p *Profile)
		want   string
	}{
		{"no chains", func(p *Profile) { p.Chains = nil }, "no chains"},
		{"unknown device kind", func(p *Profile) { p.Devices[1].Kind = "emc2302" }, `unknown kind "emc2302"`},
		{"duplicate i2c address", func(p *Profile) { p.Devices[1].Addr = 0x24 }, "already used"},
		{"duplicate device name", func(p *Profile) { p.Devices[1].Name = "vcore" }, "listed twice"},
		{"unnamed device", func(p *Profile) { p.Devices[2].Name = "" }, "no name"},
		{"reserved i2c address", func(p *Profile) { p.Devices[1].Addr = 0x78 }, "outside 0x03–0x77"},
		{"i2c device without bus", func(p *Profile) { p.I2CBus = "" }, "no i2c_bus"},
		{"bad name", func(p *Profile) { p.Name = "Test Board" }, "lower-case"},
		{"empty name", func(p *Profile) { p.Name = "" }, "name"},
		{"unknown chip", func(p *Profile) { p.Chip = "BM1234" }, `chip "BM1234"`},
		{"no chips", func(p *Profile) { p.Chains[0].Chips = 0 }, "at least 1"},
		{"uneven domains", func(p *Profile) { p.Chains[0].Domains = 4 }, "do not split"},
		{"regulator missing", func(p *Profile) { p.Chains[0].Regulator = "vr2" }, "not a listed device"},
		{"regulator is a fan", func(p *Profile) { p.Chains[0].Regulator = "fan" }, "cannot set a voltage"},
		{"regulator domains differ", func(p *Profile) { p.Devices[0].Domains = 1 }, "programs 1"},
		{"serial device twice", func(p *Profile) { p.Chains = append(p.Chains, Chain{Device: "/dev/ttyS1", Chips: 1}) }, "used twice"},
		{"active low without line", func(p *Profile) { p.Chains[0].Power = "" }, "power_active_low"},
		{"ds4432u output", func(p *Profile) { p.Devices[0] = Device{Name: "vcore", Kind: KindDS4432U, Addr: 0x48, Output: 2} }, "want 0 or 1"},
		{"emc2101 temp source", func(p *Profile) { p.Devices[1].Temp = "diode" }, `temp "diode"`},
		{"tps546 vout limits", func(p *Profile) { p.Devices[0].VoutMin, p.Devices[0].VoutMax = 2*physic.Volt, physic.Volt }, "above vout_max"},
		{"tps546 current limits", func(p *Profile) {
			p.Devices[0].IoutOCWarn, p.Devices[0].IoutOCFault = 40*physic.Ampere, 30*physic.Ampere
		}, "above fault"},
		{"pwm channel", func(p *Profile) { p.Devices[2].PWMChannel = -1 }, "negative pwm"},
		{"detect address", func(p *Profile) { p.Detect.I2C = []uint16{0x80} }, "not 7-bit"},
		{"negative frequency", func(p *Profile) { p.Frequency = -1 }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.mutate(&p)
			err := p.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	good := `{
	  "name": "my-rig", "description": "a Gamma hash board on a Pi's second UART",
	  "chip": "bm1370", "frequency": "500MHz", "voltage": "1150mV", "i2c_bus": "I2C1",
	  "chains": [{"device": "/dev/ttyAMA2", "chips": 1, "baud": 1000000, "reset": "GPIO17",
	              "power": "GPIO27", "power_active_low": true, "regulator": "vr"}],
	  "devices": [
	    {"name": "vr", "kind": "tps546", "addr": "0x24", "vout_max": "1.5V", "iout_oc_fault": "30A"},
	    {"name": "fan", "kind": "emc2101", "addr": "0x4c", "ideality": "0x24", "temp_offset_c": -1.5}
	  ],
	  "detect": {"i2c": ["0x24"]}
	}`
	p, err := Decode(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Chip != "BM1370" || p.Frequency != 500*physic.MegaHertz || p.Voltage != 1150*physic.MilliVolt ||
		p.Devices[0].VoutMax != 1500*physic.MilliVolt || p.Devices[0].IoutOCFault != 30*physic.Ampere ||
		p.Devices[1].Addr != 0x4C || *p.Devices[1].Ideality != 0x24 || p.Devices[1].TempOffset != -1500*physic.MilliKelvin ||
		p.Chains[0].Baud != 1000000 || p.Detect.I2C[0] != 0x24 {
		t.Errorf("decoded %+v", p)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"unknown field", `{"name":"x","chains":[{"chips":1}],"colour":"red"}`, "unknown field"},
		{"frequency without unit", `{"name":"x","frequency":"485","chains":[{"chips":1}]}`, "with its unit"},
		{"decimal address", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"f","kind":"emc2101","addr":"76"}]}`, "want hex"},
		{"wide address", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"f","kind":"emc2101","addr":"0x1FF"}]}`, "7-bit"},
		{"bad voltage", `{"name":"x","voltage":"high","chains":[{"chips":1}]}`, "like 1.2V"},
		{"bad current", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"v","kind":"tps546","addr":"0x24","iout_oc_warn":"lots"}]}`, "like 25A"},
		{"bad ideality", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"f","kind":"emc2101","addr":"0x4C","ideality":"0x124"}]}`, "hex byte"},
		{"offset too large", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"f","kind":"emc2101","addr":"0x4C","temp_offset_c":500}]}`, "±100"},
		{"scale loop", `{"name":"x","i2c_bus":"b","chains":[{"chips":1}],"devices":[{"name":"v","kind":"tps546","addr":"0x24","scale_loop":2}]}`, "scale_loop"},
		{"invalid profile", `{"name":"x","chains":[]}`, "no chains"},
		{"trailing data", `{"name":"x","chains":[{"chips":1}]} {}`, "trailing"},
		{"not json", `name = "x"`, "decode"},
		{"too large", `{"name":"` + strings.Repeat("x", maxProfileBytes) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestDecodeTableErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"duplicate name", `[{"name":"x","chains":[{"chips":1}]},{"name":"x","chains":[{"chips":1}]}]`},
		{"invalid entry", `[{"name":"x","chains":[]}]`},
		{"bad quantity", `[{"name":"x","frequency":"fast","chains":[{"chips":1}]}]`},
		{"not a list", `{"name":"x"}`},
	} {
		if _, err := decodeTable([]byte(tc.in)); err == nil {
			t.Errorf("%s: decodeTable succeeded", tc.name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var table []json.RawMessage
	if err := json.Unmarshal(tableJSON, &table); err != nil {
		f.Fatal(err)
	}
	for _, raw := range table {
		f.Add([]byte(raw))
	}
	f.Add([]byte(`{"name":"x","chains":[{"chips":1}],"devices":[{"name":"f","kind":"emc2101","addr":"0x4C"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("Decode returned a profile that does not validate: %v", err)
		}
	})
}
