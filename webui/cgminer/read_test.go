package cgminer

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/webui"
)

var update = flag.Bool("update", false, "rewrite the golden replies in testdata/")

// kind is the JSON type a field must have.
type kind int

const (
	str kind = iota
	num
	boolean
)

func (k kind) String() string { return [...]string{"string", "number", "bool"}[k] }

// fieldsOf builds a field spec: names of one kind.
func fieldsOf(k kind, names ...string) map[string]kind {
	m := map[string]kind{}
	for _, n := range names {
		m[n] = k
	}
	return m
}

func merge(specs ...map[string]kind) map[string]kind {
	m := map[string]kind{}
	for _, s := range specs {
		for k, v := range s {
			m[k] = v
		}
	}
	return m
}

var (
	summarySpec = fieldsOf(num, "Elapsed", "MHS av", "MHS 5s", "MHS 1m", "MHS 5m", "MHS 15m",
		"Found Blocks", "Getworks", "Accepted", "Rejected", "Hardware Errors", "Utility", "Discarded",
		"Stale", "Get Failures", "Local Work", "Remote Failures", "Network Blocks", "Total MH",
		"Work Utility", "Difficulty Accepted", "Difficulty Rejected", "Difficulty Stale", "Best Share",
		"Device Hardware%", "Device Rejected%", "Pool Rejected%", "Pool Stale%", "Last getwork")
	poolSpec = merge(
		fieldsOf(num, "POOL", "Priority", "Quota", "Getworks", "Accepted", "Rejected", "Works",
			"Discarded", "Stale", "Get Failures", "Remote Failures", "Last Share Time", "Diff1 Shares",
			"Difficulty Accepted", "Difficulty Rejected", "Difficulty Stale", "Last Share Difficulty",
			"Work Difficulty", "Stratum Difficulty", "Best Share", "Pool Rejected%", "Pool Stale%",
			"Bad Work", "Current Block Height", "Current Block Version"),
		fieldsOf(str, "URL", "Status", "Long Poll", "User", "Proxy Type", "Proxy", "Stratum URL"),
		fieldsOf(boolean, "Has Stratum", "Stratum Active", "Has Vmask", "Has GBT"))
	devSpec = merge(
		fieldsOf(num, "ASC", "ID", "Temperature", "MHS av", "MHS 5s", "MHS 1m", "MHS 5m", "MHS 15m",
			"Accepted", "Rejected", "Hardware Errors", "Utility", "Last Share Pool", "Last Share Time",
			"Total MH", "Diff1 Work", "Difficulty Accepted", "Difficulty Rejected",
			"Last Share Difficulty", "Last Valid Work", "Device Hardware%", "Device Rejected%",
			"Device Elapsed"),
		fieldsOf(str, "Name", "Enabled", "Status"))
	devDetailsSpec = merge(
		fieldsOf(num, "DEVDETAILS", "ID", "Chips", "Cores", "Frequency", "Voltage"),
		fieldsOf(str, "Name", "Driver", "Kernel", "Model", "Device Path"))
	versionSpec = fieldsOf(str, "CGMiner", "API", "Miner", "Type")
	configSpec  = merge(
		fieldsOf(num, "ASC Count", "PGA Count", "Pool Count", "Log Interval"),
		fieldsOf(str, "Strategy", "Device Code", "OS", "Hotplug"))
	coinSpec = merge(
		fieldsOf(num, "Current Block Time", "Network Difficulty"),
		fieldsOf(str, "Hash Method", "Current Block Hash"),
		fieldsOf(boolean, "LP"))
	statsIdentSpec = fieldsOf(str, "CGMiner", "Miner", "Type")
	statsSpec      = merge(
		fieldsOf(num, "STATS", "Elapsed", "Calls", "Wait", "Max", "Min", "GHS av", "miner_count",
			"fan_num", "fan1", "fan2", "temp_num", "temp1", "temp2", "temp2_1", "temp2_2",
			"freq_avg1", "freq_avg2", "total_freqavg", "total_acn", "total_rate", "temp_max",
			"Device Hardware%", "no_matching_work", "chain_acn1", "chain_acn2", "chain_hw1", "chain_hw2"),
		fieldsOf(str, "ID", "GHS 5s", "frequency", "chain_acs1", "chain_acs2", "chain_rate1",
			"chain_rate2", "miner_version"))
	checkSpec  = fieldsOf(str, "Exists", "Access")
	statusSpec = merge(fieldsOf(str, "STATUS", "Msg", "Description"), fieldsOf(num, "When", "Code"))
)

// readCase is one report command and the shape of its answer.
type readCase struct {
	cmd     string
	code    int
	section string
	single  bool
	specs   []map[string]kind // one per record
}

