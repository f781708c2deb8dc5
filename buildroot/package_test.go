package buildroot

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// makeVars returns the variables a make file assigns (the last value of
// each, continuations joined).
func makeVars(t *testing.T, path string) map[string]string {
	t.Helper()
	assign := regexp.MustCompile(`^([A-Z0-9_]+)\s*(?:\?|:|\+)?=\s*(.*)$`)
	vars := map[string]string{}
	for _, l := range codeLines(read(t, path)) {
		if m := assign.FindStringSubmatch(l); m != nil {
			vars[m[1]] = strings.Join(strings.Fields(m[2]), " ")
		}
	}
	return vars
}

// goModule returns the repository's module path.
func goModule(t *testing.T) string {
	for _, l := range codeLines(read(t, "../go.mod")) {
		if m, ok := strings.CutPrefix(l, "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("../go.mod names no module")
	return ""
}

func TestKilnMk(t *testing.T) {
	vars := makeVars(t, "package/kiln/kiln.mk")
	for _, k := range []string{
		"KILN_SITE", "KILN_SITE_METHOD", "KILN_VERSION", "KILN_GOMOD", "KILN_BUILD_TARGETS",
		"KILN_LDFLAGS", "KILN_TAGS", "KILN_PREBUILT_BIN",
	} {
		if vars[k] == "" {
			t.Errorf("kiln.mk does not set %s", k)
		}
	}
	mod := goModule(t)
	if vars["KILN_GOMOD"] != mod {
		t.Errorf("KILN_GOMOD = %q, go.mod says %q", vars["KILN_GOMOD"], mod)
	}
	if vars["KILN_SITE_METHOD"] != "local" || vars["KILN_SITE"] != "$(BR2_EXTERNAL_KILN_PATH)/.." {
		t.Errorf("KILN_SITE %q, KILN_SITE_METHOD %q: want the Kiln tree, local", vars["KILN_SITE"], vars["KILN_SITE_METHOD"])
	}
	if _, err := os.Stat(filepath.Join("..", vars["KILN_BUILD_TARGETS"], "main.go")); err != nil {
		t.Errorf("KILN_BUILD_TARGETS = %q: %v", vars["KILN_BUILD_TARGETS"], err)
	}
	versionVar := mod + "/cmd/controller/app.Version="
	if !strings.Contains(vars["KILN_LDFLAGS"], "-X "+versionVar) {
		t.Errorf("KILN_LDFLAGS = %q: does not set %s", vars["KILN_LDFLAGS"], versionVar)
	}
	if !regexp.MustCompile(`(?m)^var Version = `).MatchString(read(t, "../cmd/controller/app/options.go")) {
		t.Error("cmd/controller/app has no var Version for -X to set")
	}
	// The same tags as `make firmware-bins`, so both binaries behave alike.
	fw := makeVars(t, "../firmware.mk")
	if diff := cmp.Diff(sortedFields(fw["FIRMWARE_TAGS"]), sortedFields(vars["KILN_TAGS"])); diff != "" {
		t.Errorf("KILN_TAGS differ from firmware.mk's FIRMWARE_TAGS (-firmware.mk +kiln.mk):\n%s", diff)
	}
	checkMkStructure(t, read(t, "package/kiln/kiln.mk"))
}

func sortedFields(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return f
}

// checkMkStructure checks kiln.mk's shape: two branches (prebuilt, source),
// each ending with its infrastructure's eval line, and every hook it adds
// defined.
func checkMkStructure(t *testing.T, mk string) {
	t.Helper()
	lines := codeLines(mk)
	n := len(lines)
	if n < 2 || lines[n-1] != "endif" || lines[n-2] != "$(eval $(golang-package))" {
		t.Errorf("kiln.mk must end with $(eval $(golang-package)) and endif, ends with %q", lines[max(0, n-2):])
	}
	if i := slices.Index(lines, "else"); i < 1 || lines[i-1] != "$(eval $(generic-package))" {
		t.Error("kiln.mk's prebuilt branch must end with $(eval $(generic-package)) before else")
	}
	if !slices.Contains(lines, "ifeq ($(BR2_PACKAGE_KILN_PREBUILT),y)") {
		t.Error("kiln.mk does not branch on BR2_PACKAGE_KILN_PREBUILT")
	}
	defines := 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "define "):
			defines++
		case l == "endef":
			defines--
		}
		if defines < 0 || defines > 1 {
			t.Fatalf("kiln.mk: unbalanced define/endef at %q", l)
		}
	}
	hooks := regexp.MustCompile(`(?m)^KILN_\w+_HOOKS\s*\+=\s*(\w+)`).FindAllStringSubmatch(mk, -1)
	if len(hooks) == 0 {
		t.Error("kiln.mk adds no hooks (kiln-release, vendoring)")
	}
	for _, h := range hooks {
		if !strings.Contains(mk, "define "+h[1]+"\n") {
			t.Errorf("kiln.mk adds hook %s but does not define it", h[1])
		}
	}
	marker := regexp.MustCompile(`firmwareMarker = "([^"]+)"`).FindStringSubmatch(read(t, "../cmd/controller/app/control.go"))
	if marker == nil || !strings.Contains(mk, "$(TARGET_DIR)"+marker[1]) {
		t.Errorf("kiln.mk does not write the controller's firmware marker %v", marker)
	}
}

