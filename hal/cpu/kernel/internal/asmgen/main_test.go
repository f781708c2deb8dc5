package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestFilesUpToDate fails when the committed assembly differs from what
// the generator writes: run go generate in package kernel.
func TestFilesUpToDate(t *testing.T) {
	for name, want := range generate() {
		got, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./hal/cpu/kernel/", name)
		}
	}
}
