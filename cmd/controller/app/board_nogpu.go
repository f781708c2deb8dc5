//go:build !opencl

package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kilnfw/kiln/hal/gpu"
)

// newGPUPlan fails: this build has no OpenCL backend.
func newGPUPlan(int, *slog.Logger) (boardPlan, error) {
	return nil, fmt.Errorf("--board gpu: %w", gpu.ErrNotBuilt)
}

// benchGPU fails: this build has no OpenCL backend.
func benchGPU(context.Context, int, time.Duration, io.Writer) error {
	return fmt.Errorf("bench: --board gpu: %w", gpu.ErrNotBuilt)
}
