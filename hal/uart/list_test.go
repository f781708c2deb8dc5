package uart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListUSBIn(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, rel string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"dev/ttyUSB0", "dev/ttyACM1", "dev/ttyS0", "dev/ttyAMA0", "dev/ttyUSB", "dev/ttyUSBx", "dev/null"} {
		mk(n)
	}
	mk("dev/bus/ttyUSB7") // nested, not a node in /dev itself
	// by-id: a relative link to a node already listed, an absolute one to
	// a node whose name does not say USB, a chain of links, a dangling one.
	link("../../ttyUSB0", "dev/serial/by-id/usb-Silicon_Labs_CP2102-if00-port0")
	mk("dev/ttyXR3")
	link("/dev/ttyXR3", "dev/serial/by-id/usb-Exar_XR21V1410-if00")
	link("usb-Silicon_Labs_CP2102-if00-port0", "dev/serial/by-id/usb-alias")
	link("../../ttyUSB5", "dev/serial/by-id/usb-gone-if00")
	link("loop-b", "dev/serial/by-id/loop-a")
	link("loop-a", "dev/serial/by-id/loop-b")

	got := ListUSBIn(root)
	want := []string{"/dev/ttyACM1", "/dev/ttyUSB0", "/dev/ttyXR3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUSBIn (-want +got):\n%s", diff)
	}
}

func TestListUSBInEmpty(t *testing.T) {
	if got := ListUSBIn(t.TempDir()); len(got) != 0 {
		t.Errorf("empty tree lists %v", got)
	}
	if got := ListUSBIn(filepath.Join(t.TempDir(), "missing")); len(got) != 0 {
		t.Errorf("missing tree lists %v", got)
	}
}

func TestIsUSBName(t *testing.T) {
	for name, want := range map[string]bool{
		"ttyUSB0": true, "ttyUSB12": true, "ttyACM0": true,
		"ttyUSB": false, "ttyUSBa": false, "ttyS1": false, "ttyACM0x": false, "usbttyUSB0": false,
	} {
		if got := isUSBName(name); got != want {
			t.Errorf("isUSBName(%q) = %v, want %v", name, got, want)
		}
	}
}
