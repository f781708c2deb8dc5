package webui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// routePath fills a route pattern's parameters with values that exist:
// a static file's name, token 1, index 0 for the rest.
func routePath(pattern string) string {
	parts := strings.Split(pattern, "/")
	for i, p := range parts {
		switch {
		case p == ":name":
			parts[i] = "app.js"
		case p == ":id":
			parts[i] = "1"
		case strings.HasPrefix(p, ":"):
			parts[i] = "0"
		}
	}
	return strings.Join(parts, "/")
}

// authFailure reports whether status says the credentials were refused.
func authFailure(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests
}

func TestRESTBeforeSetup(t *testing.T) {
	h := newRESTHarness(t, startFresh)
	resp, body := h.do(t, restCall{path: "/api/v1/setup"})
	if resp.StatusCode != http.StatusOK || decodeObject(t, body)["required"] != true {
		t.Fatalf("GET setup before setup: %d %s, want required:true", resp.StatusCode, body)
	}
	for _, r := range h.s.authedRoutes() {
		for _, c := range []restCall{
			{method: r.method, path: routePath(r.path)},
			{method: r.method, path: routePath(r.path), basic: true},
		} {
			resp, body := h.do(t, c)
			wantError(t, resp, body, http.StatusForbidden, codeSetup, "/api/v1/setup")
		}
	}
	for _, r := range h.s.publicRoutes() {
		if r.method == http.MethodPost && r.path == "/api/v1/setup" {
			continue // a body-less POST would only be refused; setup is tested below
		}
		if got := h.status(t, restCall{method: r.method, path: routePath(r.path)}); got == http.StatusUnauthorized || got >= 500 {
			t.Errorf("public %s %s before setup: %d", r.method, r.path, got)
		}
	}
	resp, body = h.do(t, restCall{method: http.MethodPost, path: "/api/v1/login",
		body: map[string]string{"username": "admin", "password": restPassword}})
	wantError(t, resp, body, http.StatusForbidden, codeSetup)

	// A page of another site must not be able to pick the password.
	resp, body = h.do(t, restCall{method: http.MethodPost, path: "/api/v1/setup",
		body: map[string]string{"password": "attacker-pw-123"}, header: map[string]string{"Origin": "http://evil.example"}})
	wantError(t, resp, body, http.StatusForbidden, codeCSRF)
	resp, body = h.do(t, restCall{method: http.MethodPost, path: "/api/v1/setup", body: map[string]string{"password": "short"}})
	wantError(t, resp, body, http.StatusBadRequest, codeBadRequest, "at least 8 characters")
	if _, body := h.do(t, restCall{path: "/api/v1/setup"}); decodeObject(t, body)["required"] != true {
		t.Fatalf("refused setups set a password: %s", body)
	}

	resp, body = h.do(t, restCall{client: h.browser, method: http.MethodPost, path: "/api/v1/setup",
		body: map[string]string{"password": restPassword}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	wantSessionCookie(t, resp)
	csrf, _ := decodeObject(t, body)["csrf_token"].(string)
	if resp, body := h.do(t, restCall{client: h.browser, path: "/api/v1/session"}); resp.StatusCode != http.StatusOK ||
		decodeObject(t, body)["csrf_token"] != csrf || csrf == "" {
		t.Errorf("session after setup: %d %s, want csrf_token %q", resp.StatusCode, body, csrf)
	}
	if _, body := h.do(t, restCall{path: "/api/v1/setup"}); decodeObject(t, body)["required"] != false {
		t.Errorf("GET setup after setup: %s, want required:false", body)
	}
	resp, body = h.do(t, restCall{method: http.MethodPost, path: "/api/v1/setup", body: map[string]string{"password": "another-password"}})
	wantError(t, resp, body, http.StatusConflict, codeConflict, "already set")

	// The password is in the store: a restarted server knows it.
	again := *h
	again.srv = httptest.NewServer(h.newServer(h.store).Handler())
	t.Cleanup(again.srv.Close)
	if _, body := again.do(t, restCall{path: "/api/v1/setup"}); decodeObject(t, body)["required"] != false {
		t.Errorf("GET setup after a restart: %s, want required:false", body)
	}
	if resp, body := again.do(t, basic(http.MethodGet, "/api/v1/summary", nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("Basic after a restart: %d %s", resp.StatusCode, body)
	}
}

// wantSessionCookie checks that resp sets the session cookie with the
// attributes that keep it from scripts and other sites.
func wantSessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name != sessionCookie {
			continue
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Value == "" || c.MaxAge <= 0 {
			t.Errorf("session cookie %q: want HttpOnly, SameSite=Strict, Path=/, a value and a max age", c.String())
		}
		return c
	}
	t.Fatalf("no %s cookie in %q", sessionCookie, resp.Header.Values("Set-Cookie"))
	return nil
}

func TestRESTEveryRouteNeedsCredentials(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	// One check of the right password, cached for all the routes below.
	if got := h.status(t, basic(http.MethodGet, "/api/v1/session", nil)); got != http.StatusOK {
		t.Fatalf("Basic: %d", got)
	}
	for i, r := range h.s.authedRoutes() {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			path := routePath(r.path)
			resp, body := h.do(t, restCall{method: r.method, path: path})
			wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized, "authentication required")
			// Each route guesses from its own address, so that the guesses
			// of all routes do not add up to a lockout.
			guesser := clientFrom(t, fmt.Sprintf("127.0.1.%d", i+1))
			resp, body = h.do(t, restCall{client: guesser, method: r.method, path: path, user: adminUser, pass: "not-the-password"})
			wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized, "invalid user or password")
			// The answer may be a complaint about the (missing) body or a
			// part the harness does not wire (503), never about the
			// credentials, and never a crash.
			if got := h.status(t, restCall{method: r.method, path: path, basic: true}); authFailure(got) || got == http.StatusInternalServerError {
				t.Errorf("with the right password: %d", got)
			}
		})
	}
	for _, r := range h.s.publicRoutes() {
		got := h.status(t, restCall{method: r.method, path: routePath(r.path)})
		if authFailure(got) || got >= 500 {
			t.Errorf("public %s %s without credentials: %d", r.method, r.path, got)
		}
	}
	// Metrics are behind the login unless the controller makes them public.
	if !slices.ContainsFunc(h.s.authedRoutes(), func(r route) bool { return r.path == "/metrics" }) {
		t.Error("/metrics is not an authenticated route")
	}
}

