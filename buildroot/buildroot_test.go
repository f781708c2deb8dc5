package buildroot

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// extPath is how the tree names itself in Kconfig and make files.
var extPath = regexp.MustCompile(`\$\(?BR2_EXTERNAL_KILN_PATH\)?`)

// read returns a file of the tree (or of the repository, with ../).
func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// codeLines returns the lines of s that are neither blank nor comments,
// trimmed, with make's backslash continuations joined.
func codeLines(s string) []string {
	var out []string
	var cont string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if cont == "" && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		out = append(out, cont+l)
		cont = ""
	}
	return out
}

// local maps a value naming the tree ($(BR2_EXTERNAL_KILN_PATH)/x) to a
// path relative to this folder; ok is false for other values.
func local(v string) (string, bool) {
	loc := extPath.FindStringIndex(v)
	if loc == nil || loc[0] != 0 {
		return "", false
	}
	return filepath.Join(".", strings.TrimPrefix(v[loc[1]:], "/")), true
}

func TestRequiredFiles(t *testing.T) {
	files := []struct {
		path string
		exec bool
	}{
		{path: "external.desc"},
		{path: "Config.in"},
		{path: "external.mk"},
		{path: "README.md"},
		{path: "package/kiln/Config.in"},
		{path: "package/kiln/kiln.mk"},
		{path: "configs/kiln_rpi4_64_defconfig"},
		{path: "configs/kiln_beaglebone_defconfig"},
		{path: "board/kiln/genimage.cfg"},
		{path: "board/kiln/post-image.sh", exec: true},
		{path: "board/kiln/linux.fragment"},
		{path: "board/kiln/rootfs-overlay/etc/init.d/S05kiln-data", exec: true},
		{path: "board/kiln/rootfs-overlay/etc/init.d/S90kiln", exec: true},
		{path: "board/kiln/rootfs-overlay/etc/kiln/controller.conf"},
		{path: "../firmware.mk"},
		{path: "../scripts/deps.sh", exec: true},
		{path: "../scripts/firmware-sizes.sh", exec: true},
		{path: "../scripts/firmware-qemu-test.sh", exec: true},
		{path: "../scripts/disk-image.sh", exec: true},
	}
	for _, f := range files {
		t.Run(f.path, func(t *testing.T) {
			fi, err := os.Stat(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Size() == 0 {
				t.Fatalf("%s: not a non-empty file (mode %v, %d bytes)", f.path, fi.Mode(), fi.Size())
			}
			if f.exec && fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s: not executable (mode %v)", f.path, fi.Mode())
			}
		})
	}
}

func TestExternalDesc(t *testing.T) {
	fields := map[string]string{}
	for _, l := range codeLines(read(t, "external.desc")) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("external.desc: line %q is not key: value", l)
		}
		fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if fields["name"] != "KILN" {
		t.Errorf("name = %q, want KILN (the tree is $(BR2_EXTERNAL_KILN_PATH))", fields["name"])
	}
	if fields["desc"] == "" {
		t.Error("desc is missing")
	}
}

func TestConfigInSources(t *testing.T) {
	files, err := filepath.Glob("package/*/Config.in")
	if err != nil {
		t.Fatal(err)
	}
	sourced := map[string]bool{}
	source := regexp.MustCompile(`^source\s+"([^"]+)"$`)
	for _, f := range append([]string{"Config.in"}, files...) {
		for _, l := range codeLines(read(t, f)) {
			if !strings.HasPrefix(l, "source") {
				continue
			}
			m := source.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%s: malformed %q", f, l)
				continue
			}
			p, ok := local(m[1])
			if !ok {
				t.Errorf("%s: %q does not start with $BR2_EXTERNAL_KILN_PATH", f, m[1])
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: sources %s: %v", f, m[1], err)
			}
			sourced[filepath.Clean(p)] = true
		}
	}
	for _, f := range files {
		if !sourced[filepath.Clean(f)] {
			t.Errorf("%s is not sourced from Config.in", f)
		}
	}
}

