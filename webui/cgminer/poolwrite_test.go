package cgminer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/webui"
)

// short writes a pool list as host+ (enabled) or host- (disabled).
func short(ps []webui.PoolSetting) []string {
	out := []string{}
	for _, p := range ps {
		host := p.URL
		if u, err := url.Parse(p.URL); err == nil {
			host = u.Hostname()
		}
		mark := "-"
		if p.Enabled {
			mark = "+"
		}
		out = append(out, host+mark)
	}
	return out
}

// Fixture variants.
func onlyFirstEnabled(f *fakeBackend) { f.settings[1].Enabled = false }
func singlePool(f *fakeBackend)       { f.settings = f.settings[:1] }
func demoOnly(f *fakeBackend)         { f.settings = nil }

func TestPoolWrites(t *testing.T) {
	invalid := fmt.Errorf("pools: %w: bad url", webui.ErrInvalid)
	for _, tc := range []struct {
		name  string
		setup func(*fakeBackend)
		req   string
		sev   string
		code  int
		msg   string   // substring of Msg
		want  []string // saved pools afterwards; nil: unchanged
	}{
		{"switch to a standby pool", nil, "switchpool|1", "S", 27, "Switching to pool 1:'stratum+tcp://backup.example:3333'",
			[]string{"backup.example+", "pool.example+", "old.example-"}},
		{"switch enables a disabled pool", nil, "switchpool|2", "S", 27, "pool 2:",
			[]string{"old.example+", "pool.example+", "backup.example+"}},
		{"switch to pool 0 changes nothing", nil, "switchpool|0", "S", 27, "pool 0:", nil},
		{"switch without id", nil, "switchpool", "E", 25, "Missing pool id", nil},
		{"switch past the end", nil, "switchpool|3", "E", 26, "Invalid pool id 3 - range is 0 - 2", nil},
		{"switch to a negative id", nil, "switchpool|-1", "E", 26, "range is 0 - 2", nil},
		{"switch to a word", nil, "switchpool|one", "E", 26, "Invalid pool id one", nil},
		{"switch with no saved pools", demoOnly, "switchpool|0", "E", 8, "No pools", nil},

		{"enable a disabled pool", nil, "enablepool|2", "S", 47, "Enabling pool 2:'stratum+tcp://old.example:3333'",
			[]string{"pool.example+", "backup.example+", "old.example+"}},
		{"enable an enabled pool", nil, "enablepool|0", "I", 49, "Pool 0:'stratum+tcp://pool.example:3333' already enabled", nil},
		{"enable past the end", nil, "enablepool|9", "E", 26, "range is 0 - 2", nil},

		{"disable a standby pool", nil, "disablepool|1", "S", 48, "Disabling pool 1:",
			[]string{"pool.example+", "backup.example-", "old.example-"}},
		{"disable the active pool", nil, "disablepool|0", "S", 48, "Disabling pool 0:",
			[]string{"pool.example-", "backup.example+", "old.example-"}},
		{"disable a disabled pool", nil, "disablepool|2", "I", 50, "already disabled", nil},
		{"disable the last enabled pool", onlyFirstEnabled, "disablepool|0", "E", 51, "Cannot disable last active pool 0:", nil},

		{"remove keeps the others in priority order", nil, "removepool|0", "S", 68, "Removed pool 0:'stratum+tcp://pool.example:3333'",
			[]string{"backup.example+", "old.example-"}},
		{"remove the middle pool", nil, "removepool|1", "S", 68, "Removed pool 1:",
			[]string{"pool.example+", "old.example-"}},
		{"remove the last pool in the list", nil, "removepool|2", "S", 68, "Removed pool 2:",
			[]string{"pool.example+", "backup.example+"}},
		{"remove the only pool", singlePool, "removepool|0", "E", 66, "Cannot remove last pool 0:", nil},
		{"remove the active pool with no other enabled", onlyFirstEnabled, "removepool|0", "E", 67, "Cannot remove active pool 0:", nil},
		{"remove a disabled pool beside the only enabled one", onlyFirstEnabled, "removepool|1", "S", 68, "Removed pool 1:",
			[]string{"pool.example+", "old.example-"}},
		{"remove without id", nil, "removepool", "E", 25, "Missing pool id", nil},

		{"priority lists pools first", nil, "poolpriority|2,1", "S", 73, "Changed pool priorities",
			[]string{"old.example-", "backup.example+", "pool.example+"}},
		{"priority keeps the others in order", nil, "poolpriority|1", "S", 73, "Changed pool priorities",
			[]string{"backup.example+", "pool.example+", "old.example-"}},
		{"priority unchanged", nil, "poolpriority|0,1,2", "S", 73, "Changed pool priorities", nil},
		{"priority duplicate", nil, "poolpriority|1,0,1", "E", 74, "Duplicate pool specified 1", nil},
		{"priority bad id aborts", nil, "poolpriority|1,7", "E", 26, "Invalid pool id 7 - range is 0 - 2", nil},
		{"priority empty entry", nil, "poolpriority|1,,0", "E", 26, "Invalid pool id", nil},
		{"priority without ids", nil, "poolpriority", "E", 25, "Missing pool id", nil},
		{"priority with no saved pools", demoOnly, "poolpriority|0", "E", 8, "No pools", nil},

		{"add a pool", nil, "addpool|stratum+tcp://new.example:3333,carol,x", "S", 55,
			"Added pool 3: 'stratum+tcp://new.example:3333'",
			[]string{"pool.example+", "backup.example+", "old.example-", "new.example+"}},
		{"add replaces the demo pool", demoOnly, "addpool|stratum+tcp://new.example:3333,carol,x", "S", 55,
			"Added pool 0: ", []string{"new.example+"}},
		{"add without details", nil, "addpool", "E", 52, "Missing addpool details", nil},
		{"add with an empty password", nil, "addpool|stratum+tcp://new.example:3333,carol,", "E", 53, "Invalid addpool details", nil},
		{"add with two values", nil, "addpool|stratum+tcp://new.example:3333,carol", "E", 53, "Invalid addpool details", nil},
		{"add with four values", nil, "addpool|stratum+tcp://new.example:3333,carol,x,1", "E", 53, "Invalid addpool details", nil},
		{"add refused by the controller", func(f *fakeBackend) { f.setErr = invalid }, "addpool|bad,carol,x", "E", 53, "bad url", nil},

		{"save failure", func(f *fakeBackend) { f.setErr = errors.New("disk full") }, "enablepool|2", "E", 400, "disk full", nil},
		{"read failure", func(f *fakeBackend) { f.getErr = errors.New("database locked") }, "switchpool|1", "E", 400, "database locked", nil},
		{"save confirms", nil, "save", "S", 44, "saved", nil},
	} {
		for _, form := range []string{"text", "json"} {
			t.Run(tc.name+"/"+form, func(t *testing.T) {
				f := newFixture()
				if tc.setup != nil {
					tc.setup(f)
				}
				before := short(f.savedPools())
				addr := startServer(t, newServer(t, f, ""))
				st := writeStatus(t, addr, tc.req, form == "json")
				if st.sev != tc.sev || st.code != tc.code || !strings.Contains(st.msg, tc.msg) {
					t.Errorf("%s answered %s %d %q, want %s %d containing %q", tc.req, st.sev, st.code, st.msg, tc.sev, tc.code, tc.msg)
				}
				want, wantSets := tc.want, 1
				if want == nil {
					want, wantSets = before, 0
				}
				if d := cmp.Diff(want, short(f.savedPools())); d != "" {
					t.Errorf("saved pools after %s (-want +got):\n%s", tc.req, d)
				}
				f.mu.Lock()
				sets := f.sets
				f.mu.Unlock()
				if sets != wantSets {
					t.Errorf("SetPoolSettings called %d times, want %d", sets, wantSets)
				}
			})
		}
	}
}

