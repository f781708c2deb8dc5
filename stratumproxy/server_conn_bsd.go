//go:build unix && !linux

package stratumproxy

import (
	"errors"
	"syscall"
)

// srvWriteFD makes one write to a non-blocking socket; again reports that
// it took nothing now (full, or interrupted) and may take it later.
func srvWriteFD(fd uintptr, b []byte) (n int, again bool, err error) {
	n, err = syscall.Write(int(fd), b)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return n, false, nil
}
