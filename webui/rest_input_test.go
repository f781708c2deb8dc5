package webui

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// badInput is one request the API must refuse, and how.
type badInput struct {
	name   string
	call   restCall
	status int
	code   string
	parts  []string // what the message must mention
}

func badPoolInputs() []badInput {
	const ok = `{"url":"stratum+tcp://pool.example:3333","user":"bob"}`
	return []badInput{
		{"malformed JSON", authed("POST", "/api/v1/pools", `{"url":`), 400, codeBadRequest, []string{"invalid JSON body"}},
		{"empty body", authed("POST", "/api/v1/pools", ""), 400, codeBadRequest, []string{"empty body"}},
		{"unknown field", authed("POST", "/api/v1/pools", `{"url":"stratum+tcp://p.example:1","colour":"red"}`),
			400, codeBadRequest, []string{`unknown field "colour"`}},
		{"wrong type", authed("POST", "/api/v1/pools", `{"url":5}`), 400, codeBadRequest, []string{`"url"`, "a string"}},
		{"wrong type bool", authed("POST", "/api/v1/pools", `{"url":"stratum+tcp://p.example:1","enabled":"yes"}`),
			400, codeBadRequest, []string{`"enabled"`, "true or false"}},
		{"two values", authed("POST", "/api/v1/pools", ok+` {}`), 400, codeBadRequest, []string{"more than one value"}},
		{"missing url", authed("POST", "/api/v1/pools", `{"user":"bob"}`), 400, codeBadRequest, []string{"url is required"}},
		{"bad scheme", authed("POST", "/api/v1/pools", `{"url":"http://pool.example:3333"}`),
			400, codeBadRequest, []string{"url", `scheme "http"`}},
		{"no port", authed("POST", "/api/v1/pools", `{"url":"stratum+tcp://pool.example"}`),
			400, codeBadRequest, []string{"url", "port"}},
		{"url too long", authed("POST", "/api/v1/pools", `{"url":"stratum+tcp://`+strings.Repeat("a", 600)+`.example:1"}`),
			400, codeBadRequest, []string{"too long"}},
		{"index not a number", authed("PUT", "/api/v1/pools/abc", ok), 400, codeBadRequest, []string{"index", `"abc"`}},
		{"negative index", authed("DELETE", "/api/v1/pools/-1", nil), 400, codeBadRequest, []string{"index", `"-1"`}},
		{"edit out of range", authed("PUT", "/api/v1/pools/7", ok), 404, codeNotFound, []string{"no pool 7"}},
		{"delete out of range", authed("DELETE", "/api/v1/pools/2", nil), 404, codeNotFound, []string{"no pool 2", "2"}},
		{"reorder repeats", authed("POST", "/api/v1/pools/reorder", `{"order":[0,0]}`), 400, codeBadRequest, []string{"order", "exactly once"}},
		{"reorder short", authed("POST", "/api/v1/pools/reorder", `{"order":[1]}`), 400, codeBadRequest, []string{"order", "all 2 pools"}},
		{"reorder out of range", authed("POST", "/api/v1/pools/reorder", `{"order":[0,2]}`), 400, codeBadRequest, []string{"order"}},
		{"reorder wrong type", authed("POST", "/api/v1/pools/reorder", `{"order":["a","b"]}`), 400, codeBadRequest, []string{`"order"`, "an integer"}},
		{"test without url", authed("POST", "/api/v1/pools/test", `{"user":"bob"}`), 400, codeBadRequest, []string{"url is required"}},
		{"text body", restCall{method: "POST", path: "/api/v1/pools", body: ok, ctype: "text/plain", session: true},
			415, "unsupported_media_type", []string{"application/json"}},
		{"form body", restCall{method: "POST", path: "/api/v1/pools", body: "url=x", ctype: "application/x-www-form-urlencoded", session: true},
			415, "unsupported_media_type", []string{"application/json"}},
		{"body too large", authed("POST", "/api/v1/pools", `{"url":"`+strings.Repeat("a", maxBody)+`"}`),
			413, "too_large", []string{fmt.Sprint(maxBody)}},
	}
}