func TestGenimageCfg(t *testing.T) {
	cfg := stripComments(read(t, "board/kiln/genimage.cfg"))
	disk := block(t, cfg, "image kiln-disk.img")
	parts := regexp.MustCompile(`partition\s+(\w+)\s*\{([^{}]*)\}`).FindAllStringSubmatch(disk, -1)
	image := regexp.MustCompile(`image\s*=\s*"([^"]+)"`)
	var names []string
	images := map[string]string{}
	for _, p := range parts {
		names = append(names, p[1])
		if m := image.FindStringSubmatch(p[2]); m != nil {
			images[p[1]] = m[1]
		}
	}
	if diff := cmp.Diff([]string{"boot", "rootfsA", "rootfsB", "data"}, names); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	wantImages := map[string]string{
		"boot": "boot.vfat", "rootfsA": "rootfs.squashfs", "rootfsB": "rootfs.squashfs", "data": "data.ext4",
	}
	if diff := cmp.Diff(wantImages, images); diff != "" {
		t.Errorf("partition images (-want +got):\n%s", diff)
	}
	data := block(t, cfg, "image data.ext4")
	if !strings.Contains(data, "ext4") || !strings.Contains(data, `label = "kiln-data"`) {
		t.Errorf("data.ext4 is not an ext4 image labelled kiln-data:\n%s", data)
	}
	if !strings.Contains(read(t, "board/kiln/rootfs-overlay/etc/init.d/S05kiln-data"), "LABEL=kiln-data") {
		t.Error("S05kiln-data does not look for the label genimage.cfg gives the data partition")
	}
	// boot.vfat is the one image post-image.sh adds for the board.
	if !strings.Contains(read(t, "board/kiln/post-image.sh"), `echo "image boot.vfat {"`) {
		t.Error("post-image.sh does not write the boot.vfat image")
	}
}

// stripComments drops genimage's # and // comments.
func stripComments(s string) string {
	return regexp.MustCompile(`(?m)(#|//).*$`).ReplaceAllString(s, "")
}

// block returns the body of the brace block that follows head in s.
func block(t *testing.T, s, head string) string {
	t.Helper()
	i := strings.Index(s, head)
	if i < 0 {
		t.Fatalf("no %q", head)
	}
	start := strings.Index(s[i:], "{")
	if start < 0 {
		t.Fatalf("%q has no block", head)
	}
	depth := 0
	for j := i + start; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[i+start+1 : j]
			}
		}
	}
	t.Fatalf("%q: unbalanced braces", head)
	return ""
}

// shellScripts returns the tree's and the firmware build's shell scripts,
// with the shell that runs each.
func shellScripts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	var paths []string
	for _, g := range []string{"board/kiln/*.sh", "board/kiln/rootfs-overlay/etc/init.d/*", "../scripts/*.sh"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	for _, p := range paths {
		first, _, _ := strings.Cut(read(t, p), "\n")
		switch first {
		case "#!/bin/sh":
			out[p] = "sh"
		case "#!/usr/bin/env bash", "#!/bin/bash":
			out[p] = "bash"
		default:
			t.Errorf("%s: unexpected interpreter line %q", p, first)
		}
	}
	return out
}

