package webui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/store"
)

// Login policy. A client address that fails maxFailures logins within
// failureWindow is refused for lockoutDuration. The admin polling page costs
// one argon2 check per credCacheTTL.
const (
	adminUser       = "admin"
	basicChallenge  = `Basic realm="kiln"`
	maxFailures     = 5
	failureWindow   = 15 * time.Minute
	lockoutDuration = 5 * time.Minute
	credCacheTTL    = 30 * time.Second
	// maxTrackedClients and maxCachedCreds bound the memory an attacker
	// can make the limiter and the cache use.
	maxTrackedClients = 1024
	maxCachedCreds    = 64
	// maxConcurrentChecks bounds parallel password checks: each argon2
	// check takes tens of MiB, too much to run unbounded on a small board.
	maxConcurrentChecks = 2
)

// failures is the login record of one client address.
type failures struct {
	count       int       // failures since first
	first       time.Time // start of the current counting window
	last        time.Time // latest failure, for eviction
	lockedUntil time.Time
}

// authenticator checks HTTP Basic credentials, locks out client addresses
// that keep failing and caches recent successes. Its maps are guarded by mu.
type authenticator struct {
	check func(password string) bool
	now   func() time.Time
	log   *slog.Logger
	sem   chan struct{}

	mu      sync.Mutex
	clients map[string]*failures
	cache   map[[sha256.Size]byte]time.Time // credential hash → expiry
}

func newAuthenticator(check func(string) bool, now func() time.Time, log *slog.Logger) *authenticator {
	return &authenticator{
		check:   check,
		now:     now,
		log:     log,
		sem:     make(chan struct{}, maxConcurrentChecks),
		clients: make(map[string]*failures),
		cache:   make(map[[sha256.Size]byte]time.Time),
	}
}

// Keys of the gin context set by authorize.
const (
	ctxAuthMethod = "kiln.auth"
	ctxCSRF       = "kiln.csrf"
)

// Authentication methods reported by GET /api/v1/session.
const (
	methodCookie = "cookie"
	methodBasic  = "basic"
	methodBearer = "bearer"
)

// authorize is the middleware in front of every protected route: a
// session cookie (with a CSRF token on unsafe requests), a bearer token,
// or HTTP Basic. Until the admin password is set, every protected route
// asks for setup.
func (s *Server) authorize(c *gin.Context) error {
	if err := s.pw.ready(); err != nil {
		return err
	}
	if !s.pw.isSet() {
		return errorf(http.StatusForbidden, "set the admin password first (POST /api/v1/setup)").withCode(codeSetup)
	}
	if v, err := c.Cookie(sessionCookie); err == nil {
		if csrf, ok := s.sessions.lookup(v); ok {
			if !safeMethod(c.Request.Method) && !csrfMatches(c.GetHeader(csrfHeader), csrf) {
				return errorf(http.StatusForbidden, "missing or wrong %s header", csrfHeader).withCode(codeCSRF)
			}
			c.Set(ctxAuthMethod, methodCookie)
			c.Set(ctxCSRF, csrf)
			return nil
		}
	}
	header := c.GetHeader("Authorization")
	if token, ok := strings.CutPrefix(header, "Bearer "); ok {
		return s.bearer(c, strings.TrimSpace(token))
	}
	if err := s.auth.authorize(c); err != nil {
		return err
	}
	c.Set(ctxAuthMethod, methodBasic)
	return nil
}

// bearer accepts a live API token. Wrong tokens count towards the
// client's lockout like wrong passwords.
func (s *Server) bearer(c *gin.Context, token string) error {
	client := clientKey(c.Request.RemoteAddr)
	if err := s.auth.refuseLocked(c, client); err != nil {
		return err
	}
	if s.store == nil || token == "" {
		return errorf(http.StatusUnauthorized, "invalid token")
	}
	_, err := s.store.CheckToken(c.Request.Context(), token, s.now())
	if errors.Is(err, store.ErrNotFound) {
		s.auth.recordFailure(client)
		s.log.Warn("bearer token refused", "client", client)
		return errorf(http.StatusUnauthorized, "invalid token")
	}
	if err != nil {
		return err
	}
	c.Set(ctxAuthMethod, methodBearer)
	return nil
}