func TestRESTPublicMetrics(t *testing.T) {
	s := New(Config{Status: &fakeStatus{}, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("kiln_up 1\n"))
	}), PublicMetrics: true})
	h := &restHarness{s: s, srv: httptest.NewServer(s.Handler())}
	t.Cleanup(h.srv.Close)
	resp, body := h.do(t, restCall{client: clientFrom(t, "127.0.0.1"), path: "/metrics"})
	if resp.StatusCode != http.StatusOK || string(body) != "kiln_up 1\n" {
		t.Errorf("public /metrics: %d %q", resp.StatusCode, body)
	}
}

func TestRESTBrowserSession(t *testing.T) {
	h := newRESTHarness(t, startSetup)
	b := h.newBrowser(t)
	resp, body := h.do(t, restCall{client: b, method: http.MethodPost, path: "/api/v1/login",
		body: map[string]string{"username": "admin", "password": restPassword}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	cookie := wantSessionCookie(t, resp)
	csrf, _ := decodeObject(t, body)["csrf_token"].(string)
	if csrf == "" || csrf == h.csrf {
		t.Fatalf("login csrf_token %q: want a new token", csrf)
	}

	resp, body = h.do(t, restCall{client: b, path: "/api/v1/session"})
	want := map[string]any{"user": "admin", "method": "cookie", "csrf_token": csrf}
	if got := decodeObject(t, body); resp.StatusCode != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("session with the cookie: %d %s, want %v", resp.StatusCode, body, want)
	}
	resp, body = h.do(t, basic(http.MethodGet, "/api/v1/session", nil))
	want = map[string]any{"user": "admin", "method": "basic"}
	if got := decodeObject(t, body); resp.StatusCode != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("session with Basic: %d %s, want %v", resp.StatusCode, body, want)
	}

	// Unsafe requests with the cookie need the CSRF token.
	unsafe := []restCall{
		{method: http.MethodPost, path: "/api/v1/system/restart"},
		{method: http.MethodPut, path: "/api/v1/tuning/fan", body: FanSetting{Mode: FanManual, Percent: 70}},
		{method: http.MethodDelete, path: "/api/v1/pools/1"},
	}
	for _, token := range []string{"", "wrong-" + csrf, h.csrf} {
		for _, c := range unsafe {
			c.client, c.csrf = b, token
			resp, body := h.do(t, c)
			wantError(t, resp, body, http.StatusForbidden, codeCSRF, csrfHeader)
		}
	}
	pools, fan, _ := h.ctl.snapshot()
	if restarts, _ := h.ctl.counts(); restarts != 0 || len(pools) != 2 || fan.Mode != FanAuto {
		t.Fatalf("a request refused for CSRF changed something: pools %v, fan %v", pools, fan)
	}
	for _, c := range unsafe {
		c.client, c.csrf = b, csrf
		if resp, body := h.do(t, c); resp.StatusCode >= 300 {
			t.Errorf("%s %s with the token: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	pools, fan, _ = h.ctl.snapshot()
	if restarts, _ := h.ctl.counts(); restarts != 1 || len(pools) != 1 || fan != (FanSetting{Mode: FanManual, Percent: 70}) {
		t.Errorf("after the accepted requests: pools %v, fan %v", pools, fan)
	}

	// Logging out needs the token too, then ends the session.
	resp, body = h.do(t, restCall{client: b, method: http.MethodPost, path: "/api/v1/logout"})
	wantError(t, resp, body, http.StatusForbidden, codeCSRF)
	resp, body = h.do(t, restCall{client: b, method: http.MethodPost, path: "/api/v1/logout", csrf: csrf})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].Name != sessionCookie || cs[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v: want %s cleared", cs, sessionCookie)
	}
	old := restCall{path: "/api/v1/session", header: map[string]string{"Cookie": sessionCookie + "=" + cookie.Value}}
	resp, body = h.do(t, old)
	wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 to a plain request without a Basic challenge")
	}
	// The page's own scripts get no challenge: the browser would pop up
	// its login box over the page's.
	old.header["Sec-Fetch-Mode"] = "cors"
	resp, body = h.do(t, old)
	wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	if got := resp.Header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("401 to the page's fetch with WWW-Authenticate %q", got)
	}
	// The other browser's session (from setup) lives on.
	if resp, body := h.do(t, restCall{client: h.browser, path: "/api/v1/summary"}); resp.StatusCode != http.StatusOK {
		t.Errorf("setup session after another's logout: %d %s", resp.StatusCode, body)
	}
}

