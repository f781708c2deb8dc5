package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// SettingAdminHash is the settings key under which the admin password's
// argon2id hash is kept.
const SettingAdminHash = "admin_password_hash"

// Password rules: long enough to resist guessing over the LAN, short
// enough that hashing it costs nothing unusual.
const (
	minPasswordLen = 8
	maxPasswordLen = 1024
)

// Settings is the part of the store that keeps the admin password hash.
type Settings interface {
	Setting(ctx context.Context, key string) (string, bool, error)
	SetSetting(ctx context.Context, key, value string) error
}

var errAlreadySet = errors.New("webui: the admin password is already set")

// passwords holds the admin password hash. Until one is set (first start)
// every protected route asks for setup; nothing is ever accepted by
// default.
type passwords struct {
	store Settings
	// override, when set (tests, embedders), replaces the stored hash.
	override func(string) bool

	mu      sync.RWMutex
	hash    string
	loadErr error
}

// load reads the saved hash; a read failure keeps every login refused
// rather than offering setup to whoever asks first.
func (p *passwords) load(ctx context.Context) {
	if p.store == nil || p.override != nil {
		return
	}
	hash, _, err := p.store.Setting(ctx, SettingAdminHash)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hash, p.loadErr = hash, err
}

// ready returns an error when the password state could not be read.
func (p *passwords) ready() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.loadErr != nil {
		return errorf(http.StatusServiceUnavailable, "the password store is unavailable")
	}
	return nil
}

// isSet reports whether an admin password exists.
func (p *passwords) isSet() bool {
	if p.override != nil {
		return true
	}
	if p.store == nil {
		return true // nothing can set one: every login is refused instead
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.hash != ""
}

// check reports whether pw is the admin password.
func (p *passwords) check(pw string) bool {
	if p.override != nil {
		return p.override(pw)
	}
	p.mu.RLock()
	hash := p.hash
	p.mu.RUnlock()
	return hash != "" && VerifyPassword(hash, pw)
}

// set hashes and saves pw. With initial, it fails with errAlreadySet when
// a password exists, so two first-start requests cannot both win.
func (p *passwords) set(ctx context.Context, pw string, initial bool) error {
	if err := validPassword(pw); err != nil {
		return err
	}
	if p.store == nil || p.override != nil {
		return errorf(http.StatusConflict, "the admin password is managed elsewhere")
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if initial && p.hash != "" {
		return errAlreadySet
	}
	if err := p.store.SetSetting(ctx, SettingAdminHash, hash); err != nil {
		return fmt.Errorf("webui: save admin password: %w", err)
	}
	p.hash = hash
	return nil
}

// validPassword checks the password rules.
func validPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errorf(http.StatusBadRequest, "the password must be valid UTF-8 text")
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return errorf(http.StatusBadRequest, "the password must have at least %d characters", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return errorf(http.StatusBadRequest, "the password must have at most %d bytes", maxPasswordLen)
	}
	return nil
}

// setupState is the body of GET /api/v1/setup.
type setupState struct {
	Required bool `json:"required"`
}

// passwordBody is the body of POST /api/v1/setup and /api/v1/login.
type passwordBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// loginReply is the answer to a successful setup or login.
type loginReply struct {
	CSRFToken string `json:"csrf_token"`
}

func (s *Server) setupState(c *gin.Context) error {
	if err := s.pw.ready(); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, setupState{Required: !s.pw.isSet()})
}

// setup sets the first admin password and logs the browser in.
func (s *Server) setup(c *gin.Context) error {
	if err := s.pw.ready(); err != nil {
		return err
	}
	if s.pw.isSet() {
		return errorf(http.StatusConflict, "the admin password is already set; log in instead")
	}
	var body passwordBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	err := s.pw.set(c.Request.Context(), body.Password, true)
	if errors.Is(err, errAlreadySet) {
		return errorf(http.StatusConflict, "the admin password is already set; log in instead")
	}
	if err != nil {
		return err
	}
	s.event(c.Request.Context(), "info", "auth", "admin_password_set", "admin password set at first start from "+clientKey(c.Request.RemoteAddr))
	return s.startSession(c)
}

// login checks the password and starts a browser session.
func (s *Server) login(c *gin.Context) error {
	if err := s.pw.ready(); err != nil {
		return err
	}
	if !s.pw.isSet() {
		return errorf(http.StatusForbidden, "set the admin password first").withCode(codeSetup)
	}
	client := clientKey(c.Request.RemoteAddr)
	if err := s.auth.refuseLocked(c, client); err != nil {
		return err
	}
	var body passwordBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Username == "" {
		body.Username = adminUser
	}
	good, err := s.auth.verify(c.Request.Context(), body.Username, body.Password)
	if err != nil {
		return err
	}
	if !good {
		s.auth.recordFailure(client)
		s.log.Warn("login failed", "client", client)
		return errorf(http.StatusUnauthorized, "invalid user or password")
	}
	return s.startSession(c)
}

// startSession sets the session cookie and returns the CSRF token.
func (s *Server) startSession(c *gin.Context) error {
	cookie, csrf := s.sessions.create()
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: cookie, Path: "/", MaxAge: int(sessionMaxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil,
	})
	return writeJSON(c, http.StatusOK, loginReply{CSRFToken: csrf})
}

// logout ends the browser's session and clears its cookie.
func (s *Server) logout(c *gin.Context) error {
	if v, err := c.Cookie(sessionCookie); err == nil {
		s.sessions.end(v)
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Request.TLS != nil,
	})
	c.Status(http.StatusNoContent)
	return nil
}

// sessionInfo is the body of GET /api/v1/session.
type sessionInfo struct {
	User      string `json:"user"`
	Method    string `json:"method"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (s *Server) sessionInfo(c *gin.Context) error {
	return writeJSON(c, http.StatusOK, sessionInfo{
		User: adminUser, Method: c.GetString(ctxAuthMethod), CSRFToken: c.GetString(ctxCSRF),
	})
}

// passwordChange is the body of PUT /api/v1/password.
type passwordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// changePassword replaces the admin password and logs every session out.
func (s *Server) changePassword(c *gin.Context) error {
	var body passwordChange
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := validPassword(body.New); err != nil {
		return err
	}
	client := clientKey(c.Request.RemoteAddr)
	if err := s.auth.refuseLocked(c, client); err != nil {
		return err
	}
	good, err := s.auth.verify(c.Request.Context(), adminUser, body.Current)
	if err != nil {
		return err
	}
	if !good {
		s.auth.recordFailure(client)
		return errorf(http.StatusForbidden, "the current password is wrong")
	}
	if err := s.pw.set(c.Request.Context(), body.New, false); err != nil {
		return err
	}
	s.sessions.endAll()
	s.auth.forget()
	s.event(c.Request.Context(), "warn", "auth", "admin_password_changed", "admin password changed from "+client)
	c.Status(http.StatusNoContent)
	return nil
}