func TestShellSyntax(t *testing.T) {
	scripts := shellScripts(t)
	if len(scripts) < 7 {
		t.Fatalf("found only %d scripts: %v", len(scripts), scripts)
	}
	for path, shell := range scripts {
		t.Run(path, func(t *testing.T) {
			// The image's init scripts run in BusyBox's ash: hold them to
			// POSIX sh (dash here), and to bash's parser as well.
			shells := []string{"bash"}
			if shell == "sh" {
				shells = append(shells, "sh")
			}
			for _, sh := range shells {
				if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
					t.Errorf("%s -n %s: %v\n%s", sh, path, err, out)
				}
			}
		})
	}
}

func TestInitScriptFlags(t *testing.T) {
	s90 := read(t, "board/kiln/rootfs-overlay/etc/init.d/S90kiln")
	opts := read(t, "../cmd/controller/app/options.go")
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`fs\.\w+Var\(&o\.\w+, "([a-z0-9-]+)"`).FindAllStringSubmatch(opts, -1) {
		defined[m[1]] = true
	}
	if len(defined) < 10 {
		t.Fatalf("found only %d controller flags in options.go", len(defined))
	}
	args := block(t, s90, "run_controller()")
	used := regexp.MustCompile(`\s--([a-z0-9-]+)\s`).FindAllStringSubmatch(args, -1)
	if len(used) < 5 {
		t.Fatalf("S90kiln passes only %d flags", len(used))
	}
	for _, m := range used {
		if !defined[m[1]] {
			t.Errorf("S90kiln passes --%s, which the controller does not define", m[1])
		}
	}
}

func TestControllerConf(t *testing.T) {
	conf := read(t, "board/kiln/rootfs-overlay/etc/kiln/controller.conf")
	s90 := read(t, "board/kiln/rootfs-overlay/etc/init.d/S90kiln")
	setting := regexp.MustCompile(`^#?(KILN_[A-Z_]+)=("[^"]*"|[^\s"]*)$`)
	n := 0
	for _, l := range strings.Split(conf, "\n") {
		m := setting.FindStringSubmatch(l)
		if m == nil {
			if l != "" && !strings.HasPrefix(l, "# ") && l != "#" {
				t.Errorf("controller.conf: %q is neither a setting nor a comment", l)
			}
			continue
		}
		n++
		// Each setting is used by the script, which has a default for it
		// (KILN_ADMIN_PASSWORD has none: there is no default password).
		if !strings.Contains(s90, "$"+m[1]) && !strings.Contains(s90, "${"+m[1]) {
			t.Errorf("controller.conf sets %s, which S90kiln does not use", m[1])
		}
		if m[1] != "KILN_ADMIN_PASSWORD" && !regexp.MustCompile(`(?m)^`+m[1]+`=`).MatchString(s90) {
			t.Errorf("S90kiln has no default for %s", m[1])
		}
	}
	if n < 5 {
		t.Errorf("controller.conf has only %d settings", n)
	}
}

func TestFirmwareMk(t *testing.T) {
	mk := read(t, "../firmware.mk")
	for _, target := range []string{"firmware-bins", "firmware-test-qemu", "firmware-disk-image"} {
		if !regexp.MustCompile(`(?m)^` + target + `:`).MatchString(mk) {
			t.Errorf("firmware.mk has no target %s", target)
		}
	}
	for _, want := range []string{
		"GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc", "GOARCH=arm64 CC=aarch64-linux-gnu-gcc",
		"CGO_ENABLED=1", "-trimpath", "bin/firmware-sizes.txt",
	} {
		if !strings.Contains(mk, want) {
			t.Errorf("firmware.mk lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`scripts/[a-z-]+\.sh`).FindAllString(mk, -1) {
		if _, err := os.Stat(filepath.Join("..", m)); err != nil {
			t.Errorf("firmware.mk runs %s: %v", m, err)
		}
	}
}
