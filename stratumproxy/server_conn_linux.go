//go:build linux

package stratumproxy

import (
	"syscall"
	"unsafe"
)

// srvWriteFD makes one write to a non-blocking socket; again reports that
// it took nothing now (full, or interrupted) and may take it later.
//
// It is a raw system call: the socket never blocks, and a job fanned out to
// thousands of miners makes thousands of these in a row. Announced to the
// scheduler, each would let the runtime's monitor take the processor away
// mid-call and wake every 20 µs to check on it.
func srvWriteFD(fd uintptr, b []byte) (n int, again bool, err error) {
	if len(b) == 0 {
		return 0, false, nil
	}
	r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	switch errno {
	case 0:
		return int(r), false, nil
	case syscall.EAGAIN, syscall.EINTR:
		return 0, true, nil
	}
	return 0, false, errno
}
