//go:build !unix

package stratumproxy

import (
	"errors"
	"net"
	"syscall"
)

// srvRawConn returns nil: every line goes through the writer goroutine.
func srvRawConn(net.Conn) syscall.RawConn { return nil }

// srvWriteFD is never called where srvRawConn returns nil.
func srvWriteFD(uintptr, []byte) (int, bool, error) {
	return 0, false, errors.ErrUnsupported
}