func badSettingInputs() []badInput {
	return []badInput{
		{"fan mode", authed("PUT", "/api/v1/tuning/fan", `{"mode":"turbo"}`), 400, codeBadRequest, []string{"mode", `"auto"`, `"manual"`}},
		{"fan percent 150", authed("PUT", "/api/v1/tuning/fan", `{"mode":"manual","percent":150}`),
			400, codeBadRequest, []string{"percent", "0 to 100"}},
		{"fan percent negative", authed("PUT", "/api/v1/tuning/fan", `{"mode":"manual","percent":-5}`),
			400, codeBadRequest, []string{"percent"}},
		{"fan target", authed("PUT", "/api/v1/tuning/fan", `{"mode":"auto","target_c":20}`),
			400, codeBadRequest, []string{"target_c", "40", "90"}},
		{"board frequency high", authed("PUT", "/api/v1/tuning/boards/0", `{"frequency_mhz":900,"voltage_mv":1200}`),
			400, codeBadRequest, []string{"frequency_mhz", "50", "800", "BM1366"}},
		{"board frequency low", authed("PUT", "/api/v1/tuning/boards/0", `{"frequency_mhz":10,"voltage_mv":1200}`),
			400, codeBadRequest, []string{"frequency_mhz"}},
		{"board voltage", authed("PUT", "/api/v1/tuning/boards/0", `{"frequency_mhz":500,"voltage_mv":1500}`),
			400, codeBadRequest, []string{"voltage_mv", "1000", "1400"}},
		{"board missing", authed("PUT", "/api/v1/tuning/boards/3", `{"frequency_mhz":500,"voltage_mv":1200}`),
			404, codeNotFound, []string{"no tunable board 3"}},
		{"board index", authed("PUT", "/api/v1/tuning/boards/x", `{"frequency_mhz":500,"voltage_mv":1200}`),
			400, codeBadRequest, []string{"index", `"x"`}},
		{"history range", authed("GET", "/api/v1/history?range=2y", nil), 400, codeBadRequest, []string{"range", "1h", `"2y"`}},
		{"events limit 0", authed("GET", "/api/v1/events?limit=0", nil), 400, codeBadRequest, []string{"limit", "1 to 500", `"0"`}},
		{"events limit 9999", authed("GET", "/api/v1/events?limit=9999", nil), 400, codeBadRequest, []string{"limit", `"9999"`}},
		{"events limit abc", authed("GET", "/api/v1/events?limit=abc", nil), 400, codeBadRequest, []string{"limit", `"abc"`}},
		{"events before", authed("GET", "/api/v1/events?before=-3", nil), 400, codeBadRequest, []string{"before", `"-3"`}},
		{"shares limit", authed("GET", "/api/v1/shares?limit=501", nil), 400, codeBadRequest, []string{"limit", `"501"`}},
		{"token name empty", authed("POST", "/api/v1/tokens", `{"name":""}`), 400, codeBadRequest, []string{"name is required"}},
		{"token name long", authed("POST", "/api/v1/tokens", `{"name":"`+strings.Repeat("n", 65)+`"}`),
			400, codeBadRequest, []string{"64 characters"}},
		{"token body too large", authed("POST", "/api/v1/tokens", `{"name":"`+strings.Repeat("n", 300<<10)+`"}`),
			413, "too_large", []string{"larger than"}},
		{"login wrong type", restCall{method: "POST", path: "/api/v1/login", body: `{"password":1}`},
			400, codeBadRequest, []string{`"password"`, "string"}},
	}
}