func TestRESTCrossOriginRefused(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	host := strings.TrimPrefix(h.srv.URL, "http://")
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
		{"Origin": "null"},
	} {
		for _, c := range []restCall{
			{method: http.MethodPost, path: "/api/v1/system/restart", basic: true},
			{method: http.MethodPost, path: "/api/v1/system/restart", client: h.browser, csrf: h.csrf},
			{method: http.MethodPost, path: "/api/v1/login", body: map[string]string{"password": restPassword}},
		} {
			c.header = hdr
			resp, body := h.do(t, c)
			wantError(t, resp, body, http.StatusForbidden, codeCSRF, "cross-origin")
			wantSecurityHeaders(t, resp)
			if len(resp.Cookies()) != 0 {
				t.Errorf("refused cross-origin %s set a cookie", c.path)
			}
		}
	}
	if restarts, _ := h.ctl.counts(); restarts != 0 {
		t.Fatalf("cross-origin requests restarted mining %d times", restarts)
	}
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "same-origin"},
		{"Origin": "http://" + host},
		{}, // not a browser
	} {
		resp, body := h.do(t, restCall{method: http.MethodPost, path: "/api/v1/system/restart", basic: true, header: hdr})
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("same-origin restart %v: %d %s", hdr, resp.StatusCode, body)
		}
	}
	// Reading is not a cross-site risk (the browser keeps the answer from
	// the other site).
	resp, body := h.do(t, restCall{path: "/api/v1/summary", basic: true, header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site GET: %d %s", resp.StatusCode, body)
	}
}

