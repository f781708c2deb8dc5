package webui

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/store"
)

// restPassword is the admin password of the REST harnesses, checked
// through the real argon2id path.
const restPassword = "kiln-rest-test-pw"

// restControl is the controller side of the REST tests: an in-memory pool
// list, a fan policy, one tunable board with limits and action counters.
type restControl struct {
	mu        sync.Mutex
	pools     []PoolSetting
	fan       FanSetting
	board     BoardTuningStatus
	restarts  int
	reboots   int
	canReboot bool
	poolTest  PoolTest
	tested    []PoolSetting
	poolSets  int // calls of SetPoolSettings
	// meet, when set, makes PoolSettings wait (a little) for a second
	// caller, so that two requests read the list at the same time.
	meet chan struct{}
}

// newRESTControl returns a control with two pools, automatic fans and one
// BM1366 board at 485 MHz / 1200 mV.
func newRESTControl() *restControl {
	return &restControl{
		pools: []PoolSetting{
			{URL: "stratum+tcp://main.example:3333", User: "alice.rig1", Password: "x1", Enabled: true},
			{URL: "stratum+ssl://backup.example:4443", User: "alice.rig1", Password: "x2", Enabled: true},
		},
		fan: FanSetting{Mode: FanAuto, TargetC: 65},
		board: BoardTuningStatus{
			Index: 0, Kind: "sim", Model: "BM1366",
			BoardTuning: BoardTuning{FrequencyMHz: 485, VoltageMV: 1200},
			Limits:      BoardLimits{FrequencyMinMHz: 50, FrequencyMaxMHz: 800, VoltageMinMV: 1000, VoltageMaxMV: 1400},
		},
		poolTest: PoolTest{OK: true, LatencyMS: 42.5, Difficulty: 8192, VersionRolling: true},
	}
}

func (c *restControl) PoolSettings(context.Context) ([]PoolSetting, error) {
	c.mu.Lock()
	list, meet := slices.Clone(c.pools), c.meet
	c.mu.Unlock()
	if meet != nil {
		select {
		case meet <- struct{}{}:
		case <-meet:
		case <-time.After(300 * time.Millisecond): // nobody else is reading
		}
	}
	return list, nil
}

func (c *restControl) SetPoolSettings(_ context.Context, pools []PoolSetting) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pools = slices.Clone(pools)
	c.poolSets++
	return nil
}

func (c *restControl) TestPool(_ context.Context, p PoolSetting) PoolTest {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tested = append(c.tested, p)
	return c.poolTest
}

func (c *restControl) Fans() []Fan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return []Fan{{Index: 0, RPM: 4200, Percent: 55}, {Index: 1, RPM: 4150, Percent: 55}}
}

func (c *restControl) Tuning() Tuning {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Tuning{Fan: c.fan, Boards: []BoardTuningStatus{c.board}}
}

func (c *restControl) SetFan(_ context.Context, f FanSetting) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fan = f
	return nil
}

func (c *restControl) SetBoardTuning(_ context.Context, board int, t BoardTuning) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if board != c.board.Index {
		return fmt.Errorf("board %d: not tunable: %w", board, ErrInvalid)
	}
	c.board.BoardTuning = t
	return nil
}

func (c *restControl) RestartMining(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restarts++
	return nil
}

func (c *restControl) Reboot(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.canReboot {
		return fmt.Errorf("reboot: not a firmware image: %w", ErrInvalid)
	}
	c.reboots++
	return nil
}

func (c *restControl) System() SystemInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return SystemInfo{Version: "v0.1.0-test", GoVersion: "go1.26", OS: "linux", Arch: "arm",
		Hostname: "miner-7", Board: "sim", CanReboot: c.canReboot}
}

// snapshot returns the saved pools, fan policy and board tuning.
func (c *restControl) snapshot() ([]PoolSetting, FanSetting, BoardTuning) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pools), c.fan, c.board.BoardTuning
}

// counts returns how often mining was restarted and the machine rebooted.
func (c *restControl) counts() (restarts, reboots int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts, c.reboots
}

