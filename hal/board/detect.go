package board

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DetectEnv is what Detect may look at on the host. Tests build one by
// hand; HostEnv builds the real one.
type DetectEnv struct {
	// FS is the host's file tree rooted at "/" (os.DirFS("/")). Detect
	// reads the device-tree model and compatible list from
	// proc/device-tree (or sys/firmware/devicetree/base). Nil: no device
	// tree.
	FS fs.FS
	// Probe reports whether a device acknowledges at addr on the named
	// I²C bus. Nil: no probing.
	Probe func(bus string, addr uint16) bool
	// Serial lists the serial devices present ("/dev/ttyS1",
	// "/dev/serial0"). A profile is detected only if every one of its
	// chains' devices is listed.
	Serial []string
}

// HostEnv returns the environment of the running system: its root file
// tree, the serial devices under /dev, and probe (hal/host.Probe on a
// Linux board; nil to skip I²C probing).
func HostEnv(probe func(bus string, addr uint16) bool) DetectEnv {
	return DetectEnv{FS: os.DirFS("/"), Probe: probe, Serial: serialDevices("/dev")}
}

// serialDevices lists the tty-like nodes in dir.
func serialDevices(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasPrefix(n, "tty") || strings.HasPrefix(n, "serial")) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

// Detect returns the built-in profile that best matches the host, and
// false when none does: the caller then falls back to the simulated
// board. A device-tree model or compatible entry naming a board wins over
// I²C probing; among I²C matches, the profile with the most answering
// addresses wins, then table order. Boards that look alike on I²C (a
// Supra and a Gamma both show an EMC2101 and a TPS546) are told apart only
// by the chip id the chain reports: compare it with the profile's Chip and
// pick from Match. USB sticks are never detected; they need --board usb.
func Detect(env DetectEnv) (Profile, bool) {
	m := Match(env)
	if len(m) == 0 {
		return Profile{}, false
	}
	return m[0], true
}

// Match returns every built-in profile that matches the host, best first
// (see Detect).
func Match(env DetectEnv) []Profile {
	model, compatible := deviceTree(env.FS)
	probe := cachedProbe(env.Probe)
	type hit struct {
		p     Profile
		score int
	}
	var hits []hit
	for _, p := range Profiles() {
		if !chainsPresent(p, env.Serial) {
			continue
		}
		switch {
		case namedByTree(p, model, compatible):
			hits = append(hits, hit{p, 1000})
		case answersOnI2C(p, probe):
			hits = append(hits, hit{p, len(p.Detect.I2C)})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.score - a.score })
	out := make([]Profile, len(hits))
	for i, h := range hits {
		out[i] = h.p
	}
	return out
}

// deviceTree reads the model string and the compatible list.
func deviceTree(fsys fs.FS) (model string, compatible []string) {
	if fsys == nil {
		return "", nil
	}
	for _, dir := range []string{"proc/device-tree", "sys/firmware/devicetree/base"} {
		m, err := fs.ReadFile(fsys, dir+"/model")
		if err != nil {
			continue
		}
		model = ParseModel(m)
		if c, err := fs.ReadFile(fsys, dir+"/compatible"); err == nil {
			compatible = ParseCompatible(c)
		}
		return model, compatible
	}
	return "", nil
}

// ParseModel turns a device-tree model property (a NUL-terminated
// string) into text.
func ParseModel(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), ""))
}

// ParseCompatible splits a device-tree compatible property (NUL-separated
// strings) into its entries.
func ParseCompatible(b []byte) []string {
	var out []string
	for _, s := range bytes.Split(b, []byte{0}) {
		if t := strings.TrimSpace(strings.ToValidUTF8(string(s), "")); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func namedByTree(p Profile, model string, compatible []string) bool {
	if slices.Contains(compatible, "kiln,"+p.Name) {
		return true
	}
	if model == "" {
		return false
	}
	lower := strings.ToLower(model)
	return slices.ContainsFunc(p.Detect.Models, func(m string) bool {
		return m != "" && strings.Contains(lower, strings.ToLower(m))
	})
}

func answersOnI2C(p Profile, probe func(bus string, addr uint16) bool) bool {
	if probe == nil || len(p.Detect.I2C) == 0 {
		return false
	}
	for _, a := range p.Detect.I2C {
		if !probe(p.I2CBus, a) {
			return false
		}
	}
	return true
}

// chainsPresent reports whether every chain's serial device is present;
// profiles whose devices the user must give are never detected.
func chainsPresent(p Profile, serial []string) bool {
	for _, c := range p.Chains {
		if c.Device == "" || !slices.Contains(serial, c.Device) {
			return false
		}
	}
	return true
}

// cachedProbe asks each (bus, address) once per detection.
func cachedProbe(probe func(string, uint16) bool) func(string, uint16) bool {
	if probe == nil {
		return nil
	}
	type key struct {
		bus  string
		addr uint16
	}
	seen := map[key]bool{}
	return func(bus string, addr uint16) bool {
		k := key{bus, addr}
		v, ok := seen[k]
		if !ok {
			v = probe(bus, addr)
			seen[k] = v
		}
		return v
	}
}