func readCases() []readCase {
	return []readCase{
		{"version", codeVersion, "VERSION", true, []map[string]kind{versionSpec}},
		{"config", codeConfig, "CONFIG", true, []map[string]kind{configSpec}},
		{"summary", codeSummary, "SUMMARY", true, []map[string]kind{summarySpec}},
		{"pools", codePools, "POOLS", false, []map[string]kind{poolSpec, poolSpec, poolSpec}},
		{"devs", codeDevs, "DEVS", false, []map[string]kind{devSpec, devSpec}},
		{"edevs", codeDevs, "DEVS", false, []map[string]kind{devSpec, devSpec}},
		{"devdetails", codeDevDetails, "DEVDETAILS", false, []map[string]kind{devDetailsSpec, devDetailsSpec}},
		{"stats", codeStats, "STATS", false, []map[string]kind{statsIdentSpec, statsSpec}},
		{"estats", codeStats, "STATS", false, []map[string]kind{statsIdentSpec, statsSpec}},
		{"coin", codeCoin, "COIN", true, []map[string]kind{coinSpec}},
		{"check|summary", codeCheck, "CHECK", true, []map[string]kind{checkSpec}},
	}
}

func jsonKind(v any) (kind, bool) {
	switch v.(type) {
	case string:
		return str, true
	case float64:
		return num, true
	case bool:
		return boolean, true
	}
	return 0, false
}

// checkRecord fails unless rec has exactly the fields of spec, each of its
// kind.
func checkRecord(t *testing.T, where string, rec map[string]any, spec map[string]kind) {
	t.Helper()
	for name, want := range spec {
		v, ok := rec[name]
		if !ok {
			t.Errorf("%s: field %q missing", where, name)
			continue
		}
		if got, ok := jsonKind(v); !ok || got != want {
			t.Errorf("%s: field %q = %#v, want a %v", where, name, v, want)
		}
	}
	for name := range rec {
		if _, ok := spec[name]; !ok {
			t.Errorf("%s: unexpected field %q", where, name)
		}
	}
}

func decodeReply(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("reply is not JSON: %v\n%s", err, s)
	}
	return m
}

// checkJSONReply checks the envelope and every record of a JSON reply.
func checkJSONReply(t *testing.T, m map[string]any, tc readCase) {
	t.Helper()
	if m["id"] != 1.0 {
		t.Errorf("id = %v, want 1", m["id"])
	}
	st, _ := m["STATUS"].([]any)
	if len(st) != 1 {
		t.Fatalf("STATUS = %v, want one record", m["STATUS"])
	}
	status, _ := st[0].(map[string]any)
	checkRecord(t, "STATUS", status, statusSpec)
	if status["STATUS"] != "S" || status["Code"] != float64(tc.code) || status["When"] != 1700000000.0 ||
		status["Description"] != "kiln 1.2.3" {
		t.Errorf("STATUS = %v, want S code %d at 1700000000 from kiln 1.2.3", status, tc.code)
	}
	recs, _ := m[tc.section].([]any)
	if len(recs) != len(tc.specs) {
		t.Fatalf("%s has %d records, want %d", tc.section, len(recs), len(tc.specs))
	}
	for i, r := range recs {
		rec, _ := r.(map[string]any)
		checkRecord(t, tc.section+"["+strconv.Itoa(i)+"]", rec, tc.specs[i])
	}
}

func TestReadCommandsJSON(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	for _, tc := range readCases() {
		t.Run(tc.cmd, func(t *testing.T) {
			cmd, param, _ := strings.Cut(tc.cmd, "|")
			req, _ := json.Marshal(map[string]string{"command": cmd, "parameter": param})
			out := query(t, addr, string(req))
			checkJSONReply(t, decodeReply(t, out), tc)
			golden(t, strings.ReplaceAll(tc.cmd, "|", "_")+".json", out)
		})
	}
}

// textField is one Name=value of a text reply; label marks a bare name
// (the section name of one-record sections).
type textField struct {
	name, value string
	label       bool
}

