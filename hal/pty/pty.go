// Package pty opens pseudo-terminal pairs set up as a serial line: both
// ends raw, the master pollable. The simulated board puts a chip emulator
// on the master, and the driver opens the slave path exactly as it opens a
// UART on hardware.
package pty

import (
	"fmt"
	"os"

	cpty "github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// OpenRaw opens a pseudo-terminal pair with both ends in raw mode. The
// master comes back as a non-blocking, pollable file, so that a read or
// write blocked on it ends when it is closed or given a deadline (the file
// pty.Open returns has been switched to blocking mode). Keeping the slave open
// keeps the line up while a driver closes and reopens its path.
func OpenRaw() (master, slave *os.File, err error) {
	p, tty, err := cpty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("pty: open pty: %w", err)
	}
	fd, err := unix.Dup(int(p.Fd()))
	p.Close()
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("pty: dup pty master: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		tty.Close()
		return nil, nil, fmt.Errorf("pty: pty master non-blocking: %w", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	for _, f := range []*os.File{master, tty} {
		if err := makeRaw(f); err != nil {
			master.Close()
			tty.Close()
			return nil, nil, err
		}
	}
	return master, tty, nil
}

// makeRaw puts a terminal into raw mode: 8-bit bytes pass unchanged, no
// echo, no line discipline, no flow control. On Linux the master's
// settings are its slave's, so this is idempotent across the pair; a
// driver opening the slave sets raw mode again and any line rate it likes.
func makeRaw(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("pty: raw mode %s: %w", f.Name(), err)
	}
	var opErr error
	err = sc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			opErr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR |
			unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag = t.Cflag&^(unix.CSIZE|unix.PARENB|unix.CRTSCTS) | unix.CS8 | unix.CLOCAL | unix.CREAD
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		opErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return fmt.Errorf("pty: raw mode %s: %w", f.Name(), err)
	}
	return nil
}
