package firmware

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtractBundle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "slot")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := makeTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "./controller", body: "ELF binary", mode: 0o4755}, // setuid dropped
		tarEntry{name: "etc/kiln/", typ: tar.TypeDir},
		tarEntry{name: "etc/kiln/kiln.toml", body: "board = \"sim\"", mode: 0o666},
		tarEntry{name: "lib/libfoo.so.1", body: "lib"},
		tarEntry{name: "lib/libfoo.so", typ: tar.TypeSymlink, link: "libfoo.so.1"},
		tarEntry{name: "bin/ctl", typ: tar.TypeSymlink, link: "../controller"},
		tarEntry{name: "etc/", typ: tar.TypeDir}, // again, after its contents
	)
	if err := extractBundle(bytes.NewReader(b), dir, int64(len(b))); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".":                  "drwxr-xr-x",
		"controller":         "-rwxr-xr-x ELF binary",
		"etc":                "drwxr-xr-x",
		"etc/kiln":           "drwxr-xr-x",
		"etc/kiln/kiln.toml": `-rw-r--r-- board = "sim"`,
		"lib":                "drwxr-xr-x",
		"lib/libfoo.so.1":    "-rw-r--r-- lib",
		"lib/libfoo.so":      "Lrwxrwxrwx -> libfoo.so.1",
		"bin":                "drwxr-xr-x",
		"bin/ctl":            "Lrwxrwxrwx -> ../controller",
	}
	if diff := cmp.Diff(want, snapshot(t, dir)); diff != "" {
		t.Errorf("extracted tree (-want +got):\n%s", diff)
	}
}

func TestBundleRejects(t *testing.T) {
	reg := func(name string) tarEntry { return tarEntry{name: name, body: "x"} }
	link := func(name, target string) tarEntry { return tarEntry{name: name, typ: tar.TypeSymlink, link: target} }
	tests := []struct {
		name    string
		entries []tarEntry
	}{
		{"absolute path", []tarEntry{reg("/etc/passwd")}},
		{"dot dot", []tarEntry{reg("../x")}},
		{"dot dot inside", []tarEntry{reg("a/../../x")}},
		{"dot dot that cleans inside", []tarEntry{reg("a/../x")}},
		{"backslash", []tarEntry{reg(`a\..\x`)}},
		{"absolute link", []tarEntry{link("l", "/etc")}},
		{"link out", []tarEntry{link("a/l", "../../x")}},
		{"link with inner dot dot", []tarEntry{link("s", "."), link("l", "s/..")}},
		{"file through a link", []tarEntry{link("l", "d"), reg("l/x")}},
		{"hard link", []tarEntry{reg("a"), {name: "b", typ: tar.TypeLink, link: "a"}}},
		{"device", []tarEntry{{name: "null", typ: tar.TypeChar}}},
		{"fifo", []tarEntry{{name: "p", typ: tar.TypeFifo}}},
		{"reserved .kiln", []tarEntry{reg(".kiln/manifest.json")}},
		{"reserved .kiln dir", []tarEntry{{name: ".kiln/", typ: tar.TypeDir}}},
		{"duplicate file", []tarEntry{reg("a"), reg("a")}},
		{"file over a link", []tarEntry{link("a", "b"), reg("a")}},
		{"dir over a file", []tarEntry{reg("a"), {name: "a/", typ: tar.TypeDir}}},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "slot")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			b := makeTar(t, tc.entries...)
			err := extractBundle(bytes.NewReader(b), dir, int64(len(b)))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("extract: %v, want ErrMalformed", err)
			}
			t.Log(err)
			if names, _ := os.ReadDir(parent); len(names) != 1 {
				t.Errorf("something was written beside the slot: %v", names)
			}
		})
	}
}

func TestBundleSizeLimit(t *testing.T) {
	b := makeTar(t, tarEntry{name: "a", body: string(make([]byte, 600))}, tarEntry{name: "b", body: string(make([]byte, 600))})
	dir := t.TempDir()
	if err := extractBundle(bytes.NewReader(b), dir, 1000); !errors.Is(err, ErrMalformed) {
		t.Fatalf("files adding up past the limit: %v", err)
	}
}

func TestBuildChecksBundle(t *testing.T) {
	key := testKey(t, 1)
	bad := makeTar(t, tarEntry{name: "../escape", body: "x"})
	_, err := Build(&bytes.Buffer{}, bytes.NewReader(bad), BuildOptions{
		Version: "1.0.0", Boards: []string{"sim"}, Kind: KindBundle, Key: &key})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Build of an unsafe bundle: %v, want ErrMalformed", err)
	}
	if _, err := Build(&bytes.Buffer{}, bytes.NewReader([]byte("not a tar at all, far too short")), BuildOptions{
		Version: "1.0.0", Boards: []string{"sim"}, Kind: KindBundle, Key: &key}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Build of a non-tar bundle: %v, want ErrMalformed", err)
	}
}

// FuzzExtractBundle extracts arbitrary tar streams: nothing may panic or
// land outside the slot directory.
func FuzzExtractBundle(f *testing.F) {
	f.Add(makeTar(f, tarEntry{name: "controller", body: "ELF"}, tarEntry{name: "l", typ: tar.TypeSymlink, link: "controller"}))
	f.Add(makeTar(f, tarEntry{name: "../x", body: "x"}))
	f.Add(makeTar(f, tarEntry{name: "s", typ: tar.TypeSymlink, link: "."}, tarEntry{name: "s/x", body: "x"}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "slot")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		err := extractBundle(bytes.NewReader(data), dir, 1<<20)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("untyped error: %v", err)
		}
		if names, _ := os.ReadDir(parent); len(names) != 1 {
			t.Fatalf("something was written beside the slot: %v", names)
		}
	})
}
