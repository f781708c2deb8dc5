package uart

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// ListUSB lists the USB-serial adapters present, as device paths
// (/dev/ttyUSB0, /dev/ttyACM0): the ttyUSB* and ttyACM* nodes and the
// targets of /dev/serial/by-id links, each once, sorted. USB stick miners
// show up here; the controller never picks one by itself, the user names
// it (--board usb).
func ListUSB() []string { return ListUSBIn("/") }

// ListUSBIn is ListUSB on a file tree rooted at root instead of "/", so
// tests can lay out a fake /dev. Paths come back as seen from inside the
// tree ("/dev/ttyUSB0").
func ListUSBIn(root string) []string {
	seen := map[string]bool{}
	dev := filepath.Join(root, "dev")
	if entries, err := os.ReadDir(dev); err == nil {
		for _, e := range entries {
			if isUSBName(e.Name()) {
				seen["/dev/"+e.Name()] = true
			}
		}
	}
	byID := filepath.Join(dev, "serial", "by-id")
	if entries, err := os.ReadDir(byID); err == nil {
		for _, e := range entries {
			if p, ok := resolveIn(root, "/dev/serial/by-id/"+e.Name()); ok {
				seen[p] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func isUSBName(name string) bool {
	for _, prefix := range []string{"ttyUSB", "ttyACM"} {
		rest, ok := strings.CutPrefix(name, prefix)
		if ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// resolveIn follows the symbolic link at p (a path inside the tree at
// root) to the device node it names, keeping absolute targets inside the
// tree. Links that loop or dangle are dropped.
func resolveIn(root, p string) (string, bool) {
	for range 8 {
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			// Not a link: p is the node itself, if it exists.
			if _, statErr := os.Stat(filepath.Join(root, filepath.FromSlash(p))); statErr != nil {
				return "", false
			}
			return p, true
		}
		target = filepath.ToSlash(target)
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		p = path.Clean(target)
	}
	return "", false
}