// liveStatus serves the pool list from the control's saved pools, as the
// controller does after a change; the rest comes from fakeStatus.
type liveStatus struct {
	*fakeStatus
	ctl *restControl
}

func (l *liveStatus) Pools() []Pool {
	saved, _, _ := l.ctl.snapshot()
	out := make([]Pool, len(saved))
	for i, p := range saved {
		state := "standby"
		switch {
		case !p.Enabled:
			state = "disabled"
		case i == 0:
			state = "active"
		}
		out[i] = Pool{Priority: i, URL: p.URL, User: p.User, Enabled: p.Enabled, Status: state, Active: i == 0}
	}
	return out
}

// restHarness is a Server on a real SQLite store, a restControl and a
// liveStatus, behind an httptest listener on 127.0.0.1.
type restHarness struct {
	srv     *httptest.Server
	s       *Server
	store   *store.Store
	ctl     *restControl
	clock   *fakeClock
	logs    *syncBuffer
	client  *http.Client // 127.0.0.1, no cookies
	browser *http.Client // 127.0.0.1, with a cookie jar
	csrf    string       // the browser session's CSRF token, after setup
}

// harnessStart is the state a harness starts in.
type harnessStart int

const (
	// startFresh has no admin password yet: first start.
	startFresh harnessStart = iota
	// startSetup sets the password through POST /api/v1/setup, which
	// logs the browser in.
	startSetup
	// startLoggedIn stores a hash made once per test binary before the
	// server starts, and opens the browser session directly: the same
	// state as startSetup without an argon2 hash per harness.
	startLoggedIn
)

// seededHash is the argon2id hash of restPassword for startLoggedIn.
var seededHash = sync.OnceValues(func() (string, error) { return HashPassword(restPassword) })

// newRESTHarness builds a harness in the state start says.
func newRESTHarness(t *testing.T, start harnessStart) *restHarness {
	t.Helper()
	h := &restHarness{ctl: newRESTControl(), clock: newFakeClock(), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	h.store = st
	if start == startLoggedIn {
		hash, err := seededHash()
		if err == nil {
			err = st.SetSetting(ctx, SettingAdminHash, hash)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	h.s = h.newServer(st)
	h.srv = httptest.NewServer(h.s.Handler())
	t.Cleanup(h.srv.Close)
	h.client = clientFrom(t, "127.0.0.1")
	h.browser = h.newBrowser(t)
	switch start {
	case startSetup:
		h.setup(t)
	case startLoggedIn:
		var cookie string
		cookie, h.csrf = h.s.sessions.create()
		u, err := url.Parse(h.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		h.browser.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: cookie, Path: "/"}})
	}
	return h
}

// setup sets the admin password through the API and keeps the browser
// session it opens.
func (h *restHarness) setup(t *testing.T) {
	t.Helper()
	resp, body := h.do(t, restCall{client: h.browser, method: http.MethodPost, path: "/api/v1/setup",
		body: map[string]string{"password": restPassword}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	h.csrf, _ = decodeObject(t, body)["csrf_token"].(string)
	if h.csrf == "" {
		t.Fatalf("setup answered no csrf_token: %s", body)
	}
}

// newServer builds a Server on st with this harness's control and clock.
func (h *restHarness) newServer(st *store.Store) *Server {
	board := Board{Index: 0, Kind: "sim", Model: "BM1366", HashrateHS: 1.2e12,
		Chains: []Chain{{Index: 0, Serial: "C0", State: "mining", FrequencyMHz: 485}}}
	status := &liveStatus{ctl: h.ctl, fakeStatus: &fakeStatus{
		summary: Summary{Accepted: 12, Rejected: 1, Hashrate: 1.2e12, Board: "sim", Units: 1},
		boards:  []Board{board},
	}}
	return New(Config{
		Status:  status,
		Control: h.ctl,
		Store:   st,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, "kiln_up 1\n")
		}),
		Version: "v0.1.0-test",
		Log:     slog.New(slog.NewTextHandler(h.logs, nil)),
		Now:     h.clock.Now,
	})
}

