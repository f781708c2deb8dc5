package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run runs the command in-process with the given environment variables.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	return code, out.String(), errb.String()
}

// mustRun runs the command and fails the test unless it exits 0.
func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errs := run(t, env, args...)
	if code != 0 {
		t.Fatalf("kiln-image %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestKeygenBuildVerifyInspect(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mustRun(t, nil, "keygen", "-p", p("kiln.pub"), "-s", p("kiln.key"))
	if fi, err := os.Stat(p("kiln.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if code, _, errs := run(t, nil, "keygen", "-p", p("kiln.pub"), "-s", p("kiln.key")); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("keygen over existing keys: exit %d, %q", code, errs)
	}
	if err := os.WriteFile(p("rootfs.sqfs"), bytes.Repeat([]byte{0x68, 0x73, 0x71, 0x73}, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SOURCE_DATE_EPOCH": "1795300000"}
	build := []string{"build", "--payload", p("rootfs.sqfs"), "--kind", "rootfs", "--version", "1.4.0",
		"--board", "rpi4-64,sim", "--board", "any-arm64", "--key", p("kiln.key")}
	out := mustRun(t, env, append(build, "-o", p("one.kimg"))...)
	if !strings.Contains(out, "kiln 1.4.0 for [rpi4-64 sim any-arm64], rootfs payload of 16384 bytes") {
		t.Errorf("build said %q", out)
	}
	mustRun(t, env, append(build, "-o", p("two.kimg"))...)
	if one, two := readFile(t, p("one.kimg")), readFile(t, p("two.kimg")); !bytes.Equal(one, two) {
		t.Error("two builds with the same SOURCE_DATE_EPOCH differ")
	}

	if out := mustRun(t, nil, "verify", "--pub", p("kiln.pub"), "--board", "sim", p("one.kimg")); !strings.Contains(out, "OK: kiln 1.4.0") {
		t.Errorf("verify said %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--board", "bitaxe-gamma"}, "not for this board"},
		{[]string{"--running", "2.0.0"}, "older than the running firmware"},
	} {
		args := append([]string{"verify", "--pub", p("kiln.pub")}, append(tc.args, p("one.kimg"))...)
		if code, _, errs := run(t, nil, args...); code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("verify %v: exit %d, %q; want 1 and %q", tc.args, code, errs, tc.want)
		}
	}
	img := readFile(t, p("one.kimg"))
	img[len(img)-100] ^= 1
	if err := os.WriteFile(p("bad.kimg"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run(t, nil, "verify", "--pub", p("kiln.pub"), p("bad.kimg")); code != 1 || !strings.Contains(errs, "digest mismatch") {
		t.Errorf("verify of a damaged image: exit %d, %q", code, errs)
	}

	out = mustRun(t, nil, "inspect", "--extract", p("x"), p("one.kimg"))
	for _, want := range []string{`"version": "1.4.0"`, "signature: key ", "payload: size and sha256 match"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	if !bytes.Equal(readFile(t, p("x/payload")), readFile(t, p("rootfs.sqfs"))) {
		t.Error("extracted payload differs")
	}
	if bin, err := exec.LookPath("minisign"); err == nil {
		cmd := exec.Command(bin, "-Vm", p("x/manifest.json"), "-p", p("kiln.pub"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("minisign -Vm on the extracted manifest: %v\n%s", err, out)
		}
	}
}

func TestPasswordKey(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	pw := map[string]string{PasswordEnv: "correct horse"}
	out := mustRun(t, pw, "keygen", "--kdf", "interactive", "-p", p("k.pub"), "-s", p("k.key"))
	if !strings.Contains(out, "encrypted with "+PasswordEnv) {
		t.Errorf("keygen said %q", out)
	}
	if err := os.WriteFile(p("payload"), []byte("rootfs"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := []string{"build", "--payload", p("payload"), "--kind", "rootfs", "--version", "1.0.0", "--board", "sim", "--key", p("k.key"), "-o", p("out.kimg")}
	for _, env := range []map[string]string{nil, {PasswordEnv: "wrong"}} {
		if code, _, errs := run(t, env, build...); code != 1 || !strings.Contains(errs, "bad key") {
			t.Errorf("build with password %q: exit %d, %q", env[PasswordEnv], code, errs)
		}
		if _, err := os.Stat(p("out.kimg")); err == nil {
			t.Fatal("a failed build left an image")
		}
	}
	mustRun(t, pw, build...)
	mustRun(t, nil, "verify", "--pub", p("k.pub"), p("out.kimg"))
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"frobnicate"}, {"build", "--kind", "rootfs"}, {"verify", "--pub", "x"}, {"inspect"},
		{"inspect", "a", "b"}, {"keygen", "--kdf", "fast"}, {"boot"}, {"build", "--nope"},
		{"build", "--payload", "p", "--kind", "rootfs", "--version", "1", "--board", "sim", "-o", "x"},
	} {
		if code, _, errs := run(t, nil, args...); code != 2 || errs == "" {
			t.Errorf("kiln-image %v: exit %d, stderr %q; want 2 and a message", args, code, errs)
		}
	}
}

func TestSlotsFlow(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	slots := p("slots")
	mustRun(t, nil, "keygen", "-p", p("kiln.pub"), "-s", p("kiln.key"))
	writeTar(t, p("bundle.tar"), map[string]string{"controller": "#!/bin/sh\necho 1.1.0\n"})
	mustRun(t, nil, "build", "--payload", p("bundle.tar"), "--kind", "bundle", "--version", "1.1.0",
		"--board", "sim", "--key", p("kiln.key"), "-o", p("b.kimg"))
	install := []string{"install", "--slots", slots, "--pub", p("kiln.pub"), "--board", "sim", "--running", "1.0.0", p("b.kimg")}
	if out := mustRun(t, nil, install...); !strings.Contains(out, "into slot b") {
		t.Errorf("install said %q", out)
	}
	if out := mustRun(t, nil, "boot", "--slots", slots); strings.TrimSpace(out) != filepath.Join(slots, "b") {
		t.Errorf("boot printed %q, want slot b's directory", out)
	}
	if got := readFile(t, filepath.Join(slots, "b", "controller")); string(got) != "#!/bin/sh\necho 1.1.0\n" {
		t.Errorf("slot b controller = %q", got)
	}
	if code, _, errs := run(t, nil, install...); code != 1 || !strings.Contains(errs, "trial boot") {
		t.Errorf("install during a trial: exit %d, %q", code, errs)
	}
	mustRun(t, nil, "confirm", "--slots", slots)
	out := mustRun(t, nil, "status", "--slots", slots)
	for _, want := range []string{"active b, booted b, trial false", "slot a: empty", "slot b: kiln 1.1.0 (bundle"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code, _, errs := run(t, nil, "confirm", "--slots", slots); code != 1 || !strings.Contains(errs, "not on a trial boot") {
		t.Errorf("second confirm: exit %d, %q", code, errs)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
