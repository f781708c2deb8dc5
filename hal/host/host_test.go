package host

import (
	"strings"
	"testing"
)

// The build machine has no I²C adapter or GPIO line by these names: the
// lookups must fail with errors that name what was asked for, and a probe
// must say nothing answers.
func TestMissingHardware(t *testing.T) {
	if _, err := OpenI2C("/dev/i2c-kiln-missing"); err == nil || !strings.Contains(err.Error(), "i2c-kiln-missing") {
		t.Errorf("OpenI2C on a missing bus: %v", err)
	}
	if _, err := Pin("KILN_MISSING_LINE"); err == nil || !strings.Contains(err.Error(), "KILN_MISSING_LINE") {
		t.Errorf("Pin on a missing line: %v", err)
	}
	if Probe("/dev/i2c-kiln-missing", 0x4C) {
		t.Error("Probe on a missing bus reported a device")
	}
	// Init is idempotent: a second call reports the same outcome.
	if a, b := Init(), Init(); (a == nil) != (b == nil) {
		t.Errorf("Init changed its answer: %v then %v", a, b)
	}
}
