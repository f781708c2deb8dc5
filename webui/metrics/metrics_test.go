package metrics

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kilnfw/kiln/webui"
)

// fakeSource is a Source with fixed answers; a non-nil panicOn names the
// method that panics instead.
type fakeSource struct {
	summary webui.Summary
	pools   []webui.Pool
	boards  []webui.Board
	fans    []webui.Fan
	panicOn string
}

func (f *fakeSource) Summary() webui.Summary {
	f.maybePanic("Summary")
	return f.summary
}

func (f *fakeSource) Pools() []webui.Pool {
	f.maybePanic("Pools")
	return f.pools
}

func (f *fakeSource) Boards() []webui.Board {
	f.maybePanic("Boards")
	return f.boards
}

func (f *fakeSource) Fans() []webui.Fan {
	f.maybePanic("Fans")
	return f.fans
}

func (f *fakeSource) maybePanic(method string) {
	if f.panicOn == method {
		panic("fake " + method + " failed")
	}
}

const (
	poolA = "stratum+tcp://pool-a.example:3333"
	poolB = "stratum+tcp://pool-b.example:3333"
)

// fullSource returns a source with every field set: two pools, one board
// of 2 chains × 3 chips, two fans.
func fullSource() *fakeSource {
	last := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	chain := func(idx int, temp float64) webui.Chain {
		ch := webui.Chain{Index: idx, Serial: fmt.Sprintf("S%d", idx), State: "mining",
			FrequencyMHz: 525, VoltageMV: 1250, TemperatureC: temp, HashrateHS: 3e12,
			HWErrors: uint64(10 + idx), CRCErrors: 2, Reinits: 1}
		for c := range 3 {
			ch.Chips = append(ch.Chips, webui.Chip{Index: c, Address: c * 2, HashrateHS: 1e12,
				HWErrors: uint64(idx*10 + c), TemperatureC: float64(60 + c), Responding: c != 2})
		}
		return ch
	}
	return &fakeSource{
		summary: webui.Summary{Accepted: 100, Rejected: 3, Stale: 2, HWErrors: 7,
			Hashrate5s: 5.5e12, Hashrate: 6e12, Hashrate15m: 6.1e12, ActivePool: poolA,
			Difficulty: 4096, BestShare: 1.5e9, UptimeS: 3600, Board: "sim", Units: 6, LastShare: &last},
		pools: []webui.Pool{
			{Priority: 0, URL: poolA, User: "w1", Enabled: true, Status: "active", Active: true,
				Difficulty: 4096, Accepted: 90, Stale: 2, Rejected: 3,
				RejectedByReason: map[string]uint64{"duplicate": 1, "low difficulty": 2}, LatencyMS: 45},
			{Priority: 1, URL: poolB, User: "w1", Enabled: true, Status: "standby", Difficulty: 1024, Accepted: 10},
		},
		boards: []webui.Board{{Index: 0, Kind: "sim", Model: "BM1366", HashrateHS: 6e12,
			Chains: []webui.Chain{chain(0, 61.5), chain(1, 0)}}},
		fans: []webui.Fan{{Index: 0, RPM: 4200, Percent: 55}, {Index: 1, RPM: 0, Percent: 140}},
	}
}

// scrape serves h on a real listener, GETs /metrics and parses the text.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, body)
	}
	return fams
}

// labelsOf renders a sample's labels as "a=x,b=y", sorted by name.
func labelsOf(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func valueOf(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// series maps the labels of each sample of family name to its value.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[name].GetMetric() {
		out[labelsOf(m)] = valueOf(m)
	}
	return out
}

