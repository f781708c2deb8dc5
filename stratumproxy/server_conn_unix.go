//go:build unix

package stratumproxy

import (
	"net"
	"syscall"
)

// srvRawConn returns nc's socket for writes that do not wait, or nil when
// nc is not a socket.
func srvRawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
