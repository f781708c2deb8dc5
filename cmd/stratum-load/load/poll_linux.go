//go:build linux

package load

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollReadBuf is each reader thread's read buffer: one read takes every line a
// connection has pending after a job.
const pollReadBuf = 64 << 10

// pollEvents is how many ready connections one epoll_wait returns at most.
const pollEvents = 1024

// pollBatchDelay is the pause of a reader thread after each round of reads, so
// that the next round finds many connections ready instead of waking once
// for each. Arrivals are timed by the kernel when the data reached the
// socket (SO_TIMESTAMPNS), so the pause does not show in the figures;
// without a kernel timestamp a read is timed when it returns.
const pollBatchDelay = 2 * time.Millisecond

// pollOOB is room for the control message carrying one receive time.
const pollOOB = 64

// poller reads established connections from a few OS threads, each
// waiting in its own epoll set over the raw descriptors. Ten thousand
// goroutines parked in the runtime's netpoller cost a goroutine wake-up
// and a scheduler round per line; here one epoll_wait hands a thread
// hundreds of ready connections, and each costs one read. The tool shares
// the machine with the server it measures, so its reading must be cheap.
//
// A connection is adopted once its handshake is done: its descriptor is
// duplicated, the net.Conn closed (which takes it out of the runtime's
// netpoller), and the duplicate joins one thread's set, level-triggered,
// read non-blocking once per readiness.
//
// A thread blocks in epoll_wait and in its pause. While at least one of
// the runtime's processors is idle the runtime leaves a processor blocked
// in a system call alone for up to 10 ms; with none idle its monitor
// takes the processor back at every pause and then polls every 20 µs. So
// the default is one thread, fewer than GOMAXPROCS.
type poller struct {
	loops  []*pollLoop
	next   atomic.Uint32
	wake   int // eventfd, readable once stop is called
	wg     sync.WaitGroup
	onDrop func(*conn, error)
	// idle runs the reader threads under SCHED_IDLE.
	idle bool
	// adopted counts connections the reader threads took over.
	adopted atomic.Int64
}

// pollLoop is one reader thread's epoll set and the connections in it.
type pollLoop struct {
	p    *poller
	epfd int

	mu    sync.Mutex
	conns map[int32]*conn
}

// newPoller starts n reader threads, at idle priority if idle is set;
// onDrop is called (on a reader thread) for each connection that ends
// while adopted, except by stop.
func newPoller(n int, idle bool, onDrop func(*conn, error)) (*poller, error) {
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("stratum-load: eventfd: %w", err)
	}
	p := &poller{wake: wake, onDrop: onDrop, idle: idle}
	for range max(n, 1) {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err == nil {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
			if err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
				_ = unix.Close(epfd)
			}
		}
		if err != nil {
			p.stop()
			return nil, fmt.Errorf("stratum-load: epoll: %w", err)
		}
		l := &pollLoop{p: p, epfd: epfd, conns: make(map[int32]*conn)}
		p.loops = append(p.loops, l)
		p.wg.Go(l.run)
	}
	return p, nil
}

// stop ends the reader threads and closes every connection still adopted.
func (p *poller) stop() {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	for {
		if _, err := unix.Write(p.wake, one); !errors.Is(err, unix.EINTR) {
			break
		}
	}
	p.wg.Wait()
	for _, l := range p.loops {
		for _, c := range l.conns {
			c.closeFD()
		}
		_ = unix.Close(l.epfd)
	}
	_ = unix.Close(p.wake)
}

// adopt takes over reading an established connection from its goroutine.
// buffered is what the goroutine had read past the handshake. It returns
// false, with a nil error, when the connection stays with its goroutine
// (its descriptor could not be duplicated), and an error when it had to
// be closed.
func (p *poller) adopt(c *conn, buffered []byte) (bool, error) {
	fd, err := c.takeFD()
	if err != nil {
		return false, nil
	}
	// The kernel times each arrival; without it reads are timed on return.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	// Lines read with the handshake are handled here, before a reader
	// thread can see the descriptor, so one goroutine owns c.carry at a time.
	if err := c.feed(buffered, time.Now()); err != nil {
		c.closeFD()
		return true, err
	}
	l := p.loops[int(p.next.Add(1))%len(p.loops)]
	l.mu.Lock()
	l.conns[int32(fd)] = c
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.forget(fd)
		c.closeFD()
		return true, fmt.Errorf("stratum-load: epoll add: %w", err)
	}
	p.adopted.Add(1)
	return true, nil
}