func TestRESTLoginLockout(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	guesser := clientFrom(t, "127.0.0.9")
	login := func(pw string) (*http.Response, []byte) {
		return h.do(t, restCall{client: guesser, method: http.MethodPost, path: "/api/v1/login",
			body: map[string]string{"username": "admin", "password": pw}})
	}
	for i := range maxFailures {
		resp, body := login(fmt.Sprintf("guess-%d", i))
		wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized, "invalid user or password")
	}
	for _, try := range []func() (*http.Response, []byte){
		func() (*http.Response, []byte) { return login(restPassword) },
		func() (*http.Response, []byte) {
			return h.do(t, restCall{client: guesser, path: "/api/v1/summary", basic: true})
		},
	} {
		resp, body := try()
		wantError(t, resp, body, http.StatusTooManyRequests, codeTooMany, "too many failed logins")
		if got := resp.Header.Get("Retry-After"); got != "300" {
			t.Errorf("Retry-After = %q, want 300", got)
		}
	}
	if logs := h.logs.String(); !strings.Contains(logs, "client locked out") || !strings.Contains(logs, "client=127.0.0.9") {
		t.Errorf("the lockout is not logged with the client address:\n%s", logs)
	}
	// Another address is not locked out.
	resp, body := h.do(t, restCall{client: clientFrom(t, "127.0.0.10"), method: http.MethodPost, path: "/api/v1/login",
		body: map[string]string{"password": restPassword}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("login from another address: %d %s", resp.StatusCode, body)
	}
	h.clock.Advance(lockoutDuration)
	if resp, body := login(restPassword); resp.StatusCode != http.StatusOK {
		t.Errorf("login after the lockout: %d %s", resp.StatusCode, body)
	}
}

