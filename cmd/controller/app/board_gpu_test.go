//go:build opencl

package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGPUMinesToDemoPool mines with --board gpu to the embedded demo pool
// over real TCP: the pool accepts the shares, none is rejected, and the
// board API names the OpenCL device.
func TestGPUMinesToDemoPool(t *testing.T) {
	c := startController(t, "--board", "gpu", "--demo-difficulty", "0.0009765625")
	waitFor(t, 60*time.Second, "2 accepted shares", func() bool { return c.summary(t).Accepted >= 2 })
	s := c.summary(t)
	if s.Rejected != 0 || s.HWErrors != 0 {
		t.Errorf("summary = %+v, want no rejects and no hardware errors", s)
	}
	if s.Hashrate <= 0 {
		t.Errorf("hashrate = %v, want > 0", s.Hashrate)
	}
	var boards []struct {
		Kind  string `json:"kind"`
		Model string `json:"model"`
	}
	c.get(t, "/api/v1/boards", &boards)
	if len(boards) != 1 || boards[0].Kind != "gpu" || boards[0].Model == "" || strings.HasPrefix(boards[0].Model, "opencl device") {
		t.Errorf("boards = %+v, want one gpu board named for its device", boards)
	}
}

// TestGPUBench checks the bench contract on the OpenCL device: it names the
// device, verifies every result and ends with "hashrate_hs: N".
func TestGPUBench(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"bench", "--board", "gpu", "--duration", "1s"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rate float64
	if n, _ := fmt.Sscanf(lines[len(lines)-1], "hashrate_hs: %f", &rate); n != 1 || rate <= 0 {
		t.Fatalf("last line %q, want hashrate_hs: N > 0\n%s", lines[len(lines)-1], out.String())
	}
	if !strings.Contains(out.String(), "hw_errors: 0\n") || !strings.Contains(out.String(), "device: ") {
		t.Errorf("bench output lacks the device or hw_errors: 0:\n%s", out.String())
	}
	if err := Run(context.Background(), []string{"bench", "--board", "gpu", "--duration", "1s", "--gpu-device", "99"},
		&bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no device 99") {
		t.Errorf("bench on device 99: %v, want a no-device error", err)
	}
}
