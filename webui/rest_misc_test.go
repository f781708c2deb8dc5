package webui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/store"
)

// wantSecurityHeaders checks the headers every response carries.
func wantSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": contentSecurityPolicy,
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s %s → %d: %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, k, got, want)
		}
	}
}

// page is the common part of the event and share pages.
type page struct {
	Events     []EventView `json:"events"`
	Shares     []ShareView `json:"shares"`
	NextBefore *int64      `json:"next_before"`
}

// readPages follows next_before from the newest entry and returns the
// size of each page and every ID seen, in order.
func readPages(t *testing.T, h *restHarness, path string) (sizes []int, ids []int64) {
	t.Helper()
	url := path + "?limit=50"
	for range 10 {
		resp, body := h.do(t, authed(http.MethodGet, url, nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		var p page
		decodeInto(t, body, &p)
		n := len(p.Events) + len(p.Shares)
		sizes = append(sizes, n)
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		for _, s := range p.Shares {
			ids = append(ids, s.ID)
		}
		if p.NextBefore == nil {
			return sizes, ids
		}
		if *p.NextBefore != ids[len(ids)-1] {
			t.Fatalf("next_before %d, want the page's last ID %d", *p.NextBefore, ids[len(ids)-1])
		}
		url = fmt.Sprintf("%s?limit=50&before=%d", path, *p.NextBefore)
	}
	t.Fatalf("%s: no end after 10 pages", path)
	return nil, nil
}

// wantNewestFirst checks ids are distinct and descending.
func wantNewestFirst(t *testing.T, ids []int64) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("IDs not newest first at %d: %v", i, ids)
		}
	}
}