// run is one reader thread: wait, read each ready connection once, pause,
// repeat until the wake descriptor fires.
func (l *pollLoop) run() {
	// The thread is never unlocked: with its scheduling class changed it
	// must end with the goroutine rather than go back to the runtime.
	runtime.LockOSThread()
	if l.p.idle {
		// Reading can wait: the kernel times the arrivals. Under
		// SCHED_IDLE the thread runs only on a core nothing else wants, so
		// the server under test keeps both cores while it fans a job out.
		_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
	}
	events := make([]unix.EpollEvent, pollEvents)
	buf := make([]byte, pollReadBuf)
	oob := make([]byte, pollOOB)
	pause := unix.NsecToTimespec(int64(pollBatchDelay))
	for {
		n, err := unix.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // the set is gone: stop closed it
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == l.p.wake {
				return
			}
			l.service(fd, buf, oob)
		}
		_ = unix.Nanosleep(&pause, nil)
	}
}

// service reads once from a ready connection and handles the complete
// lines, timed when the kernel received the data.
func (l *pollLoop) service(fd int, buf, oob []byte) {
	l.mu.Lock()
	c := l.conns[int32(fd)]
	l.mu.Unlock()
	if c == nil {
		return
	}
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
	now, ok := recvTime(oob[:max(oobn, 0)])
	if !ok {
		now = time.Now()
	}
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return
	case err != nil:
		l.drop(fd, c, fmt.Errorf("stratum-load: read: %w", err))
	case n == 0:
		l.drop(fd, c, errClosedByServer)
	default:
		if err := c.feed(buf[:n], now); err != nil {
			l.drop(fd, c, err)
		}
	}
}

// recvTime finds the SCM_TIMESTAMPNS control message in oob (8-byte
// aligned, as the kernel fills it): the time the kernel received the last
// bytes read.
func recvTime(oob []byte) (time.Time, bool) {
	head := unix.CmsgLen(0)
	for len(oob) >= head {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := uint64(h.Len)
		if n < uint64(head) || n > uint64(len(oob)) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS &&
			n >= uint64(unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{})))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[head]))
			return time.Unix(ts.Unix()), true
		}
		oob = oob[min(unix.CmsgSpace(int(n)-head), len(oob)):]
	}
	return time.Time{}, false
}

// errClosedByServer is the drop reason when the server closed first.
var errClosedByServer = errors.New("stratum-load: closed by the server")

// drop takes a connection out of the set, closes it and reports it.
func (l *pollLoop) drop(fd int, c *conn, err error) {
	l.forget(fd)
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	c.closeFD()
	if l.p.onDrop != nil {
		l.p.onDrop(c, err)
	}
}

func (l *pollLoop) forget(fd int) {
	l.mu.Lock()
	delete(l.conns, int32(fd))
	l.mu.Unlock()
}

// takeFD swaps the connection's net.Conn for a duplicate of its
// descriptor, under the write lock so no line is written half-way through.
// Closing the net.Conn removes the socket from the runtime's netpoller;
// the duplicate keeps it open and non-blocking (the flag belongs to the
// shared file description).
func (c *conn) takeFD() (int, error) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("stratum-load: not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("stratum-load: raw conn: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("stratum-load: raw conn: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("stratum-load: dup: %w", dupErr)
	}
	_ = c.nc.Close()
	c.fd = fd
	return fd, nil
}

// closeFD closes the adopted descriptor once, under the write lock, so a
// writer never writes to a number the kernel has handed to a new socket.
func (c *conn) closeFD() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
}

// shutdown ends the connection from any goroutine: the net.Conn is closed
// during the handshake; once adopted the socket is shut down, and the
// reader thread that sees it end closes the descriptor.
func (c *conn) shutdown() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.fd >= 0 {
		_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
		return
	}
	_ = c.nc.Close()
}

// writeFD writes line to the adopted descriptor (c.wmu held), waiting for
// room at most writeTimeout; a failure shuts the socket down.
func (c *conn) writeFD(line []byte) {
	deadline := time.Now().Add(writeTimeout)
	for len(line) > 0 {
		n, err := unix.Write(c.fd, line)
		switch {
		case err == nil:
			line = line[n:]
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			left := time.Until(deadline)
			if left <= 0 {
				_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
				return
			}
			pfd := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}}
			_, _ = unix.Poll(pfd, int(left/time.Millisecond)+1)
		default:
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
			return
		}
	}
}
