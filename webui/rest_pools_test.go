package webui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// wantPoolList decodes a pool list answer and checks it against the
// control's saved pools: same order, URLs, users and enabled flags, and
// never a password.
func wantPoolList(t *testing.T, h *restHarness, resp *http.Response, body []byte, status int) []Pool {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if strings.Contains(string(body), "password") {
		t.Errorf("pool list shows passwords: %s", body)
	}
	var got []Pool
	decodeInto(t, body, &got)
	saved, _, _ := h.ctl.snapshot()
	if len(got) != len(saved) {
		t.Fatalf("answer lists %d pools, the controller has %d: %s", len(got), len(saved), body)
	}
	for i, p := range got {
		if p.URL != saved[i].URL || p.User != saved[i].User || p.Enabled != saved[i].Enabled || p.Priority != i {
			t.Errorf("answer pool %d = %+v, saved %+v", i, p, saved[i])
		}
	}
	return got
}

func TestRESTPoolsCRUD(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	want := []PoolSetting{
		{URL: "stratum+tcp://main.example:3333", User: "alice.rig1", Password: "x1", Enabled: true},
		{URL: "stratum+ssl://backup.example:4443", User: "alice.rig1", Password: "x2", Enabled: true},
		{URL: "stratum+tcp://third.example:3333", User: "bob", Password: "secret3", Enabled: true},
	}
	check := func(step string) {
		t.Helper()
		if got, _, _ := h.ctl.snapshot(); !cmp.Equal(want, got) {
			t.Fatalf("%s: saved pools (-want +got):\n%s", step, cmp.Diff(want, got))
		}
	}

	resp, body := h.do(t, authed(http.MethodGet, "/api/v1/pools", nil))
	wantPoolList(t, h, resp, body, http.StatusOK)

	resp, body = h.do(t, authed(http.MethodPost, "/api/v1/pools",
		map[string]string{"url": "stratum+tcp://third.example:3333", "user": "bob", "password": "secret3"}))
	if got := wantPoolList(t, h, resp, body, http.StatusCreated); len(got) != 3 || got[2].URL != want[2].URL {
		t.Fatalf("add: %s", body)
	}
	check("add (enabled by default)")

	// An edit without a password keeps the saved one.
	resp, body = h.do(t, authed(http.MethodPut, "/api/v1/pools/2",
		map[string]any{"url": "stratum+tcp://third.example:3334", "user": "bob.2", "enabled": false}))
	wantPoolList(t, h, resp, body, http.StatusOK)
	want[2] = PoolSetting{URL: "stratum+tcp://third.example:3334", User: "bob.2", Password: "secret3", Enabled: false}
	check("edit without password")
	resp, body = h.do(t, authed(http.MethodPut, "/api/v1/pools/0",
		map[string]any{"url": want[0].URL, "user": want[0].User, "password": "new-x1", "enabled": true}))
	wantPoolList(t, h, resp, body, http.StatusOK)
	want[0].Password = "new-x1"
	check("edit with password")

	resp, body = h.do(t, authed(http.MethodPost, "/api/v1/pools/reorder", map[string][]int{"order": {2, 0, 1}}))
	if got := wantPoolList(t, h, resp, body, http.StatusOK); got[0].Status != "disabled" || got[1].Status != "standby" {
		t.Errorf("reorder answer statuses %q, %q: want the live list", got[0].Status, got[1].Status)
	}
	want = []PoolSetting{want[2], want[0], want[1]}
	check("reorder")

	resp, body = h.do(t, authed(http.MethodDelete, "/api/v1/pools/1", nil))
	wantPoolList(t, h, resp, body, http.StatusOK)
	want = []PoolSetting{want[0], want[2]}
	check("delete")

	// Every change is in the event log.
	_, body = h.do(t, authed(http.MethodGet, "/api/v1/events", nil))
	if n := strings.Count(string(body), `"kind":"pools_changed"`); n != 5 {
		t.Errorf("%d pools_changed events, want 5: %s", n, body)
	}
}