func TestScrapeValues(t *testing.T) {
	fams := scrape(t, Handler(fullSource(), "v1.2.3"))
	tests := []struct {
		name string
		want map[string]float64
	}{
		{"kiln_build_info", map[string]float64{"version=v1.2.3": 1}},
		{"kiln_hashrate_hs", map[string]float64{"window=5s": 5.5e12, "window=1m": 6e12, "window=15m": 6.1e12}},
		{"kiln_shares_total", map[string]float64{"result=accepted": 100, "result=rejected": 3, "result=stale": 2}},
		{"kiln_hardware_errors_total", map[string]float64{"": 7}},
		{"kiln_best_share_difficulty", map[string]float64{"": 1.5e9}},
		{"kiln_share_difficulty", map[string]float64{"": 4096}},
		{"kiln_uptime_seconds", map[string]float64{"": 3600}},
		{"kiln_last_share_timestamp_seconds", map[string]float64{"": 1735787045}},
		{"kiln_pool_shares_total", map[string]float64{
			"pool=" + poolA + ",result=accepted": 90, "pool=" + poolA + ",result=rejected": 3,
			"pool=" + poolA + ",result=stale": 2, "pool=" + poolB + ",result=accepted": 10,
			"pool=" + poolB + ",result=rejected": 0, "pool=" + poolB + ",result=stale": 0}},
		{"kiln_pool_rejected_total", map[string]float64{
			"pool=" + poolA + ",reason=duplicate": 1, "pool=" + poolA + ",reason=low difficulty": 2}},
		{"kiln_pool_active", map[string]float64{"pool=" + poolA: 1, "pool=" + poolB: 0}},
		{"kiln_pool_latency_seconds", map[string]float64{"pool=" + poolA: 0.045}},
		{"kiln_pool_difficulty", map[string]float64{"pool=" + poolA: 4096, "pool=" + poolB: 1024}},
		{"kiln_board_info", map[string]float64{"board=0,kind=sim,model=BM1366": 1}},
		{"kiln_chain_temperature_celsius", map[string]float64{"board=0,chain=0": 61.5}},
		{"kiln_chain_hashrate_hs", map[string]float64{"board=0,chain=0": 3e12, "board=0,chain=1": 3e12}},
		{"kiln_chain_frequency_mhz", map[string]float64{"board=0,chain=0": 525, "board=0,chain=1": 525}},
		{"kiln_chain_voltage_volts", map[string]float64{"board=0,chain=0": 1.25, "board=0,chain=1": 1.25}},
		{"kiln_chain_hardware_errors_total", map[string]float64{"board=0,chain=0": 10, "board=0,chain=1": 11}},
		{"kiln_fan_rpm", map[string]float64{"fan=0": 4200, "fan=1": 0}},
		{"kiln_fan_duty_ratio", map[string]float64{"fan=0": 0.55, "fan=1": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, series(fams, tt.name)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestScrapeTypesAndHelp(t *testing.T) {
	fams := scrape(t, Handler(fullSource(), "v1"))
	kiln := 0
	for name, f := range fams {
		if !strings.HasPrefix(name, "kiln_") {
			continue
		}
		kiln++
		if len(f.GetHelp()) < 20 {
			t.Errorf("%s: HELP %q is too short to document it", name, f.GetHelp())
		}
		wantType := dto.MetricType_GAUGE
		if strings.HasSuffix(name, "_total") {
			wantType = dto.MetricType_COUNTER
		}
		if f.GetType() != wantType {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), wantType)
		}
	}
	if kiln != len(allDescs) {
		t.Errorf("scrape has %d kiln_ families, collector describes %d", kiln, len(allDescs))
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "go_info",
		"process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if len(fams[name].GetMetric()) == 0 {
			t.Errorf("standard metric %s missing", name)
		}
	}
}

func TestChipSeries(t *testing.T) {
	fams := scrape(t, Handler(fullSource(), "v1"))
	want := map[string]float64{}
	for ch := range 2 {
		for c := range 3 {
			want[fmt.Sprintf("board=0,chain=%d,chip=%d", ch, c)] = float64(ch*10 + c)
		}
	}
	if diff := cmp.Diff(want, series(fams, "kiln_chip_hardware_errors_total")); diff != "" {
		t.Errorf("kiln_chip_hardware_errors_total (-want +got):\n%s", diff)
	}
	for _, name := range []string{"kiln_chip_hashrate_hs", "kiln_chip_temperature_celsius", "kiln_chip_responding"} {
		if got := len(series(fams, name)); got != 6 {
			t.Errorf("%s: %d series, want 6 (2 chains × 3 chips)", name, got)
		}
	}
	if got := series(fams, "kiln_chip_responding")["board=0,chain=1,chip=2"]; got != 0 {
		t.Errorf("chip 2 responding = %v, want 0", got)
	}
}

func TestChipTemperatureOnlyWhenPositive(t *testing.T) {
	src := fullSource()
	src.boards[0].Chains[1].Chips[0].TemperatureC = 0
	src.boards[0].Chains[1].Chips[1].TemperatureC = -5
	temps := series(scrape(t, Handler(src, "v1")), "kiln_chip_temperature_celsius")
	if len(temps) != 4 {
		t.Errorf("chip temperatures: %d series, want 4: %v", len(temps), temps)
	}
	for _, key := range []string{"board=0,chain=1,chip=0", "board=0,chain=1,chip=1"} {
		if v, ok := temps[key]; ok {
			t.Errorf("chip %s exported with temperature %v, want absent", key, v)
		}
	}
}

func TestStateSets(t *testing.T) {
	src := fullSource()
	src.pools[1].Status = "flapping" // unknown to this package
	src.boards[0].Chains[1].State = "lost"
	fams := scrape(t, Handler(src, "v1"))

	up := series(fams, "kiln_pool_up")
	ones := map[string]float64{}
	for k, v := range up {
		if v == 1 {
			ones[k] = v
		} else if v != 0 {
			t.Errorf("kiln_pool_up{%s} = %v, want 0 or 1", k, v)
		}
	}
	wantOnes := map[string]float64{"pool=" + poolA + ",status=active": 1, "pool=" + poolB + ",status=flapping": 1}
	if diff := cmp.Diff(wantOnes, ones); diff != "" {
		t.Errorf("kiln_pool_up series at 1 (-want +got):\n%s", diff)
	}
	if len(up) != 2*len(poolStatuses)+1 {
		t.Errorf("kiln_pool_up: %d series, want %d", len(up), 2*len(poolStatuses)+1)
	}

	state := series(fams, "kiln_chain_state")
	if state["board=0,chain=1,state=lost"] != 1 || state["board=0,chain=1,state=mining"] != 0 ||
		state["board=0,chain=0,state=mining"] != 1 {
		t.Errorf("kiln_chain_state = %v", state)
	}
}

func TestNonFiniteValuesSkipped(t *testing.T) {
	src := fullSource()
	src.summary.Hashrate5s = math.NaN()
	src.summary.BestShare = math.Inf(1)
	src.pools[0].Difficulty = math.Inf(-1)
	src.boards[0].Chains[0].HashrateHS = math.NaN()
	src.fans[0].Percent = math.NaN()
	fams := scrape(t, Handler(src, "v1"))

	if diff := cmp.Diff(map[string]float64{"window=1m": 6e12, "window=15m": 6.1e12},
		series(fams, "kiln_hashrate_hs")); diff != "" {
		t.Errorf("kiln_hashrate_hs (-want +got):\n%s", diff)
	}
	if _, ok := fams["kiln_best_share_difficulty"]; ok {
		t.Error("kiln_best_share_difficulty exported for +Inf")
	}
	if diff := cmp.Diff(map[string]float64{"pool=" + poolB: 1024}, series(fams, "kiln_pool_difficulty")); diff != "" {
		t.Errorf("kiln_pool_difficulty (-want +got):\n%s", diff)
	}
	if _, ok := series(fams, "kiln_chain_hashrate_hs")["board=0,chain=0"]; ok {
		t.Error("NaN chain hashrate exported")
	}
	if _, ok := series(fams, "kiln_fan_duty_ratio")["fan=0"]; ok {
		t.Error("NaN fan duty exported")
	}
}

func TestDuplicatesDoNotFailScrape(t *testing.T) {
	src := fullSource()
	src.pools[1].URL = poolA // same pool, another user
	src.boards = append(src.boards, src.boards[0])
	fams := scrape(t, Handler(src, "v1"))

	want := map[string]float64{"pool=" + poolA: 4096, "pool=" + poolA + "#2": 1024}
	if diff := cmp.Diff(want, series(fams, "kiln_pool_difficulty")); diff != "" {
		t.Errorf("kiln_pool_difficulty (-want +got):\n%s", diff)
	}
	if got := len(series(fams, "kiln_chip_hashrate_hs")); got != 6 {
		t.Errorf("repeated board: %d chip series, want 6", got)
	}
}

func TestOddLabelValues(t *testing.T) {
	src := fullSource()
	src.pools[0].URL = "stratum+tcp://bad\xffhost:1"
	src.pools[0].RejectedByReason = map[string]uint64{"": 4, strings.Repeat("x", 1000): 1, "quote\"and\nnewline": 2}
	fams := scrape(t, Handler(src, "v1"))

	got := series(fams, "kiln_pool_rejected_total")
	pool := "pool=stratum+tcp://bad\uFFFDhost:1"
	want := map[string]float64{
		pool + ",reason=unknown":                             4,
		pool + ",reason=" + strings.Repeat("x", maxLabelLen): 1,
		pool + ",reason=quote\"and\nnewline":                 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kiln_pool_rejected_total (-want +got):\n%s", diff)
	}
}

func TestSourcePanicIsContained(t *testing.T) {
	for _, method := range []string{"Summary", "Pools", "Boards", "Fans"} {
		t.Run(method, func(t *testing.T) {
			src := fullSource()
			src.panicOn = method
			var logs bytes.Buffer
			h := New(Config{Source: src, Version: "v1", Log: slog.New(slog.NewTextHandler(&logs, nil))})
			fams := scrape(t, h)

			section := strings.ToLower(method)
			want := map[string]float64{"section=summary": 1, "section=pools": 1, "section=boards": 1, "section=fans": 1}
			want["section="+section] = 0
			if diff := cmp.Diff(want, series(fams, "kiln_source_up")); diff != "" {
				t.Errorf("kiln_source_up (-want +got):\n%s", diff)
			}
			if len(series(fams, "kiln_build_info")) != 1 || len(fams["go_goroutines"].GetMetric()) != 1 {
				t.Error("a panicking source took other metrics down")
			}
			if !strings.Contains(logs.String(), "fake "+method+" failed") {
				t.Errorf("panic not logged; log:\n%s", logs.String())
			}
		})
	}
}

func TestNilSource(t *testing.T) {
	fams := scrape(t, Handler(nil, ""))
	var kiln []string
	for name := range fams {
		if strings.HasPrefix(name, "kiln_") {
			kiln = append(kiln, name)
		}
	}
	if diff := cmp.Diff([]string{"kiln_build_info"}, kiln); diff != "" {
		t.Errorf("kiln families with no source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]float64{"version=unknown": 1}, series(fams, "kiln_build_info")); diff != "" {
		t.Errorf("kiln_build_info (-want +got):\n%s", diff)
	}
}

func TestConcurrentScrapes(t *testing.T) {
	srv := httptest.NewServer(Handler(fullSource(), "v1"))
	defer srv.Close()
	const scrapers = 4
	errs := make(chan error, scrapers)
	var wg sync.WaitGroup
	for range scrapers {
		wg.Go(func() {
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil && !bytes.Contains(body, []byte("kiln_chip_hashrate_hs")) {
				err = fmt.Errorf("status %d, scrape lacks chip metrics", resp.StatusCode)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// BenchmarkScrape measures one full scrape over HTTP of a machine with
// three chains of 126 chips (the size of a large hash board set).
func BenchmarkScrape(b *testing.B) {
	src := fullSource()
	src.boards = nil
	for board := range 3 {
		ch := webui.Chain{Index: 0, State: "mining", TemperatureC: 60, HashrateHS: 3e13}
		for c := range 126 {
			ch.Chips = append(ch.Chips, webui.Chip{Index: c, HashrateHS: 1e11, TemperatureC: 60, Responding: true})
		}
		src.boards = append(src.boards, webui.Board{Index: board, Chains: []webui.Chain{ch}})
	}
	srv := httptest.NewServer(Handler(src, "v1"))
	defer srv.Close()
	client := srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
