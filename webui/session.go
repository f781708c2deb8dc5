package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// Session policy: a browser session ends after sessionIdle without a
// request, or sessionMaxAge after login, whichever comes first.
const (
	sessionCookie = "kiln_session"
	sessionIdle   = 12 * time.Hour
	sessionMaxAge = 7 * 24 * time.Hour
	// maxSessions bounds memory; logging in past it ends the session used
	// least recently.
	maxSessions = 64
	// csrfHeader carries a session's CSRF token on unsafe requests.
	csrfHeader = "X-CSRF-Token"
)

// session is one logged-in browser.
type session struct {
	csrf     string
	created  time.Time
	lastSeen time.Time
}

// sessions are the live UI sessions, keyed by the SHA-256 of the cookie
// value so that a memory dump does not hand out live cookies.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[sha256.Size]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: make(map[[sha256.Size]byte]*session)}
}

// create starts a session and returns its cookie value and CSRF token.
func (s *sessions) create() (cookie, csrf string) {
	cookie, csrf = rand.Text()+rand.Text(), rand.Text()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if len(s.m) >= maxSessions {
		var oldest [sha256.Size]byte
		var seen time.Time
		for k, v := range s.m {
			if seen.IsZero() || v.lastSeen.Before(seen) {
				oldest, seen = k, v.lastSeen
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(cookie))] = &session{csrf: csrf, created: now, lastSeen: now}
	return cookie, csrf
}

// lookup returns the CSRF token of the live session cookie names, and
// marks the session used.
func (s *sessions) lookup(cookie string) (csrf string, ok bool) {
	if cookie == "" {
		return "", false
	}
	now := s.now()
	key := sha256.Sum256([]byte(cookie))
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[key]
	if v == nil {
		return "", false
	}
	if s.dead(v, now) {
		delete(s.m, key)
		return "", false
	}
	v.lastSeen = now
	return v.csrf, true
}

// end forgets the session of cookie, if any.
func (s *sessions) end(cookie string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(cookie)))
}

// endAll logs every browser out (after a password change).
func (s *sessions) endAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
}

func (s *sessions) dead(v *session, now time.Time) bool {
	return now.Sub(v.lastSeen) >= sessionIdle || now.Sub(v.created) >= sessionMaxAge
}

// expire drops dead sessions; called with mu held.
func (s *sessions) expire(now time.Time) {
	for k, v := range s.m {
		if s.dead(v, now) {
			delete(s.m, k)
		}
	}
}

// csrfMatches compares a sent CSRF token with the session's in constant
// time.
func csrfMatches(sent, want string) bool {
	return sent != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}