// writeStatus sends cmd|param in the given form and returns the STATUS.
func writeStatus(t *testing.T, addr, req string, asJSON bool) status {
	t.Helper()
	if asJSON {
		cmd, param, has := strings.Cut(req, "|")
		body := map[string]string{"command": cmd}
		if has {
			body["parameter"] = param
		}
		b, _ := json.Marshal(body)
		st := statusOf(t, query(t, addr, string(b)))
		return status{sev: st["STATUS"].(string), code: int(st["Code"].(float64)), msg: st["Msg"].(string)}
	}
	out := query(t, addr, req)
	recs := parseText(t, out)
	if len(recs) != 1 {
		t.Fatalf("write command answered %d records, want STATUS alone: %q", len(recs), out)
	}
	var st status
	for _, f := range recs[0] {
		switch f.name {
		case "STATUS":
			st.sev = f.value
		case "Code":
			fmt.Sscan(f.value, &st.code)
		case "Msg":
			st.msg = f.value
		}
	}
	return st
}

func TestAddPoolEscapes(t *testing.T) {
	f := newFixture()
	addr := startServer(t, newServer(t, f, ""))
	out := query(t, addr, `{"command":"addpool","parameter":"stratum+tcp://new.example:3333,us\\,er,p\\\\w\\,d"}`)
	wantStatus(t, out, "S", codeAddPool)
	got := f.savedPools()[3]
	want := webui.PoolSetting{URL: "stratum+tcp://new.example:3333", User: "us,er", Password: `p\w,d`, Enabled: true}
	if got != want {
		t.Errorf("added %+v, want %+v", got, want)
	}
}

// TestNumericParameter: JSON clients send pool ids as numbers.
func TestNumericParameter(t *testing.T) {
	f := newFixture()
	addr := startServer(t, newServer(t, f, ""))
	wantStatus(t, query(t, addr, `{"command":"switchpool","parameter":1}`), "S", codeSwitchPool)
	if got := short(f.savedPools())[0]; got != "backup.example+" {
		t.Errorf("pool 0 after switchpool 1 = %s, want backup.example+", got)
	}
	wantStatus(t, query(t, addr, `{"command":"switchpool","parameter":1.5}`), "E", codeInvalidPoolID)
}