func TestRESTFailuresOfEveryKindAddUp(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	guesser := clientFrom(t, "127.0.0.12")
	for _, c := range []restCall{
		{method: http.MethodPost, path: "/api/v1/login", body: map[string]string{"password": "guess-one"}},
		{method: http.MethodPost, path: "/api/v1/login", body: map[string]string{"username": "root", "password": restPassword}},
		{path: "/api/v1/summary", user: adminUser, pass: "guess-two"},
		{path: "/api/v1/summary", bearer: "kiln_notatoken"},
		{path: "/api/v1/summary", bearer: "kiln_stillnotatoken"},
	} {
		c.client = guesser
		resp, body := h.do(t, c)
		wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	}
	resp, body := h.do(t, restCall{client: guesser, path: "/api/v1/summary", bearer: "kiln_third"})
	wantError(t, resp, body, http.StatusTooManyRequests, codeTooMany)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestRESTTokens(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	created := h.clock.Now()
	resp, body := h.do(t, restCall{client: h.browser, csrf: h.csrf, method: http.MethodPost, path: "/api/v1/tokens",
		body: map[string]string{"name": "grafana"}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create token: %d %s", resp.StatusCode, body)
	}
	var tok TokenView
	decodeInto(t, body, &tok)
	if !strings.HasPrefix(tok.Token, tokenPrefix) || len(tok.Token) < len(tokenPrefix)+32 || tok.Name != "grafana" ||
		tok.ID <= 0 || !tok.Created.Equal(created) || tok.LastUsed != nil {
		t.Fatalf("created token %+v: want a kiln_ secret, the name and the creation time", tok)
	}

	h.clock.Advance(time.Minute)
	used := h.clock.Now()
	resp, body = h.do(t, restCall{path: "/api/v1/session", bearer: tok.Token})
	if resp.StatusCode != http.StatusOK || decodeObject(t, body)["method"] != methodBearer {
		t.Fatalf("session with the token: %d %s", resp.StatusCode, body)
	}
	// A token needs no CSRF header: no browser sends it by itself.
	if resp, body := h.do(t, restCall{method: http.MethodPost, path: "/api/v1/system/restart", bearer: tok.Token}); resp.StatusCode != http.StatusAccepted {
		t.Errorf("restart with the token: %d %s", resp.StatusCode, body)
	}

	resp, body = h.do(t, basic(http.MethodGet, "/api/v1/tokens", nil))
	var list []map[string]any
	decodeInto(t, body, &list)
	if resp.StatusCode != http.StatusOK || len(list) != 1 {
		t.Fatalf("list tokens: %d %s", resp.StatusCode, body)
	}
	if _, ok := list[0]["token"]; ok || list[0]["last_used"] != used.Format(time.RFC3339) || list[0]["name"] != "grafana" {
		t.Errorf("listed token %v: want no secret, last_used %s", list[0], used.Format(time.RFC3339))
	}
	if strings.Contains(string(body), tok.Token) {
		t.Error("the token list shows the secret")
	}

	del := fmt.Sprintf("/api/v1/tokens/%d", tok.ID)
	if resp, body := h.do(t, basic(http.MethodDelete, del, nil)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete token: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, restCall{path: "/api/v1/summary", bearer: tok.Token})
	wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized, "invalid token")
	resp, body = h.do(t, basic(http.MethodDelete, del, nil))
	wantError(t, resp, body, http.StatusNotFound, codeNotFound, fmt.Sprint(tok.ID))
	resp, body = h.do(t, basic(http.MethodDelete, "/api/v1/tokens/abc", nil))
	wantError(t, resp, body, http.StatusBadRequest, codeBadRequest, "id must be a positive integer")
}

func TestRESTPasswordChange(t *testing.T) {
	h := newRESTHarness(t, startSetup)
	const newPassword = "a-brand-new-password"
	change := func(cur, next string) (*http.Response, []byte) {
		return h.do(t, restCall{client: h.browser, csrf: h.csrf, method: http.MethodPut, path: "/api/v1/password",
			body: passwordChange{Current: cur, New: next}})
	}
	resp, body := change(restPassword, "short")
	wantError(t, resp, body, http.StatusBadRequest, codeBadRequest, "at least 8 characters")
	resp, body = change("not-the-password", newPassword)
	wantError(t, resp, body, http.StatusForbidden, codeForbidden, "current password is wrong")
	if got := h.status(t, basic(http.MethodGet, "/api/v1/summary", nil)); got != http.StatusOK {
		t.Fatalf("old password before the change: %d", got)
	}
	if resp, body := change(restPassword, newPassword); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("change: %d %s", resp.StatusCode, body)
	}
	// Every session and cached credential is gone.
	resp, body = h.do(t, restCall{client: h.browser, path: "/api/v1/summary"})
	wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	resp, body = h.do(t, basic(http.MethodGet, "/api/v1/summary", nil))
	wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	if resp, body := h.do(t, restCall{path: "/api/v1/summary", user: adminUser, pass: newPassword}); resp.StatusCode != http.StatusOK {
		t.Errorf("new password: %d %s", resp.StatusCode, body)
	}
}

// A session (or a cached Basic credential) lets one check guesses of the
// current password through PUT /api/v1/password; the guesses count as
// failed logins, and the lockout must stop them like any other.
func TestRESTPasswordChangeHonoursLockout(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	ctx := context.Background()
	before, _, err := h.store.Setting(ctx, SettingAdminHash)
	if err != nil {
		t.Fatal(err)
	}
	change := func(cur string) (*http.Response, []byte) {
		return h.do(t, restCall{session: true, method: http.MethodPut, path: "/api/v1/password",
			body: passwordChange{Current: cur, New: "a-brand-new-password"}})
	}
	for i := range maxFailures - 1 { // cheap failures: no password check
		resp, body := h.do(t, restCall{path: "/api/v1/summary", bearer: fmt.Sprintf("kiln_guess%d", i)})
		wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	}
	resp, body := change("guess")
	wantError(t, resp, body, http.StatusForbidden, codeForbidden, "current password is wrong")
	resp, body = change(restPassword)
	wantError(t, resp, body, http.StatusTooManyRequests, codeTooMany)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if after, _, _ := h.store.Setting(ctx, SettingAdminHash); after != before {
		t.Error("a locked-out client changed the admin password")
	}
}