// newBrowser returns a client from 127.0.0.1 that keeps cookies.
func (h *restHarness) newBrowser(t *testing.T) *http.Client {
	t.Helper()
	c := clientFrom(t, "127.0.0.1")
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Jar = jar
	return c
}

// restCall is one REST request. A nil client means h.client; body is sent
// as it is when a string or []byte, else encoded as JSON.
type restCall struct {
	client *http.Client
	method string
	path   string
	body   any
	ctype  string // Content-Type; "application/json" when a body is set
	basic  bool   // admin with restPassword
	// session sends the browser session's cookie (and its CSRF token on
	// unsafe requests): the cheap way to be logged in, no argon2 check.
	session bool
	user    string // explicit Basic credentials, when set
	pass    string
	bearer  string
	csrf    string
	header  map[string]string
}

// basic returns a call with the right Basic credentials.
func basic(method, path string, body any) restCall {
	return restCall{method: method, path: path, body: body, basic: true}
}

// authed returns a call made in the harness's browser session.
func authed(method, path string, body any) restCall {
	return restCall{method: method, path: path, body: body, session: true}
}

// clientOf returns the client c is sent with.
func (h *restHarness) clientOf(c restCall) *http.Client {
	switch {
	case c.client != nil:
		return c.client
	case c.session:
		return h.browser
	}
	return h.client
}

// request builds the *http.Request of c.
func (h *restHarness) request(t *testing.T, ctx context.Context, c restCall) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := c.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	method := cmp.Or(c.method, http.MethodGet)
	req, err := http.NewRequestWithContext(ctx, method, h.srv.URL+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", cmp.Or(c.ctype, "application/json"))
	}
	switch {
	case c.basic:
		req.SetBasicAuth(adminUser, restPassword)
	case c.user != "" || c.pass != "":
		req.SetBasicAuth(c.user, c.pass)
	case c.bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.session && !safeMethod(method) {
		req.Header.Set(csrfHeader, h.csrf)
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return req
}

// do sends c and returns the response with its body read.
func (h *restHarness) do(t *testing.T, c restCall) (*http.Response, []byte) {
	t.Helper()
	req := h.request(t, context.Background(), c)
	resp, err := h.clientOf(c).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, c.path, err)
	}
	return resp, body
}

// status sends c and returns only the status code. A stream is closed as
// soon as its headers arrive, since its body never ends.
func (h *restHarness) status(t *testing.T, c restCall) int {
	t.Helper()
	if c.path != "/api/v1/stream" {
		resp, _ := h.do(t, c)
		return resp.StatusCode
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := h.clientOf(c).Do(h.request(t, ctx, c))
	if err != nil {
		t.Fatalf("GET %s: %v", c.path, err)
	}
	cancel()
	resp.Body.Close()
	return resp.StatusCode
}

// wantError checks an error response: status, JSON content type, the
// {"error":{"code","message"}} shape, the code and that the message
// contains every one of parts.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string, parts ...string) {
	t.Helper()
	wantJSONError(t, resp, body, status, "")
	if t.Failed() {
		return
	}
	e := decodeObject(t, body)["error"].(map[string]any)
	if code != "" && e["code"] != code {
		t.Errorf("error code = %v, want %q (body %s)", e["code"], code, body)
	}
	msg, _ := e["message"].(string)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error message %q does not mention %q", msg, p)
		}
	}
}

// decodeInto decodes a JSON body into v, failing the test otherwise.
func decodeInto(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// readEvent reads the next event from an SSE stream.
func readEvent(r *bufio.Reader) (sseEvent, error) {
	var ev sseEvent
	for range 64 { // an event has a handful of lines
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && (ev.name != "" || ev.data != ""):
			return ev, nil
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
	return ev, fmt.Errorf("no event end within 64 lines")
}

// waitFor polls cond until it holds or within has passed: for conditions
// another goroutine of the server reaches after a network event.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
