//go:build linux

package load

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scriptLines are what the scripted server sends: the handshake replies
// with the first job, then a job split over two writes, a ping, a last
// job.
var scriptLines = struct{ hello, split, ping, last string }{
	hello: `{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}` + "\n" +
		`{"id":2,"result":[[["mining.notify","01"]],"f000000f",4],"error":null}` + "\n" +
		`{"id":3,"result":true,"error":null}` + "\n" +
		`{"id":null,"method":"mining.set_difficulty","params":[1]}` + "\n" +
		notifyLine("j1", true),
	split: notifyLine("j2", false),
	ping:  `{"id":9,"method":"mining.ping","params":[]}` + "\n",
	last:  notifyLine("j3", false),
}

// TestPollerTakesOverAfterHandshake runs the tool against a scripted
// server on real TCP: after the handshake a poller thread reads the
// connection, joins a line split over two writes, answers a ping through
// the raw descriptor and counts the server's close as a drop.
func TestPollerTakesOverAfterHandshake(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := newRunner(Config{Addr: ln.Addr().String(), Conns: 1, Duration: 3 * time.Second, User: "w",
		Password: "x", MaxHashes: 1, HandshakeTimeout: 2 * time.Second, Readers: 2}, nil)
	if r.poll == nil {
		t.Fatal("no poller on linux")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *Summary, 1)
	go func() { done <- r.run(ctx) }()

	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(nc)
	for i := range 3 { // configure, subscribe, authorize
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatalf("handshake line %d: %v", i, err)
		}
	}
	serverWrite(t, nc, scriptLines.hello)
	waitFor(t, "adoption", func() bool { return r.poll.adopted.Load() == 1 })
	half := len(scriptLines.split) / 2
	serverWrite(t, nc, scriptLines.split[:half])
	serverWrite(t, nc, scriptLines.split[half:]+scriptLines.ping)
	pong, err := br.ReadString('\n')
	if err != nil || !strings.Contains(pong, `"id":9`) || !strings.Contains(pong, `"pong"`) {
		t.Fatalf("ping answered %q, %v; want a pong for id 9", pong, err)
	}
	serverWrite(t, nc, scriptLines.last)
	nc.Close()
	waitFor(t, "drop", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.nDropped == 1
	})
	cancel()

	s := <-done
	if c := s.Connections; c.Established != 1 || c.Dropped != 1 || c.Failed != 0 {
		t.Errorf("connections = %+v, want 1 established and dropped", c)
	}
	if s.Notifies != 3 || s.Malformed != 0 {
		t.Errorf("notifies %d malformed %d, want 3 and 0", s.Notifies, s.Malformed)
	}
	if f := s.Fanout; f.Jobs != 2 || f.Count != 2 || f.JobsToAll != 2 {
		t.Errorf("fan-out = %+v, want jobs j2 and j3 at the one connection", f)
	}
}

func serverWrite(t *testing.T, nc net.Conn, s string) {
	t.Helper()
	if _, err := nc.Write([]byte(s)); err != nil {
		t.Fatalf("server write: %v", err)
	}
}

// waitFor polls cond until it holds, failing after two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 2s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// cmsg builds one control message as the kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func timespecBytes(t time.Time) []byte {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unsafe.Slice((*byte)(unsafe.Pointer(&ts)), unsafe.Sizeof(ts))
}

func TestRecvTime(t *testing.T) {
	at := time.Unix(1_763_726_400, 123_456_789)
	stamp := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespecBytes(at))
	other := cmsg(unix.SOL_IP, unix.IP_TOS, []byte{0x10})
	tests := []struct {
		name string
		oob  []byte
		ok   bool
	}{
		{"timestamp", stamp, true},
		{"after another message", append(append([]byte{}, other...), stamp...), true},
		{"none", nil, false},
		{"another message only", other, false},
		{"truncated", stamp[:len(stamp)-4], false},
		{"header only", stamp[:unix.CmsgLen(0)], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oob := append(make([]byte, 0, len(tc.oob)+8), tc.oob...) // 8-byte aligned
			got, ok := recvTime(oob)
			if ok != tc.ok || (ok && !got.Equal(at)) {
				t.Errorf("recvTime = %v, %v; want %v, %v", got, ok, at, tc.ok)
			}
		})
	}
}

// TestKernelReceiveTime reads a line a while after it arrived on a real
// socket: the time reported is when it arrived, not when it was read.
func TestKernelReceiveTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := newConn(&runner{}, client, time.Now())
	fd, err := c.takeFD()
	if err != nil {
		t.Fatal(err)
	}
	defer c.closeFD()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	buf, oob := make([]byte, 64), make([]byte, pollOOB)
	recv := func() (string, time.Time, bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); ; {
			n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
			if err == nil {
				at, ok := recvTime(oob[:oobn])
				return string(buf[:n]), at, ok
			}
			if !errors.Is(err, unix.EAGAIN) || time.Now().After(deadline) {
				t.Fatalf("recvmsg: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// The kernel turns receive timestamps on a moment after the first
	// socket asks (from a work queue): probe until a line carries one.
	for deadline := time.Now().Add(2 * time.Second); ; {
		serverWrite(t, server, "probe\n")
		if _, _, ok := recv(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no receive timestamp within 2s")
		}
	}
	sent := time.Now()
	serverWrite(t, server, "line\n")
	time.Sleep(50 * time.Millisecond) // what is measured: the line waits unread
	line, at, ok := recv()
	read := time.Now()
	if line != "line\n" || !ok {
		t.Fatalf("read %q, timestamp %v; want the line with its receive time", line, ok)
	}
	if at.Before(sent.Add(-time.Millisecond)) || read.Sub(at) < 40*time.Millisecond {
		t.Errorf("arrival %v: sent %v, read %v; want the arrival, before the read by the wait",
			at.Sub(sent), sent, read.Sub(sent))
	}
}

// FuzzRecvTime feeds arbitrary control data: nothing may panic.
func FuzzRecvTime(f *testing.F) {
	f.Add(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespecBytes(time.Unix(1, 2))))
	f.Add(cmsg(unix.SOL_IP, unix.IP_TOS, []byte{1}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0x23, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		oob := append(make([]byte, 0, len(data)+8), data...)
		recvTime(oob)
	})
}
