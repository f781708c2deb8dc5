//go:build !opencl

package app

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/kilnfw/kiln/hal/gpu"
)

// TestGPUNotBuilt: without the opencl tag, --board gpu fails at once with
// the message saying how to get a build that has it.
func TestGPUNotBuilt(t *testing.T) {
	for _, args := range [][]string{
		{"--board", "gpu", "--data", t.TempDir(), "--http", "127.0.0.1:0"},
		{"bench", "--board", "gpu", "--duration", "1s"},
	} {
		err := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, gpu.ErrNotBuilt) {
			t.Errorf("Run(%q) = %v, want ErrNotBuilt", args, err)
		}
	}
}
