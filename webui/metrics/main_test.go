package metrics

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// collector must do its work inside the scrape.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
