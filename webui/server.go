package webui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts of the HTTP server. A LAN UI has small requests; the limits keep
// slow or idle clients from holding connections on a small board.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	// shutdownTimeout bounds how long Serve waits for requests in flight
	// once its context ends; connections still open after it are closed.
	shutdownTimeout = 5 * time.Second
)

// Config is what the controller hands to New.
type Config struct {
	// Status is the mining core's state, read on every API request.
	Status Status
	// CheckPassword reports whether password is the admin password (the
	// user must be "admin"). It may be slow (argon2); successful checks are
	// cached for a short time. Nil refuses every login.
	CheckPassword func(password string) bool
	// Version is the firmware version reported by /api/v1/health.
	Version string
	// Log receives request failures, panics and failed logins; nil
	// discards them.
	Log *slog.Logger
	// Now is the clock used for uptime, lockouts and the credential
	// cache; nil means time.Now.
	Now func() time.Time
}

// Server is the web UI and REST API. Build it with New, then either mount
// Handler in a server of your own or call Serve.
type Server struct {
	status  Status
	version string
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	auth    *authenticator
	assets  map[string]asset
	index   []byte
	engine  *gin.Engine
}

// New builds the server and its routes. It puts gin in release mode (gin's
// mode is process-wide) so that gin prints nothing of its own.
func New(cfg Config) *Server {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	check := cfg.CheckPassword
	if check == nil {
		log.Warn("no admin password check configured; every login will be refused")
		check = func(string) bool { return false }
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		status:  cfg.Status,
		version: cfg.Version,
		log:     log,
		now:     now,
		started: now(),
		auth:    newAuthenticator(check, now, log),
	}
	s.index, s.assets = loadAssets(log)
	s.engine = s.routes()
	return s
}

// routes registers every route on a fresh gin engine.
func (s *Server) routes() *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ForwardedByClientIP = false
	_ = e.SetTrustedProxies(nil) // only fails on malformed CIDRs; nil has none

	e.Use(securityHeaders, s.recoverPanics)
	e.NoRoute(s.wrap(notFound))
	e.NoMethod(s.wrap(methodNotAllowed))

	e.GET("/api/v1/health", s.wrap(s.health))
	e.GET("/static/:name", s.wrap(s.asset))

	authed := e.Group("", s.wrap(s.auth.authorize))
	authed.GET("/", s.wrap(s.page))
	authed.GET("/api/v1/summary", s.wrap(s.summary))
	authed.GET("/api/v1/pools", s.wrap(s.pools))
	authed.GET("/api/v1/boards", s.wrap(s.boards))
	authed.GET("/api/v1/proxy/workers", s.wrap(s.proxyWorkers))
	return e
}

// Handler returns the server as an http.Handler, for tests or for mounting
// behind a server the caller configures itself.
func (s *Server) Handler() http.Handler {
	return s.engine
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully:
// requests in flight get a few seconds to finish. It returns nil after a
// shutdown caused by ctx, or the error that stopped the server otherwise.
// Serve closes ln in both cases.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("web UI listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("webui: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("webui: shut down %s: %w", ln.Addr(), err)
	}
	s.log.Info("web UI stopped", "addr", ln.Addr().String())
	return nil
}

// contentSecurityPolicy lets the page load only what this server serves:
// no inline script or style, no other origin, no framing.
const contentSecurityPolicy = "default-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. Nothing is
// cached by default; static assets relax that for themselves.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	c.Next()
}
