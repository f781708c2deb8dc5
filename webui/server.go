package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/store"
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
	// Control changes the controller; nil makes every change answer 503.
	Control Control
	// Store keeps the admin password hash, API tokens, the event log, the
	// share log and the hashrate history. Nil serves without them (and
	// refuses every login unless CheckPassword is set).
	Store *store.Store
	// CheckPassword, when set, replaces the stored admin password: it
	// reports whether password is the admin password (the user must be
	// "admin"). For tests and embedders with their own password store.
	CheckPassword func(password string) bool
	// Metrics, when set, is served at /metrics (behind authentication
	// unless PublicMetrics).
	Metrics       http.Handler
	PublicMetrics bool
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
	status   Status
	control  Control
	store    *store.Store
	pw       *passwords
	sessions *sessions
	metrics  http.Handler
	public   bool
	// quit is closed when Serve's context ends, to end live streams.
	quit     chan struct{}
	streams  chan struct{} // one slot per live stream
	quitOnce sync.Once
	// poolsMu serialises pool list changes when Control is no PoolUpdater.
	poolsMu sync.Mutex
	version string
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	auth    *authenticator
	assets  map[string]asset
	index   []byte
	engine  *gin.Engine
	// handler is engine behind the cross-origin check.
	handler http.Handler
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
	if cfg.CheckPassword == nil && cfg.Store == nil {
		log.Warn("no admin password store configured; every login will be refused")
		cfg.CheckPassword = func(string) bool { return false }
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		status:   cfg.Status,
		control:  cfg.Control,
		store:    cfg.Store,
		pw:       &passwords{store: cfg.Store, override: cfg.CheckPassword},
		sessions: newSessions(now),
		metrics:  cfg.Metrics,
		public:   cfg.PublicMetrics,
		quit:     make(chan struct{}),
		streams:  make(chan struct{}, maxStreams),
		version:  cfg.Version,
		log:      log,
		now:      now,
		started:  now(),
	}
	s.pw.load(context.Background())
	s.auth = newAuthenticator(s.pw.check, now, log)
	s.index, s.assets = loadAssets(log)
	s.engine = s.routes()
	s.handler = s.crossOrigin(s.engine)
	return s
}

// crossOrigin refuses unsafe requests that a browser marks as coming from
// another site (Sec-Fetch-Site, or an Origin that is not this host): the
// CSRF defence for Basic credentials a browser may have cached, on top of
// the session's CSRF token.
func (s *Server) crossOrigin(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeadersOn(w.Header())
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(errorBody{Error: errorDetail{Code: codeCSRF, Message: "cross-origin request refused"}})
	}))
	return cop.Handler(h)
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

	for _, r := range s.publicRoutes() {
		e.Handle(r.method, r.path, s.wrap(r.fn))
	}
	authed := e.Group("", s.wrap(s.authorize))
	for _, r := range s.authedRoutes() {
		authed.Handle(r.method, r.path, s.wrap(r.fn))
	}
	return e
}

// route is one REST route; the lists below are the whole API, and a test
// checks them against the OpenAPI document.
type route struct {
	method, path string
	fn           handlerFunc
}

// publicRoutes need no login.
func (s *Server) publicRoutes() []route {
	r := []route{
		{http.MethodGet, "/", s.page},
		{http.MethodGet, "/static/:name", s.asset},
		{http.MethodGet, "/api/v1/health", s.health},
		{http.MethodGet, "/api/v1/openapi.json", s.openAPI},
		{http.MethodGet, "/api/v1/setup", s.setupState},
		{http.MethodPost, "/api/v1/setup", s.setup},
		{http.MethodPost, "/api/v1/login", s.login},
	}
	if s.metrics != nil && s.public {
		r = append(r, route{http.MethodGet, "/metrics", s.serveMetrics})
	}
	return r
}

// authedRoutes need a session, a token or the password.
func (s *Server) authedRoutes() []route {
	r := []route{
		{http.MethodPost, "/api/v1/logout", s.logout},
		{http.MethodGet, "/api/v1/session", s.sessionInfo},
		{http.MethodPut, "/api/v1/password", s.changePassword},
		{http.MethodGet, "/api/v1/summary", s.summary},
		{http.MethodGet, "/api/v1/history", s.history},
		{http.MethodGet, "/api/v1/pools", s.pools},
		{http.MethodPost, "/api/v1/pools", s.addPool},
		{http.MethodPut, "/api/v1/pools/:index", s.editPool},
		{http.MethodDelete, "/api/v1/pools/:index", s.deletePool},
		{http.MethodPost, "/api/v1/pools/reorder", s.reorderPools},
		{http.MethodPost, "/api/v1/pools/test", s.testPool},
		{http.MethodGet, "/api/v1/boards", s.boards},
		{http.MethodGet, "/api/v1/fans", s.fans},
		{http.MethodGet, "/api/v1/tuning", s.tuning},
		{http.MethodPut, "/api/v1/tuning/fan", s.setFan},
		{http.MethodPut, "/api/v1/tuning/boards/:index", s.setBoardTuning},
		{http.MethodPut, "/api/v1/tuning/chips", s.setChipTuning},
		{http.MethodGet, "/api/v1/protection", s.protection},
		{http.MethodPost, "/api/v1/protection/reset/:chain", s.resetProtection},
		{http.MethodGet, "/api/v1/autotune", s.autotuneStatus},
		{http.MethodPost, "/api/v1/autotune", s.startAutotune},
		{http.MethodDelete, "/api/v1/autotune", s.stopAutotune},
		{http.MethodGet, "/api/v1/sim/faults", s.listFaults},
		{http.MethodPost, "/api/v1/sim/faults", s.injectFault},
		{http.MethodDelete, "/api/v1/sim/faults", s.clearFaults},
		{http.MethodGet, "/api/v1/system", s.system},
		{http.MethodPost, "/api/v1/system/restart", s.restart},
		{http.MethodPost, "/api/v1/system/reboot", s.reboot},
		{http.MethodGet, "/api/v1/firmware", s.firmwareStatus},
		{http.MethodPost, "/api/v1/firmware", s.uploadFirmware},
		{http.MethodGet, "/api/v1/events", s.events},
		{http.MethodGet, "/api/v1/shares", s.shares},
		{http.MethodGet, "/api/v1/config", s.exportConfig},
		{http.MethodPut, "/api/v1/config", s.importConfig},
		{http.MethodGet, "/api/v1/tokens", s.listTokens},
		{http.MethodPost, "/api/v1/tokens", s.createToken},
		{http.MethodDelete, "/api/v1/tokens/:id", s.deleteToken},
		{http.MethodGet, "/api/v1/stream", s.stream},
		{http.MethodGet, "/api/v1/proxy/workers", s.proxyWorkers},
	}
	if s.metrics != nil && !s.public {
		r = append(r, route{http.MethodGet, "/metrics", s.serveMetrics})
	}
	return r
}

// Handler returns the server as an http.Handler, for tests or for mounting
// behind a server the caller configures itself.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully:
// requests in flight get a few seconds to finish. It returns nil after a
// shutdown caused by ctx, or the error that stopped the server otherwise.
// Serve closes ln in both cases.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
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
	s.quitOnce.Do(func() { close(s.quit) })
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
	securityHeadersOn(c.Writer.Header())
	c.Next()
}

// securityHeadersOn sets the security headers on h.
func securityHeadersOn(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
