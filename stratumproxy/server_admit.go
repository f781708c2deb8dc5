package stratumproxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Admission of connections (limits, allow-list) and the bookkeeping of
// their extranonce1 and sessions.

// acceptLoop accepts until the listener is closed; errors after ctx ended
// are the shutdown itself and reported as nil. Other accept errors (out of
// file descriptors) are retried with a growing pause.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) error {
	s.log.Info("stratum server listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 0
			s.admit(nc, wg)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("stratum server: accept: %w", err)
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.log.Warn("stratum server: accept failed", "err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
	}
}

// admit registers a new connection and starts it, or closes it at once
// when the server is full, the peer is not allowed, or shutting down.
func (s *Server) admit(nc net.Conn, wg *sync.WaitGroup) {
	ip := srvRemoteIP(nc)
	s.mu.Lock()
	refusal := s.refusalLocked(ip)
	if refusal != "" {
		s.mu.Unlock()
		_ = nc.Close()
		if refusal != "closing" {
			s.log.Warn("stratum server: connection refused", "remote", nc.RemoteAddr().String(),
				"reason", refusal)
		}
		return
	}
	s.connSeq++
	c := newSrvConn(s, nc, s.connSeq, srvQueueLen)
	c.ip = ip
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer wg.Done()
		c.run()
	}()
}

// refusalLocked says why a peer at ip may not connect now, or "".
func (s *Server) refusalLocked(ip netip.Addr) string {
	switch {
	case s.closing:
		return "closing"
	case len(s.conns) >= s.cfg.MaxConns:
		return fmt.Sprintf("server full (%d connections)", s.cfg.MaxConns)
	case !srvAllowed(s.cfg.AllowNets, ip):
		return "address not allowed"
	case s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP:
		return fmt.Sprintf("too many connections from this address (%d)", s.cfg.MaxConnsPerIP)
	}
	return ""
}

func srvAllowed(nets []netip.Prefix, ip netip.Addr) bool {
	if len(nets) == 0 {
		return true
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// srvRemoteIP is the peer's address (IPv4-mapped forms unmapped), or the
// zero Addr when it is not an IP peer.
func srvRemoteIP(nc net.Conn) netip.Addr {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// closeAll marks the server closing and closes every connection.
func (s *Server) closeAll() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.DropAll()
}

// unregister forgets a closed connection and keeps its session resumable.
func (s *Server) unregister(c *srvConn) {
	sid := c.sessionID() // before s.mu: the lock order is conn, then server
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if _, ok := s.perIP[c.ip]; ok {
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	if sid != "" {
		delete(s.en1InUse, sid)
		if len(s.closed) >= srvMaxClosed {
			s.pruneClosedLocked(true)
		}
		s.closed[sid] = s.now()
	}
}

// pruneClosedLocked drops expired sessions, and all of them if force is
// set and none expired.
func (s *Server) pruneClosedLocked(force bool) {
	now := s.now()
	n := len(s.closed)
	for sid, at := range s.closed {
		if now.Sub(at) > srvSessionResume {
			delete(s.closed, sid)
		}
	}
	if force && len(s.closed) == n {
		clear(s.closed)
	}
}

// allocExtranonce1 returns the extranonce1 for a subscribing connection:
// the resumed session's when resume names a recently closed one, else a
// fresh value unique among live and resumable sessions.
func (s *Server) allocExtranonce1(resume string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneClosedLocked(false)
	if at, ok := s.closed[resume]; ok && s.now().Sub(at) <= srvSessionResume {
		en1, err := decodeHex("session id", resume, s.cfg.Extranonce1Size)
		if err == nil {
			delete(s.closed, resume)
			s.en1InUse[resume] = struct{}{}
			return en1, nil
		}
	}
	size := s.cfg.Extranonce1Size
	tries := 4096
	if size < 2 {
		tries = 256
	}
	en1 := make([]byte, size)
	for range tries {
		s.en1Next++
		v := s.en1Next
		for i := range en1 {
			en1[size-1-i] = byte(v >> (8 * i))
		}
		sid := hexString(en1)
		if s.hooks != nil && v&srvMaskBytes(size) == 0 {
			continue // prefix 0 is the proxy's own hash boards'
		}
		_, live := s.en1InUse[sid]
		_, resumable := s.closed[sid]
		if !live && !resumable {
			s.en1InUse[sid] = struct{}{}
			return en1, nil
		}
	}
	return nil, errors.New("no extranonce1 available")
}

// srvMaskBytes is a mask of the low n bytes.
func srvMaskBytes(n int) uint64 {
	if n >= 8 {
		return math.MaxUint64
	}
	return 1<<(8*n) - 1
}