// splitUnescaped splits s at sep bytes not escaped by a backslash.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseText splits a text reply into records of fields.
func parseText(t *testing.T, s string) [][]textField {
	t.Helper()
	if !strings.HasSuffix(s, "|") {
		t.Fatalf("text reply does not end with '|': %q", s)
	}
	var recs [][]textField
	for _, r := range splitUnescaped(strings.TrimSuffix(s, "|"), '|') {
		var rec []textField
		for _, f := range splitUnescaped(r, ',') {
			kv := splitUnescaped(f, '=')
			switch len(kv) {
			case 1:
				rec = append(rec, textField{name: unescapeText(kv[0]), label: true})
			case 2:
				rec = append(rec, textField{name: unescapeText(kv[0]), value: unescapeText(kv[1])})
			default:
				t.Fatalf("field %q has an unescaped '='", f)
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

// checkTextRecord checks that rec carries the fields of spec with values
// that read as their kind.
func checkTextRecord(t *testing.T, where string, rec []textField, spec map[string]kind) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range rec {
		want, ok := spec[f.name]
		if !ok {
			t.Errorf("%s: unexpected field %q", where, f.name)
			continue
		}
		seen[f.name] = true
		switch _, err := strconv.ParseFloat(f.value, 64); {
		case want == num && err != nil:
			t.Errorf("%s: %s=%q is not a number", where, f.name, f.value)
		case want == boolean && f.value != "true" && f.value != "false":
			t.Errorf("%s: %s=%q is not a bool", where, f.name, f.value)
		}
	}
	for name := range spec {
		if !seen[name] {
			t.Errorf("%s: field %q missing", where, name)
		}
	}
}

func TestReadCommandsText(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	for _, tc := range readCases() {
		t.Run(tc.cmd, func(t *testing.T) {
			out := query(t, addr, tc.cmd)
			recs := parseText(t, out)
			if len(recs) != 1+len(tc.specs) {
				t.Fatalf("%d records, want STATUS and %d: %q", len(recs), len(tc.specs), out)
			}
			wantStatus := "STATUS=S,When=1700000000,Code=" + strconv.Itoa(tc.code) + ","
			if !strings.HasPrefix(out, wantStatus) || !strings.Contains(out, "Description=kiln 1.2.3|") {
				t.Errorf("reply starts %q, want %q…Description=kiln 1.2.3|", out[:min(len(out), 60)], wantStatus)
			}
			for i, rec := range recs[1:] {
				where := tc.section + "[" + strconv.Itoa(i) + "]"
				if tc.single {
					if !rec[0].label || rec[0].name != tc.section {
						t.Fatalf("%s starts with %+v, want the label %s", where, rec[0], tc.section)
					}
					rec = rec[1:]
				}
				checkTextRecord(t, where, rec, tc.specs[i])
			}
			golden(t, strings.ReplaceAll(tc.cmd, "|", "_")+".txt", out)
		})
	}
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("reply differs from %s (-want +got):\n%s", path, d)
	}
}

// TestReadValues pins the figures tools compute with.
func TestReadValues(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	sum := decodeReply(t, query(t, addr, `{"command":"summary"}`))["SUMMARY"].([]any)[0].(map[string]any)
	for name, want := range map[string]float64{
		"Elapsed": 3600, "MHS 5s": 612345.68, "MHS 1m": 600000, "MHS 15m": 598765.43,
		"Accepted": 90, "Rejected": 6, "Stale": 4, "Hardware Errors": 3, "Best Share": 123457,
		"Utility": 1.5, "Difficulty Accepted": 92160, "Pool Rejected%": 6, "Last getwork": 1700000000,
	} {
		if sum[name] != want {
			t.Errorf("SUMMARY %q = %v, want %v", name, sum[name], want)
		}
	}
	pools := decodeReply(t, query(t, addr, `{"command":"pools"}`))["POOLS"].([]any)
	var got []string
	for _, p := range pools {
		p := p.(map[string]any)
		got = append(got, p["Status"].(string)+"/"+strconv.FormatBool(p["Stratum Active"].(bool)))
	}
	if want := []string{"Alive/true", "Alive/false", "Disabled/false"}; !slices.Equal(got, want) {
		t.Errorf("pool Status/Stratum Active = %v, want %v", got, want)
	}
	devs := decodeReply(t, query(t, addr, `{"command":"devs"}`))["DEVS"].([]any)
	d1 := devs[1].(map[string]any)
	if d1["ID"] != 1.0 || d1["Status"] != "Initialising" || d1["Temperature"] != 58.0 || d1["MHS 5s"] != 300000.0 {
		t.Errorf("DEVS[1] = %v, want chain 1 initialising at 58 C, 300000 MH/s", d1)
	}
}

// TestDemoPoolAndCPU covers a CPU rig mining to the demo pool: one device
// carrying the totals, the demo pool as POOL 0.
func TestDemoPoolAndCPU(t *testing.T) {
	f := newFixture()
	f.settings = nil
	f.boards = []webui.Board{{Index: 0, Kind: "cpu", Model: "sha-ni", Chains: []webui.Chain{}}}
	addr := startServer(t, newServer(t, f, ""))
	pools := decodeReply(t, query(t, addr, `{"command":"pools"}`))["POOLS"].([]any)
	if len(pools) != 1 || pools[0].(map[string]any)["URL"] != f.demo.URL {
		t.Errorf("pools = %v, want the demo pool alone", pools)
	}
	devs := decodeReply(t, query(t, addr, `{"command":"devs"}`))["DEVS"].([]any)
	if len(devs) != 1 {
		t.Fatalf("devs = %v, want one device", devs)
	}
	d := devs[0].(map[string]any)
	if d["MHS 5s"] != 612345.68 || d["Accepted"] != 90.0 || d["Hardware Errors"] != 3.0 {
		t.Errorf("DEVS[0] = %v, want the session totals", d)
	}
	f.mu.Lock()
	f.boards = nil
	f.mu.Unlock()
	st := decodeReply(t, query(t, addr, `{"command":"devs"}`))["STATUS"].([]any)[0].(map[string]any)
	if st["STATUS"] != "E" || st["Code"] != float64(codeNoDevs) {
		t.Errorf("devs without boards: STATUS %v, want E code %d", st, codeNoDevs)
	}
}