// kconfigSymbols returns the symbols a Config.in defines.
func kconfigSymbols(t *testing.T, path string) []string {
	var syms []string
	for _, l := range codeLines(read(t, path)) {
		if name, ok := strings.CutPrefix(l, "config "); ok {
			syms = append(syms, "BR2_"+strings.TrimPrefix(strings.TrimSpace(name), "BR2_"))
		}
	}
	return syms
}

func TestPackageSymbols(t *testing.T) {
	syms := kconfigSymbols(t, "package/kiln/Config.in")
	for _, want := range []string{"BR2_PACKAGE_KILN", "BR2_PACKAGE_KILN_PREBUILT", "BR2_PACKAGE_KILN_SOURCE", "BR2_PACKAGE_KILN_PREBUILT_DIR"} {
		if !slices.Contains(syms, want) {
			t.Errorf("package/kiln/Config.in does not define %s (has %v)", want, syms)
		}
	}
	// Every Kiln symbol a defconfig sets must exist, or Kconfig drops it.
	for name, cfg := range defconfigs(t) {
		for k := range cfg {
			if strings.HasPrefix(k, "BR2_PACKAGE_KILN") && !slices.Contains(syms, k) {
				t.Errorf("%s sets %s, which package/kiln/Config.in does not define", name, k)
			}
		}
	}
}

func TestExternalMk(t *testing.T) {
	mk := read(t, "external.mk")
	m := regexp.MustCompile(`(?m)^include\s+\$\(sort \$\(wildcard (\S+)\)\)\s*$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("external.mk does not include the packages' .mk files:\n%s", mk)
	}
	pattern, ok := local(m[1])
	if !ok {
		t.Fatalf("external.mk: %q is not under $(BR2_EXTERNAL_KILN_PATH)", m[1])
	}
	got, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, filepath.Join("package", "kiln", "kiln.mk")) {
		t.Errorf("external.mk's %s matches %v, not package/kiln/kiln.mk", m[1], got)
	}
}

var defconfigLine = regexp.MustCompile(`^(BR2_[A-Za-z0-9_]+)=("(?:[^"\\]|\\.)*"|y|[0-9]+|0x[0-9a-fA-F]+)$`)

// defconfigs parses every configs/*_defconfig into its settings, checking
// each line's form on the way.
func defconfigs(t *testing.T) map[string]map[string]string {
	t.Helper()
	files, err := filepath.Glob("configs/*_defconfig")
	if err != nil || len(files) == 0 {
		t.Fatalf("no defconfigs: %v", err)
	}
	out := map[string]map[string]string{}
	for _, f := range files {
		cfg := map[string]string{}
		for i, l := range strings.Split(read(t, f), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			m := defconfigLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%s:%d: %q is neither BR2_...=value nor a comment", f, i+1, l)
				continue
			}
			if _, dup := cfg[m[1]]; dup {
				t.Errorf("%s:%d: %s set twice", f, i+1, m[1])
			}
			cfg[m[1]] = strings.Trim(m[2], `"`)
		}
		out[filepath.Base(f)] = cfg
	}
	return out
}