func TestRESTEventsPages(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	ctx := context.Background()
	have, err := h.store.Events(ctx, 0, 500) // setup logged its own
	if err != nil {
		t.Fatal(err)
	}
	base := h.clock.Now()
	for i := len(have); i < 120; i++ {
		e := store.Event{Time: base.Add(time.Duration(i) * time.Second), Level: store.LevelWarn, Source: "pool", Kind: "pool_switch",
			Message: fmt.Sprintf("event %d", i)}
		if err := h.store.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	sizes, ids := readPages(t, h, "/api/v1/events")
	if diff := cmp.Diff([]int{50, 50, 20}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	wantNewestFirst(t, ids)

	_, body := h.do(t, authed(http.MethodGet, "/api/v1/events?limit=1", nil))
	var p page
	decodeInto(t, body, &p)
	want := EventView{ID: ids[0], Time: base.Add(119 * time.Second), Level: "warn", Source: "pool", Kind: "pool_switch", Message: "event 119"}
	if len(p.Events) != 1 || p.Events[0] != want || p.NextBefore == nil {
		t.Errorf("newest event page %s, want %+v and a next_before", body, want)
	}
	// Past the oldest there is an empty page, still a JSON array.
	_, body = h.do(t, authed(http.MethodGet, fmt.Sprintf("/api/v1/events?before=%d", ids[len(ids)-1]), nil))
	if string(body) != `{"events":[],"next_before":null}` {
		t.Errorf("page past the oldest: %s", body)
	}
}

func TestRESTSharesPages(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	base := h.clock.Now()
	for i := range 120 {
		r := store.ShareRecord{Time: base.Add(time.Duration(i) * time.Second), Pool: "stratum+tcp://main.example:3333",
			Job: fmt.Sprintf("job%d", i), Difficulty: 1024, ShareDifficulty: float64(2000 + i), Result: store.ResultAccepted}
		if i%10 == 9 {
			r.Result, r.Reason = store.ResultRejected, "duplicate"
		}
		h.store.LogShare(r)
	}
	if err := h.store.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	sizes, ids := readPages(t, h, "/api/v1/shares")
	if diff := cmp.Diff([]int{50, 50, 20}, sizes); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	wantNewestFirst(t, ids)

	_, body := h.do(t, authed(http.MethodGet, "/api/v1/shares?limit=2", nil))
	var p page
	decodeInto(t, body, &p)
	want := []ShareView{
		{ID: ids[0], Time: base.Add(119 * time.Second), Pool: "stratum+tcp://main.example:3333", Job: "job119",
			Difficulty: 1024, ShareDifficulty: 2119, Result: "rejected", Reason: "duplicate"},
		{ID: ids[1], Time: base.Add(118 * time.Second), Pool: "stratum+tcp://main.example:3333", Job: "job118",
			Difficulty: 1024, ShareDifficulty: 2118, Result: "accepted"},
	}
	if diff := cmp.Diff(want, p.Shares); diff != "" {
		t.Errorf("newest shares (-want +got):\n%s", diff)
	}
}

func TestRESTHistory(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	ctx := context.Background()
	now := h.clock.Now() // 12:00:00
	for _, s := range []store.Sample{
		{Time: now.Add(-2 * time.Hour), HashrateHS: 9e9, Accepted: 1},                        // out of range
		{Time: now.Add(-50 * time.Minute), HashrateHS: 1e12, Accepted: 10, TemperatureC: 60}, // 11:10:00
		{Time: now.Add(-50*time.Minute + 20*time.Second), HashrateHS: 2e12, Accepted: 12, Rejected: 1, TemperatureC: 62},
		{Time: now.Add(-10 * time.Minute), HashrateHS: 4e12, Accepted: 40, Stale: 2, TemperatureC: 58},
	} {
		if err := h.store.AddSample(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	resp, body := h.do(t, authed(http.MethodGet, "/api/v1/history?range=1h", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("history: %d %s", resp.StatusCode, body)
	}
	var got historyBody
	decodeInto(t, body, &got)
	want := historyBody{Range: "1h", StepS: 60, Samples: []HistorySample{
		{Time: now.Add(-50*time.Minute + 20*time.Second), HashrateHS: 1.5e12, Accepted: 12, Rejected: 1, TemperatureC: 62},
		{Time: now.Add(-10 * time.Minute), HashrateHS: 4e12, Accepted: 40, Stale: 2, TemperatureC: 58},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	_, body = h.do(t, authed(http.MethodGet, "/api/v1/history?range=24h", nil))
	decodeInto(t, body, &got)
	if got.StepS != 600 || len(got.Samples) != 3 {
		t.Errorf("24h history: step %d, %d samples, want 600 and 3: %s", got.StepS, len(got.Samples), body)
	}
}

func TestRESTStream(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := h.browser.Do(h.request(t, ctx, restCall{path: "/api/v1/stream"}))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	wantSecurityHeaders(t, resp)
	got := make(chan sseEvent, 1)
	errc := make(chan error, 1)
	go func() {
		ev, err := readEvent(bufio.NewReader(resp.Body))
		if err != nil {
			errc <- err
			return
		}
		got <- ev
	}()
	var ev sseEvent
	select {
	case ev = <-got:
	case err := <-errc:
		t.Fatalf("reading the stream: %v", err)
	case <-time.After(streamEvery * 3 / 4): // the first status goes at once, not on the ticker
		t.Fatal("no first event")
	}
	if ev.name != "status" {
		t.Errorf("event %q, want status", ev.name)
	}
	var st map[string]json.RawMessage
	decodeInto(t, []byte(ev.data), &st)
	if len(st) != 4 || st["summary"] == nil || st["pools"] == nil || st["fans"] == nil || st["boards"] == nil {
		t.Fatalf("status data keys: %s", ev.data)
	}
	var full StreamStatus
	decodeInto(t, []byte(ev.data), &full)
	if full.Summary.Accepted != 12 || len(full.Pools) != 2 || len(full.Fans) != 2 || len(full.Boards) != 1 {
		t.Errorf("status data: %s", ev.data)
	}
	if len(h.s.streams) != 1 {
		t.Errorf("%d live streams, want 1", len(h.s.streams))
	}
	// The handler ends when the client goes away, not at its next tick.
	cancel()
	waitFor(t, "the stream handler to end", streamEvery*3/4, func() bool { return len(h.s.streams) == 0 })
}

func TestRESTSecurityHeaders(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	for _, c := range []restCall{
		{path: "/"},
		{path: "/static/app.js"},
		{path: "/api/v1/health"},
		authed(http.MethodGet, "/api/v1/summary", nil),
		{path: "/api/v1/summary"},
		authed(http.MethodGet, "/api/v1/nothing", nil),
		authed(http.MethodPost, "/api/v1/pools", "{"),
		authed(http.MethodPost, "/api/v1/pools", "[1,"),
		{method: http.MethodPost, path: "/api/v1/system/restart", basic: true, header: map[string]string{"Origin": "http://evil.example"}},
		{method: http.MethodPost, path: "/api/v1/system/restart", client: h.browser}, // CSRF
		authed(http.MethodPost, "/api/v1/system/reboot", nil),                        // 409
		authed(http.MethodGet, "/metrics", nil),
	} {
		resp, _ := h.do(t, c)
		wantSecurityHeaders(t, resp)
		if resp.Header.Get("Cache-Control") == "" {
			t.Errorf("%s: no Cache-Control", c.path)
		}
	}
}

// A store that cannot be read must not offer setup to whoever asks first.
func TestRESTStoreUnavailable(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h := &restHarness{ctl: newRESTControl(), clock: newFakeClock(), logs: &syncBuffer{}}
	h.s = h.newServer(st)
	h.srv = httptest.NewServer(h.s.Handler())
	t.Cleanup(h.srv.Close)
	h.client = clientFrom(t, "127.0.0.1")
	for _, c := range []restCall{
		{path: "/api/v1/setup"},
		{method: http.MethodPost, path: "/api/v1/setup", body: map[string]string{"password": restPassword}},
		{method: http.MethodPost, path: "/api/v1/login", body: map[string]string{"password": restPassword}},
		basic(http.MethodGet, "/api/v1/summary", nil),
	} {
		resp, body := h.do(t, c)
		wantError(t, resp, body, http.StatusServiceUnavailable, codeUnavailable, "password store")
	}
	if resp, _ := h.do(t, restCall{path: "/api/v1/health"}); resp.StatusCode != http.StatusOK {
		t.Errorf("health with the store down: %d", resp.StatusCode)
	}
}
