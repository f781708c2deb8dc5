package cgminer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kilnfw/kiln/webui"
)

// Backend is what the cgminer API reads and changes in the controller.
// Every method must be safe for concurrent use.
type Backend interface {
	// Summary returns the session totals and hash rates.
	Summary() webui.Summary
	// Pools returns the live pool status in priority order, disabled
	// pools included (Status "disabled", Enabled false).
	Pools() []webui.Pool
	// Boards returns the hash boards and their chains.
	Boards() []webui.Board
	// Fans returns the fans, empty where the machine has none.
	Fans() []webui.Fan
	// System describes the controller and the machine.
	System() webui.SystemInfo
	// PoolSettings returns the saved pool list; a pool's index is its id.
	// It is empty while mining to the embedded demo pool.
	PoolSettings(ctx context.Context) ([]webui.PoolSetting, error)
	// SetPoolSettings validates, saves and reconnects to a pool list.
	SetPoolSettings(ctx context.Context, pools []webui.PoolSetting) error
	// RestartMining restarts the hashing boards and pool connections. It
	// runs after the reply is sent and must not wait for Serve to end.
	RestartMining(ctx context.Context) error
}

// Config configures a Server.
type Config struct {
	// Backend is the controller the API reads and changes. Required.
	Backend Backend
	// Allow is the access list in cgminer --api-allow syntax: a comma
	// list of [W:|R:]addr[/prefix]; W: is privileged, R: or no letter
	// read-only; the first match wins; 0/0 is everyone. Empty means Kiln's
	// default: read-only for every address, privileged from loopback only.
	Allow string
	// Version is the firmware version shown in VERSION and Description.
	Version string
	// Log receives connection and pool change events; nil discards.
	Log *slog.Logger
	// Now is the clock for the When fields; nil means time.Now.
	Now func() time.Time
}

// Server answers cgminer API requests. Create it with New and run it with
// Serve.
type Server struct {
	backend Backend
	allow   allowList
	version string
	desc    string
	log     *slog.Logger
	now     func() time.Time
	cmds    map[string]command

	maxConns     int
	readTimeout  time.Duration
	writeTimeout time.Duration
	lingerTime   time.Duration

	poolMu     sync.Mutex // serializes pool list read-modify-write
	restarting atomic.Bool
}

// Limits of one connection.
const (
	defaultMaxConns = 32
	readTimeout     = 5 * time.Second
	writeTimeout    = 5 * time.Second
	// lingerTime bounds how long unread request bytes are drained after
	// the reply, so the close does not reset the connection under the
	// client before it has read the reply.
	lingerTime = time.Second
)

// New checks cfg and returns a Server. It fails when the backend is
// missing or the access list is malformed.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("cgminer: no backend")
	}
	allow := defaultAllow()
	if strings.TrimSpace(cfg.Allow) != "" {
		var err error
		if allow, err = parseAllow(cfg.Allow); err != nil {
			return nil, err
		}
	}
	s := &Server{
		backend:      cfg.Backend,
		allow:        allow,
		version:      cfg.Version,
		desc:         strings.TrimSpace("kiln " + cfg.Version),
		log:          cfg.Log,
		now:          cfg.Now,
		maxConns:     defaultMaxConns,
		readTimeout:  readTimeout,
		writeTimeout: writeTimeout,
		lingerTime:   lingerTime,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.cmds = commandTable()
	return s, nil
}

// Serve accepts connections on ln until ctx ends, answering each in its
// own goroutine, at most 32 at once (more are closed unanswered). It
// closes ln, waits for the connections being served and for a restart
// under way, and returns nil once ctx has ended, or an error if ln fails
// for another reason.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	slots := make(chan struct{}, s.maxConns)
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("cgminer: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("cgminer api: accept failed", "err", err, "retry_in", backoff)
			if !wait(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		select {
		case slots <- struct{}{}:
		default:
			s.log.Warn("cgminer api: too many connections", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		wg.Go(func() {
			restart := s.serveConn(ctx, conn)
			<-slots
			if restart {
				s.restartMining(ctx)
			}
		})
	}
}

// wait returns after d, or false at once when ctx ends first.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serveConn answers the one request of conn and closes it. It reports
// whether the request asked for a mining restart.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) (restart bool) {
	defer conn.Close()
	remote := remoteAddr(conn)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("cgminer api: request failed", "remote", remote.String(), "panic", v, "stack", string(debug.Stack()))
			restart = false
		}
	}()
	lvl := s.allow.level(remote)
	if !remote.IsValid() || lvl == levelNone {
		s.log.Debug("cgminer api: address not allowed", "remote", remote.String())
		return false
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	raw, err := s.readRequest(conn)
	if len(raw) == 0 && err != nil {
		return false
	}
	out, restart := s.answer(ctx, raw, lvl, remote)
	conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	if _, err := conn.Write(out); err != nil {
		s.log.Debug("cgminer api: write reply", "remote", remote.String(), "err", err)
		return restart
	}
	s.linger(conn)
	return restart
}

// remoteAddr returns the client's IP address, invalid when conn is not an
// IP connection.
func remoteAddr(conn net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// readRequest reads one request: up to maxRequest bytes, stopping at a NUL
// byte, at a newline (text form), at the end of a complete JSON object,
// at EOF or at the read deadline. A text request ends with the first read,
// as with cgminer's single recv.
func (s *Server) readRequest(conn net.Conn) ([]byte, error) {
	conn.SetReadDeadline(time.Now().Add(s.readTimeout))
	buf := make([]byte, maxRequest)
	n := 0
	for n < len(buf) {
		m, err := conn.Read(buf[n:])
		n += m
		if end, done := requestEnd(buf[:n]); done {
			return buf[:end], nil
		}
		if err != nil {
			return buf[:n], err
		}
	}
	return buf[:n], nil
}

// requestEnd reports whether b holds a whole request and where it ends.
func requestEnd(b []byte) (int, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return i, true
	}
	if !isJSON(b) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return i, true
		}
		return len(b), len(bytes.TrimSpace(b)) > 0
	}
	trimmed := bytes.TrimRight(b, " \t\r\n")
	if trimmed[len(trimmed)-1] == '}' && json.Valid(trimmed) {
		return len(b), true
	}
	return 0, false
}

// linger half-closes conn and drains what the client still sends, for a
// bounded time, so that closing with unread bytes does not reset the
// connection before the client has read the reply.
func (s *Server) linger(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return
		}
	}
	conn.SetReadDeadline(time.Now().Add(s.lingerTime))
	io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
}

// restartMining runs the restart asked for over the API; a restart already
// under way absorbs further requests.
func (s *Server) restartMining(ctx context.Context) {
	if !s.restarting.CompareAndSwap(false, true) {
		return
	}
	defer s.restarting.Store(false)
	s.log.Info("cgminer api: restarting mining")
	if err := s.backend.RestartMining(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("cgminer api: restart mining", "err", err)
	}
}