func TestDefconfigs(t *testing.T) {
	common := map[string]string{
		"BR2_PACKAGE_KILN":                       "y",
		"BR2_INIT_BUSYBOX":                       "y",
		"BR2_TOOLCHAIN_BUILDROOT_GLIBC":          "y",
		"BR2_TARGET_ROOTFS_SQUASHFS":             "y",
		"BR2_LINUX_KERNEL":                       "y",
		"BR2_PACKAGE_HOST_GENIMAGE":              "y",
		"BR2_PACKAGE_HOST_DOSFSTOOLS":            "y",
		"BR2_PACKAGE_HOST_MTOOLS":                "y",
		"BR2_PACKAGE_HOST_E2FSPROGS":             "y",
		"BR2_ROOTFS_OVERLAY":                     "$(BR2_EXTERNAL_KILN_PATH)/board/kiln/rootfs-overlay",
		"BR2_ROOTFS_POST_IMAGE_SCRIPT":           "$(BR2_EXTERNAL_KILN_PATH)/board/kiln/post-image.sh",
		"BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES": "$(BR2_EXTERNAL_KILN_PATH)/board/kiln/linux.fragment",
	}
	want := map[string]map[string]string{
		"kiln_rpi4_64_defconfig": {
			"BR2_aarch64": "y", "BR2_cortex_a72": "y", "BR2_ROOTFS_POST_SCRIPT_ARGS": "rpi4-64",
			"BR2_PACKAGE_RPI_FIRMWARE": "y",
		},
		"kiln_beaglebone_defconfig": {
			"BR2_arm": "y", "BR2_cortex_a8": "y", "BR2_ARM_EABIHF": "y", "BR2_ROOTFS_POST_SCRIPT_ARGS": "beaglebone",
			"BR2_TARGET_UBOOT": "y", "BR2_TARGET_UBOOT_SPL_NAME": "MLO",
		},
	}
	got := defconfigs(t)
	for name, board := range want {
		t.Run(name, func(t *testing.T) {
			cfg, ok := got[name]
			if !ok {
				t.Fatalf("configs/%s is missing", name)
			}
			for k, v := range common {
				if cfg[k] != v {
					t.Errorf("%s = %q, want %q", k, cfg[k], v)
				}
			}
			for k, v := range board {
				if cfg[k] != v {
					t.Errorf("%s = %q, want %q", k, cfg[k], v)
				}
			}
			checkDefconfigPaths(t, cfg)
			boot := filepath.Join("board", "kiln", cfg["BR2_ROOTFS_POST_SCRIPT_ARGS"], "boot-files")
			if _, err := os.Stat(boot); err != nil {
				t.Errorf("post-image board %q has no boot-files: %v", cfg["BR2_ROOTFS_POST_SCRIPT_ARGS"], err)
			}
		})
	}
	for name := range got {
		if want[name] == nil {
			t.Errorf("configs/%s is not checked: add it to TestDefconfigs", name)
		}
	}
}

// checkDefconfigPaths checks that every path of the tree a defconfig names
// exists, and that the post-image script is executable.
func checkDefconfigPaths(t *testing.T, cfg map[string]string) {
	t.Helper()
	for k, v := range cfg {
		for _, word := range strings.Fields(v) {
			p, ok := local(word)
			if !ok {
				continue
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s names %s: %v", k, word, err)
				continue
			}
			if k == "BR2_ROOTFS_OVERLAY" && !fi.IsDir() {
				t.Errorf("%s: %s is not a folder", k, word)
			}
			if strings.HasSuffix(k, "_SCRIPT") && fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s: %s is not executable", k, word)
			}
		}
	}
}

func TestBootFiles(t *testing.T) {
	lists, err := filepath.Glob("board/kiln/*/boot-files")
	if err != nil || len(lists) == 0 {
		t.Fatalf("no boot-files lists: %v", err)
	}
	for _, list := range lists {
		board := filepath.Dir(list)
		entries := codeLines(read(t, list))
		if len(entries) == 0 {
			t.Errorf("%s is empty", list)
		}
		for _, e := range entries {
			if filepath.IsAbs(e) || slices.Contains(strings.Split(e, "/"), "..") || strings.ContainsAny(e, " \"") {
				t.Errorf("%s: %q must be a plain path under the images folder", list, e)
			}
			// kiln-boot/ is the board's boot/ folder, copied by post-image.sh.
			if rest, ok := strings.CutPrefix(e, "kiln-boot/"); ok {
				if _, err := os.Stat(filepath.Join(board, "boot", rest)); err != nil {
					t.Errorf("%s: %s: %v", list, e, err)
				}
			}
		}
	}
}
