package webui

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestAuthRequired(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	tests := []struct {
		name string
		req  func(path string) request
		msg  string
	}{
		{name: "no credentials", msg: "authentication required",
			req: func(p string) request { return request{path: p} }},
		{name: "wrong password", msg: "invalid user or password",
			req: func(p string) request { return request{path: p, user: "admin", password: "guess"} }},
		{name: "wrong user", msg: "invalid user or password",
			req: func(p string) request { return request{path: p, user: "root", password: testPassword} }},
		{name: "not basic", msg: "authentication required",
			req: func(p string) request {
				return request{path: p, header: map[string]string{"Authorization": "Digest abc"}}
			}},
		{name: "bad base64", msg: "authentication required",
			req: func(p string) request {
				return request{path: p, header: map[string]string{"Authorization": "Basic !!!"}}
			}},
	}
	for _, path := range []string{"/api/v1/summary", "/api/v1/pools", "/api/v1/boards"} {
		for _, tc := range tests {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				h.clock.Advance(time.Hour) // forget earlier failures: this test is not about lockout
				resp, body := h.do(t, nil, tc.req(path))
				wantJSONError(t, resp, body, http.StatusUnauthorized, tc.msg)
				if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="kiln"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
		resp, body := h.do(t, nil, admin(path))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with the right password: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestLockoutAndExpiry(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	wrong := request{path: "/api/v1/summary", user: "admin", password: "nope"}
	for range maxFailures {
		resp, body := h.do(t, nil, wrong)
		wantJSONError(t, resp, body, http.StatusUnauthorized, "")
	}
	checksBefore := h.checks.Load()

	// Locked out: even the right password is refused without being checked,
	// and a forged X-Forwarded-For does not make it another client.
	spoofed := admin("/api/v1/summary")
	spoofed.header = map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"}
	for _, r := range []request{admin("/api/v1/summary"), spoofed, wrong} {
		resp, body := h.do(t, nil, r)
		wantJSONError(t, resp, body, http.StatusTooManyRequests, "")
		if got := resp.Header.Get("Retry-After"); got != strconv.Itoa(int(lockoutDuration.Seconds())) {
			t.Errorf("Retry-After = %q, want %v in seconds", got, lockoutDuration)
		}
	}
	if got := h.checks.Load(); got != checksBefore {
		t.Errorf("password checked %d times during lockout", got-checksBefore)
	}

	// Another client address is not affected.
	other := clientFrom(t, "127.0.0.2")
	if resp, body := h.do(t, other, admin("/api/v1/summary")); resp.StatusCode != http.StatusOK {
		t.Errorf("other client: %d %s", resp.StatusCode, body)
	}
	// Health stays open for everybody.
	if resp, _ := h.do(t, nil, request{path: "/api/v1/health"}); resp.StatusCode != http.StatusOK {
		t.Errorf("health during lockout: %d", resp.StatusCode)
	}

	h.clock.Advance(lockoutDuration - time.Second)
	resp, body := h.do(t, nil, admin("/api/v1/summary"))
	wantJSONError(t, resp, body, http.StatusTooManyRequests, "")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After one second before expiry = %q, want 1", got)
	}

	h.clock.Advance(time.Second)
	if resp, body := h.do(t, nil, admin("/api/v1/summary")); resp.StatusCode != http.StatusOK {
		t.Errorf("after lockout expired: %d %s", resp.StatusCode, body)
	}
}

func TestFailuresOutsideWindowDoNotLock(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	wrong := request{path: "/api/v1/pools", user: "admin", password: "nope"}
	for round := range 3 {
		for range maxFailures - 1 {
			resp, body := h.do(t, nil, wrong)
			wantJSONError(t, resp, body, http.StatusUnauthorized, "")
		}
		h.clock.Advance(failureWindow + time.Second)
		if resp, body := h.do(t, nil, admin("/api/v1/pools")); resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: %d %s", round, resp.StatusCode, body)
		}
	}
}

func TestCachedLoginSurvivesNeighbourLockout(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	if resp, _ := h.do(t, nil, admin("/api/v1/summary")); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for range maxFailures {
		h.do(t, nil, request{path: "/api/v1/summary", user: "admin", password: "guess"})
	}
	if resp, _ := h.do(t, nil, request{path: "/api/v1/summary"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address not locked: %d", resp.StatusCode)
	}
	if resp, body := h.do(t, nil, admin("/api/v1/summary")); resp.StatusCode != http.StatusOK {
		t.Errorf("cached login refused during lockout: %d %s", resp.StatusCode, body)
	}
	h.clock.Advance(credCacheTTL)
	if resp, _ := h.do(t, nil, admin("/api/v1/summary")); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("expired cache entry still accepted during lockout: %d", resp.StatusCode)
	}
}

func TestCredentialCache(t *testing.T) {
	h := newHarness(t, &fakeStatus{})
	for i := range 5 { // a page polling summary and pools
		for _, p := range []string{"/api/v1/summary", "/api/v1/pools"} {
			if resp, _ := h.do(t, nil, admin(p)); resp.StatusCode != http.StatusOK {
				t.Fatalf("poll %d %s: %d", i, p, resp.StatusCode)
			}
		}
		h.clock.Advance(2 * time.Second)
	}
	if got := h.checks.Load(); got != 1 {
		t.Errorf("CheckPassword called %d times for one cached credential, want 1", got)
	}
	h.clock.Advance(credCacheTTL)
	h.do(t, nil, admin("/api/v1/summary"))
	if got := h.checks.Load(); got != 2 {
		t.Errorf("after TTL: %d checks, want 2", got)
	}
	// A wrong password is never cached.
	for range 2 {
		h.do(t, nil, request{path: "/api/v1/summary", user: "admin", password: "guess"})
	}
	if got := h.checks.Load(); got != 4 {
		t.Errorf("after two failures: %d checks, want 4", got)
	}
}

func TestRealArgon2Login(t *testing.T) {
	encoded, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{
		Status:        &fakeStatus{summary: Summary{Accepted: 7}},
		CheckPassword: func(pw string) bool { return VerifyPassword(encoded, pw) },
	})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	h := &harness{srv: srv, client: clientFrom(t, "127.0.0.1")}
	if resp, body := h.do(t, nil, admin("/api/v1/summary")); resp.StatusCode != http.StatusOK ||
		decodeObject(t, body)["accepted"] != 7.0 {
		t.Errorf("right password: %d %s", resp.StatusCode, body)
	}
	resp, body := h.do(t, nil, request{path: "/api/v1/summary", user: "admin", password: "wrong"})
	wantJSONError(t, resp, body, http.StatusUnauthorized, "")
}