// safeMethod reports whether an HTTP method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authorize checks HTTP Basic credentials.
//
// A cached success is honoured even while the address is locked out: only
// someone who sent the right password earlier can hit the cache, and it
// keeps the owner's page working while a neighbour behind the same address
// guesses.
func (a *authenticator) authorize(c *gin.Context) error {
	header := c.GetHeader("Authorization")
	key := sha256.Sum256([]byte(header))
	if header != "" && a.cached(key) {
		return nil
	}
	client := clientKey(c.Request.RemoteAddr)
	if err := a.refuseLocked(c, client); err != nil {
		return err
	}
	user, password, ok := c.Request.BasicAuth()
	if !ok {
		challenge(c)
		return errorf(http.StatusUnauthorized, "authentication required")
	}
	good, err := a.verify(c.Request.Context(), user, password)
	if err != nil {
		return err
	}
	if !good {
		a.recordFailure(client)
		a.log.Warn("login failed", "client", client)
		challenge(c)
		return errorf(http.StatusUnauthorized, "invalid user or password")
	}
	a.remember(key)
	return nil
}

// challenge asks for HTTP Basic credentials, except from the web UI's own
// scripts (fetch and EventSource send Sec-Fetch-Mode), where the browser
// would pop up its own login box over the page's.
func challenge(c *gin.Context) {
	if m := c.GetHeader("Sec-Fetch-Mode"); m == "" || m == "navigate" {
		c.Header("WWW-Authenticate", basicChallenge)
	}
}

// refuseLocked answers 429 while client is locked out.
func (a *authenticator) refuseLocked(c *gin.Context, client string) error {
	if wait := a.lockedFor(client); wait > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return errorf(http.StatusTooManyRequests, "too many failed logins; try again later")
	}
	return nil
}

// forget drops every cached credential (after a password change).
func (a *authenticator) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.cache)
}

// verify runs the (slow) password check, at most maxConcurrentChecks at a
// time. The password is checked even for a wrong user, so that timing does
// not tell which part was wrong.
func (a *authenticator) verify(ctx context.Context, user, password string) (bool, error) {
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return false, errorf(http.StatusServiceUnavailable, "request cancelled")
	}
	defer func() { <-a.sem }()
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(adminUser)) == 1
	passOK := a.check(password)
	return userOK && passOK, nil
}

// cached reports whether key was verified less than credCacheTTL ago.
func (a *authenticator) cached(key [sha256.Size]byte) bool {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.cache[key]
	if ok && now.Before(exp) {
		return true
	}
	delete(a.cache, key)
	return false
}

// remember caches a verified credential. The expiry is fixed, not renewed
// on use, so a changed password locks out old credentials within
// credCacheTTL.
func (a *authenticator) remember(key [sha256.Size]byte) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= maxCachedCreds {
		for k, exp := range a.cache {
			if !now.Before(exp) {
				delete(a.cache, k)
			}
		}
	}
	if len(a.cache) >= maxCachedCreds {
		for k := range a.cache { // still full of live entries: drop any one
			delete(a.cache, k)
			break
		}
	}
	a.cache[key] = now.Add(credCacheTTL)
}

// lockedFor returns how long client is still locked out, 0 if it is not.
func (a *authenticator) lockedFor(client string) time.Duration {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.clients[client]
	if f == nil || !now.Before(f.lockedUntil) {
		return 0
	}
	return f.lockedUntil.Sub(now)
}

// recordFailure counts a failed login and locks client out when it reaches
// maxFailures within failureWindow. A success does not reset the count:
// the address may be shared with whoever is guessing.
func (a *authenticator) recordFailure(client string) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.clients[client]
	if f == nil {
		a.makeRoom(now)
		f = &failures{}
		a.clients[client] = f
	}
	if f.count == 0 || now.Sub(f.first) > failureWindow {
		f.count, f.first = 0, now
	}
	f.count++
	f.last = now
	if f.count >= maxFailures {
		f.count = 0
		f.lockedUntil = now.Add(lockoutDuration)
		a.log.Warn("client locked out", "client", client, "until", f.lockedUntil)
	}
}

// makeRoom keeps the failure table under maxTrackedClients: first by
// forgetting records that no longer matter, then by dropping the one
// idle longest. Called with mu held.
func (a *authenticator) makeRoom(now time.Time) {
	if len(a.clients) < maxTrackedClients {
		return
	}
	var oldest string
	for k, f := range a.clients {
		if !now.Before(f.lockedUntil) && (f.count == 0 || now.Sub(f.first) > failureWindow) {
			delete(a.clients, k)
			continue
		}
		if oldest == "" || f.last.Before(a.clients[oldest].last) {
			oldest = k
		}
	}
	if len(a.clients) >= maxTrackedClients {
		delete(a.clients, oldest)
	}
}

// clientKey names the client a failure is charged to: the peer address of
// the connection (headers such as X-Forwarded-For are ignored, since any
// client can set them). IPv6 clients are grouped by /64, the block one host
// usually holds.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}
