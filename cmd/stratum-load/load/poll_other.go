//go:build !linux

package load

import (
	"errors"
	"sync/atomic"
)

// poller is not available here: every connection keeps its own reader
// goroutine.
type poller struct {
	adopted atomic.Int64 // always 0
}

func newPoller(int, bool, func(*conn, error)) (*poller, error) {
	return nil, errors.New("stratum-load: no poller on this system")
}

func (*poller) stop() {}

func (*poller) adopt(*conn, []byte) (bool, error) { return false, nil }

func (c *conn) closeFD() {}

func (c *conn) shutdown() { _ = c.nc.Close() }

func (c *conn) writeFD([]byte) {}