func TestNilCheckPasswordRefusesAll(t *testing.T) {
	s := New(Config{Status: &fakeStatus{}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	h := &harness{srv: srv, client: clientFrom(t, "127.0.0.1")}
	resp, body := h.do(t, nil, admin("/api/v1/summary"))
	wantJSONError(t, resp, body, http.StatusUnauthorized, "")
}

func TestAuthMemoryBounded(t *testing.T) {
	clock := newFakeClock()
	a := newAuthenticator(func(string) bool { return false }, clock.Now, slog.New(slog.DiscardHandler))
	for i := range maxTrackedClients * 3 {
		client := fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		for range maxFailures {
			a.recordFailure(client)
		}
		a.remember(sha256.Sum256([]byte(client)))
	}
	if len(a.clients) > maxTrackedClients {
		t.Errorf("%d clients tracked, limit %d", len(a.clients), maxTrackedClients)
	}
	if len(a.cache) > maxCachedCreds {
		t.Errorf("%d credentials cached, limit %d", len(a.cache), maxCachedCreds)
	}
	// The most recent offender is still locked out.
	last := fmt.Sprintf("10.%d.%d.%d", (maxTrackedClients*3-1)>>16&0xff, (maxTrackedClients*3-1)>>8&0xff, (maxTrackedClients*3-1)&0xff)
	if a.lockedFor(last) == 0 {
		t.Error("latest offender evicted")
	}
	// Expired records make room before live ones are dropped.
	clock.Advance(lockoutDuration + failureWindow)
	a.recordFailure("192.0.2.1")
	if len(a.clients) != 1 {
		t.Errorf("after expiry %d clients tracked, want 1", len(a.clients))
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"127.0.0.1:5555", "127.0.0.1"},
		{"192.168.1.20:80", "192.168.1.20"},
		{"[::ffff:192.168.1.20]:80", "192.168.1.20"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:443", "fe80::/64"},
		{"not an address", "not an address"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := clientKey(tc.remote); got != tc.want {
			t.Errorf("clientKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