// badConfigs are configuration documents import must refuse whole.
func badConfigs() []badInput {
	doc := func(change func(*ConfigDocument)) restCall {
		d := ConfigDocument{
			KilnConfig: 1,
			Pools: []PoolSetting{
				{URL: "stratum+tcp://new.example:3333", User: "carol", Password: "p", Enabled: true},
				{URL: "stratum+tcp://new2.example:3333", User: "carol", Enabled: true},
			},
			Fan:    &FanSetting{Mode: FanManual, Percent: 80},
			Boards: []BoardConfigEntry{{Index: 0, BoardTuning: BoardTuning{FrequencyMHz: 500, VoltageMV: 1250}}},
		}
		change(&d)
		return authed("PUT", "/api/v1/config", d)
	}
	return []badInput{
		{"config version 2", doc(func(d *ConfigDocument) { d.KilnConfig = 2 }), 400, codeBadRequest, []string{"kiln_config must be 1", "not 2"}},
		{"config version missing", authed("PUT", "/api/v1/config", `{"pools":[]}`), 400, codeBadRequest, []string{"kiln_config"}},
		{"config bad pool", doc(func(d *ConfigDocument) { d.Pools[1].URL = "ftp://x.example:21" }),
			400, codeBadRequest, []string{"pools[1]", "url", "ftp"}},
		{"config pool without url", doc(func(d *ConfigDocument) { d.Pools[0].URL = "" }),
			400, codeBadRequest, []string{"pools[0]", "url is required"}},
		{"config bad fan", doc(func(d *ConfigDocument) { d.Fan.Percent = 150 }), 400, codeBadRequest, []string{"fan", "percent"}},
		{"config bad board", doc(func(d *ConfigDocument) { d.Boards[0].FrequencyMHz = 2000 }),
			400, codeBadRequest, []string{"boards", "frequency_mhz"}},
		{"config unknown board", doc(func(d *ConfigDocument) { d.Boards[0].Index = 4 }),
			400, codeBadRequest, []string{"boards", "no tunable board 4"}},
		{"config board twice", doc(func(d *ConfigDocument) { d.Boards = append(d.Boards, d.Boards[0]) }),
			400, codeBadRequest, []string{"board 0 listed twice"}},
		{"config unknown field", authed("PUT", "/api/v1/config", `{"kiln_config":1,"pools":[],"wifi":{}}`),
			400, codeBadRequest, []string{`unknown field "wifi"`}},
	}
}

func TestRESTBadInput(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	pools, fan, board := h.ctl.snapshot()
	var cases []badInput
	cases = append(cases, badPoolInputs()...)
	cases = append(cases, badSettingInputs()...)
	cases = append(cases, badConfigs()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.do(t, tc.call)
			wantError(t, resp, body, tc.status, tc.code, tc.parts...)
			wantSecurityHeaders(t, resp)
		})
	}
	// Nothing refused reached the controller.
	p, f, b := h.ctl.snapshot()
	if diff := cmp.Diff(pools, p); diff != "" {
		t.Errorf("pools changed by refused requests (-before +after):\n%s", diff)
	}
	if f != fan || b != board {
		t.Errorf("fan %v / board %v changed by refused requests, want %v / %v", f, b, fan, board)
	}
	h.ctl.mu.Lock()
	sets := h.ctl.poolSets
	h.ctl.mu.Unlock()
	if sets != 0 {
		t.Errorf("SetPoolSettings called %d times by refused requests", sets)
	}
	// A charset parameter is still JSON.
	c := authed("POST", "/api/v1/tokens", `{"name":"ok"}`)
	c.ctype = "application/json; charset=utf-8"
	if resp, body := h.do(t, c); resp.StatusCode != http.StatusCreated {
		t.Errorf("JSON with a charset: %d %s", resp.StatusCode, body)
	}
}

// A body that is JSON but not an object gets a message an API user can
// act on, not the name of a Go type.
func TestRESTNonObjectBody(t *testing.T) {
	h := newRESTHarness(t, startLoggedIn)
	for _, body := range []string{`[]`, `"url"`, `42`} {
		resp, got := h.do(t, authed("POST", "/api/v1/pools", body))
		wantError(t, resp, got, http.StatusBadRequest, codeBadRequest, "object")
		if strings.Contains(string(got), "webui.") {
			t.Errorf("body %s: the message names a Go type: %s", body, got)
		}
	}
}
