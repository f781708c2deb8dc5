package pwm

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sysfsTree lays out pwmchip0 with channel 1 exported, its attributes
// holding what a freshly exported channel reads.
func sysfsTree(t *testing.T, exported bool, duty string) string {
	t.Helper()
	root := t.TempDir()
	chip := filepath.Join(root, "pwmchip0")
	must(t, os.MkdirAll(chip, 0o755))
	must(t, os.WriteFile(filepath.Join(chip, "export"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(chip, "npwm"), []byte("2\n"), 0o644))
	if exported {
		ch := filepath.Join(chip, "pwm1")
		must(t, os.MkdirAll(ch, 0o755))
		for name, v := range map[string]string{"period": "0\n", "duty_cycle": duty, "enable": "0\n"} {
			must(t, os.WriteFile(filepath.Join(ch, name), []byte(v), 0o644))
		}
	}
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func attr(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	must(t, err)
	return string(b)
}

func TestOpenAndDuty(t *testing.T) {
	root := sysfsTree(t, true, "0\n")
	ch, err := Open(Config{Root: root, Chip: 0, Channel: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for rel, want := range map[string]string{
		"pwmchip0/export":          "", // already exported: not written
		"pwmchip0/pwm1/period":     "40000",
		"pwmchip0/pwm1/duty_cycle": "0",
		"pwmchip0/pwm1/enable":     "1",
	} {
		if got := attr(t, root, rel); got != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	for _, tc := range []struct {
		percent float64
		ns      string
	}{{50, "20000"}, {100, "40000"}, {0, "0"}, {33.3, "13320"}, {0.001, "0"}} {
		if err := ch.SetDuty(tc.percent); err != nil {
			t.Fatalf("SetDuty(%v): %v", tc.percent, err)
		}
		if got := attr(t, root, "pwmchip0/pwm1/duty_cycle"); got != tc.ns {
			t.Errorf("SetDuty(%v): duty_cycle %q, want %q", tc.percent, got, tc.ns)
		}
	}
	must(t, ch.SetDuty(25))
	if d, err := ch.Duty(); err != nil || d != 25 {
		t.Errorf("Duty() = %v, %v; want 25", d, err)
	}
	for _, bad := range []float64{-1, 100.5, math.NaN(), math.Inf(1)} {
		if err := ch.SetDuty(bad); err == nil {
			t.Errorf("SetDuty(%v) succeeded", bad)
		}
	}
	must(t, ch.Close())
	if got := attr(t, root, "pwmchip0/pwm1/enable"); got != "0" {
		t.Errorf("after Close enable = %q", got)
	}
}

func TestOpenInvertedCustomPeriod(t *testing.T) {
	// A duty left over from an earlier, longer period must not block the
	// new one.
	root := sysfsTree(t, true, "900000\n")
	ch, err := Open(Config{Root: root, Channel: 1, Period: 100 * time.Microsecond, Invert: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := attr(t, root, "pwmchip0/pwm1/period"); got != "100000" {
		t.Errorf("period = %q", got)
	}
	// 0 % on an inverted output keeps the line active all period.
	if got := attr(t, root, "pwmchip0/pwm1/duty_cycle"); got != "100000" {
		t.Errorf("duty at 0%% inverted = %q, want 100000", got)
	}
	must(t, ch.SetDuty(30))
	if got := attr(t, root, "pwmchip0/pwm1/duty_cycle"); got != "70000" {
		t.Errorf("duty at 30%% inverted = %q, want 70000", got)
	}
	if d, err := ch.Duty(); err != nil || math.Abs(d-30) > 1e-9 {
		t.Errorf("Duty() = %v, %v; want 30", d, err)
	}
}

func TestOpenExports(t *testing.T) {
	root := sysfsTree(t, false, "")
	start := time.Now()
	_, err := Open(Config{Root: root, Channel: 1, ExportWait: 20 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not appear") {
		t.Fatalf("Open on a tree that never creates the channel: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("export wait not bounded")
	}
	if got := attr(t, root, "pwmchip0/export"); got != "1" {
		t.Errorf("export = %q, want %q", got, "1")
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(root string) Config
		tree func(t *testing.T) string
	}{
		{"no such chip", func(r string) Config { return Config{Root: r, Chip: 3, Channel: 1} },
			func(t *testing.T) string { return sysfsTree(t, true, "0") }},
		{"negative channel", func(r string) Config { return Config{Root: r, Channel: -1} },
			func(t *testing.T) string { return sysfsTree(t, true, "0") }},
		{"garbage duty", func(r string) Config { return Config{Root: r, Channel: 1} },
			func(t *testing.T) string { return sysfsTree(t, true, "lots") }},
		{"attribute missing", func(r string) Config { return Config{Root: r, Channel: 1} },
			func(t *testing.T) string {
				root := sysfsTree(t, true, "0")
				must(t, os.Remove(filepath.Join(root, "pwmchip0/pwm1/period")))
				return root
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.tree(t)
			if _, err := Open(tc.cfg(root)); err == nil {
				t.Error("Open succeeded")
			}
		})
	}
}

type tach int

func (r tach) RPM() (int, error) { return int(r), nil }

func TestFan(t *testing.T) {
	root := sysfsTree(t, true, "0")
	ch, err := Open(Config{Root: root, Channel: 1})
	must(t, err)
	if _, err := NewFan(ch, nil).RPM(); !errors.Is(err, ErrNoTach) {
		t.Errorf("RPM without tach: %v", err)
	}
	f := NewFan(ch, tach(4200))
	if rpm, err := f.RPM(); rpm != 4200 || err != nil {
		t.Errorf("RPM = %d, %v", rpm, err)
	}
	must(t, f.SetDuty(75))
	if got := attr(t, root, "pwmchip0/pwm1/duty_cycle"); got != "30000" {
		t.Errorf("fan at 75%%: duty_cycle %q", got)
	}
}

func TestParseNanoseconds(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "40000\n": 40000, " 7 \n": 7} {
		if got, err := ParseNanoseconds([]byte(in)); err != nil || got != want {
			t.Errorf("ParseNanoseconds(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-5", "1e3", "0x10", "99999999999999999999"} {
		if _, err := ParseNanoseconds([]byte(in)); err == nil {
			t.Errorf("ParseNanoseconds(%q) succeeded", in)
		}
	}
}

func FuzzParseNanoseconds(f *testing.F) {
	for _, s := range []string{"0\n", "40000\n", "-1", "abc", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseNanoseconds(b)
		if err == nil && v < 0 {
			t.Fatalf("accepted negative %d from %q", v, b)
		}
	})
}