func TestRESTPoolTest(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	resp, body := h.do(t, authed(http.MethodPost, "/api/v1/pools/test",
		map[string]string{"url": "stratum+tcp://try.example:3333", "user": "eve", "password": "pw"}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("test pool: %d %s", resp.StatusCode, body)
	}
	want := map[string]any{"ok": true, "latency_ms": 42.5, "difficulty": 8192.0, "version_rolling": true}
	if diff := cmp.Diff(want, decodeObject(t, body)); diff != "" {
		t.Errorf("test answer (-want +got):\n%s", diff)
	}
	h.ctl.mu.Lock()
	tested := h.ctl.tested
	h.ctl.poolTest = PoolTest{Error: "connection refused"}
	h.ctl.mu.Unlock()
	if diff := cmp.Diff([]PoolSetting{{URL: "stratum+tcp://try.example:3333", User: "eve", Password: "pw", Enabled: true}}, tested); diff != "" {
		t.Errorf("pool tested (-want +got):\n%s", diff)
	}
	_, body = h.do(t, authed(http.MethodPost, "/api/v1/pools/test", map[string]string{"url": "stratum+tcp://try.example:3333"}))
	want = map[string]any{"ok": false, "latency_ms": 0.0, "difficulty": 0.0, "version_rolling": false, "error": "connection refused"}
	if diff := cmp.Diff(want, decodeObject(t, body)); diff != "" {
		t.Errorf("failed test answer (-want +got):\n%s", diff)
	}
	if saved, _, _ := h.ctl.snapshot(); len(saved) != 2 {
		t.Errorf("a pool test changed the saved pools: %v", saved)
	}
}

func TestRESTTuningAndSystem(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	resp, body := h.do(t, authed(http.MethodPut, "/api/v1/tuning/fan", FanSetting{Mode: FanManual, Percent: 60}))
	var tun Tuning
	decodeInto(t, body, &tun)
	if resp.StatusCode != http.StatusOK || tun.Fan != (FanSetting{Mode: FanManual, Percent: 60}) || len(tun.Boards) != 1 {
		t.Errorf("set fan: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, authed(http.MethodPut, "/api/v1/tuning/boards/0", BoardTuning{FrequencyMHz: 800, VoltageMV: 1000}))
	decodeInto(t, body, &tun)
	if resp.StatusCode != http.StatusOK || tun.Boards[0].BoardTuning != (BoardTuning{FrequencyMHz: 800, VoltageMV: 1000}) ||
		tun.Boards[0].Limits.FrequencyMaxMHz != 800 {
		t.Errorf("set board at its limits: %d %s", resp.StatusCode, body)
	}
	if _, fan, board := h.ctl.snapshot(); fan.Mode != FanManual || board.FrequencyMHz != 800 {
		t.Errorf("controller has fan %v, board %v", fan, board)
	}

	resp, body = h.do(t, authed(http.MethodGet, "/api/v1/fans", nil))
	if resp.StatusCode != http.StatusOK || string(body) != `[{"index":0,"rpm":4200,"percent":55},{"index":1,"rpm":4150,"percent":55}]` {
		t.Errorf("fans: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, authed(http.MethodGet, "/api/v1/system", nil))
	if m := decodeObject(t, body); resp.StatusCode != http.StatusOK || m["hostname"] != "miner-7" || m["can_reboot"] != false {
		t.Errorf("system: %d %s", resp.StatusCode, body)
	}

	resp, body = h.do(t, authed(http.MethodPost, "/api/v1/system/restart", nil))
	if resp.StatusCode != http.StatusAccepted || string(body) != `{"status":"restarting"}` {
		t.Errorf("restart: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do(t, authed(http.MethodPost, "/api/v1/system/reboot", nil))
	wantError(t, resp, body, http.StatusConflict, codeConflict, "reboot")
	h.ctl.mu.Lock()
	h.ctl.canReboot = true
	h.ctl.mu.Unlock()
	resp, body = h.do(t, authed(http.MethodPost, "/api/v1/system/reboot", nil))
	if resp.StatusCode != http.StatusAccepted || string(body) != `{"status":"rebooting"}` {
		t.Errorf("reboot: %d %s", resp.StatusCode, body)
	}
	if restarts, reboots := h.ctl.counts(); restarts != 1 || reboots != 1 {
		t.Errorf("restarts %d, reboots %d, want 1 and 1", restarts, reboots)
	}
}

func TestRESTConfigRoundTrip(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	resp, exported := h.do(t, authed(http.MethodGet, "/api/v1/config", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v %s", resp.StatusCode, resp.Header, exported)
	}
	var doc ConfigDocument
	decodeInto(t, exported, &doc)
	pools, fan, board := h.ctl.snapshot()
	want := ConfigDocument{KilnConfig: 1, Pools: pools, Fan: &fan, Boards: []BoardConfigEntry{{Index: 0, BoardTuning: board}}}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Fatalf("exported document (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(exported), `"password":"x2"`) {
		t.Errorf("export lacks the pool passwords: %s", exported)
	}

	// Change everything, then bring the export back.
	for _, c := range []restCall{
		authed(http.MethodDelete, "/api/v1/pools/0", nil),
		authed(http.MethodPut, "/api/v1/tuning/fan", FanSetting{Mode: FanManual, Percent: 100}),
		authed(http.MethodPut, "/api/v1/tuning/boards/0", BoardTuning{FrequencyMHz: 300, VoltageMV: 1100}),
	} {
		if resp, body := h.do(t, c); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	resp, body := h.do(t, authed(http.MethodPut, "/api/v1/config", exported))
	if resp.StatusCode != http.StatusOK || string(body) != `{"status":"applied"}` {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	p, f, b := h.ctl.snapshot()
	got := ConfigDocument{KilnConfig: 1, Pools: p, Fan: &f, Boards: []BoardConfigEntry{{Index: 0, BoardTuning: b}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("controller after import (-want +got):\n%s", diff)
	}
	_, again := h.do(t, authed(http.MethodGet, "/api/v1/config", nil))
	if string(again) != string(exported) {
		t.Errorf("export after import differs:\n%s\nwant\n%s", again, exported)
	}

	// Another document is applied as a whole: pools, fan and boards.
	next := ConfigDocument{KilnConfig: 1,
		Pools:  []PoolSetting{{URL: "stratum+tls://fleet.example:443", User: "farm.7", Password: "fp", Enabled: true}},
		Fan:    &FanSetting{Mode: FanAuto, TargetC: 70},
		Boards: []BoardConfigEntry{{Index: 0, BoardTuning: BoardTuning{FrequencyMHz: 525, VoltageMV: 1300}}}}
	if resp, body := h.do(t, authed(http.MethodPut, "/api/v1/config", next)); resp.StatusCode != http.StatusOK {
		t.Fatalf("import another: %d %s", resp.StatusCode, body)
	}
	p, f, b = h.ctl.snapshot()
	got = ConfigDocument{KilnConfig: 1, Pools: p, Fan: &f, Boards: []BoardConfigEntry{{Index: 0, BoardTuning: b}}}
	if diff := cmp.Diff(next, got); diff != "" {
		t.Errorf("controller after the second import (-want +got):\n%s", diff)
	}
}

// Two pool changes at once must both land: each request edits the list it
// read, so the server must not let a second read overtake the first
// write.
func TestRESTConcurrentPoolChangesBothLand(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	h.ctl.mu.Lock()
	h.ctl.meet = make(chan struct{})
	h.ctl.mu.Unlock()
	urls := []string{"stratum+tcp://one.example:3333", "stratum+tcp://two.example:3333"}
	errs := make(chan error, len(urls))
	var wg sync.WaitGroup
	for _, u := range urls {
		req := h.request(t, context.Background(), authed(http.MethodPost, "/api/v1/pools", map[string]string{"url": u}))
		wg.Go(func() {
			resp, err := h.browser.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("add %s: status %d", u, resp.StatusCode)
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	saved, _, _ := h.ctl.snapshot()
	var got []string
	for _, p := range saved {
		got = append(got, p.URL)
	}
	want := []string{"stratum+tcp://main.example:3333", "stratum+ssl://backup.example:4443", urls[0], urls[1]}
	if !cmp.Equal(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })) {
		t.Errorf("saved pools after adding %q and %q at once: %q; one add was lost", urls[0], urls[1], got)
	}
}
