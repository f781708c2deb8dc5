package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardFile = "grafana-dashboard.json"

// dashboard is the part of the Grafana dashboard model the tests check.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashPanel `json:"panels"`
}

type dashPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatalf("read %s: %v", dashboardFile, err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	return d, raw
}

// allExprs returns every "expr" string anywhere in the JSON document, plus
// the queries of the template variables.
func allExprs(t *testing.T, raw []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 64 {
			t.Fatalf("%s nests deeper than 64 levels", dashboardFile)
		}
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(child, depth+1)
			}
		case []any:
			for _, child := range v {
				walk(child, depth+1)
			}
		}
	}
	walk(doc, 0)
	return out
}

var (
	promStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promNumbers  = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right",
		"bool", "offset", "and", "or", "unless", "label_values"}
)

// metricNames returns the metric names a PromQL expression (or a Grafana
// label_values query) selects: identifiers left once strings, matchers,
// ranges, grouping clauses, numbers, function calls and keywords are gone.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	s = promNumbers.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promIdent.FindAllStringSubmatch(s, -1) {
		if m[1] != "" || slices.Contains(promKeywords, m[0]) {
			continue // a function call or a keyword
		}
		names = append(names, m[0])
	}
	return names
}

func TestMetricNamesParser(t *testing.T) {
	got := metricNames(`sum by (instance, pool) (rate(kiln_pool_rejected_total{pool=~"a{b}", reason!="x y"}[$__rate_interval])) ` +
		`/ on (instance) group_left (version) kiln_build_info * 1e-9 > bool 2`)
	want := []string{"kiln_pool_rejected_total", "kiln_build_info"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
	if got := metricNames("label_values(kiln_build_info, instance)"); !slices.Equal(got, []string{"kiln_build_info", "instance"}) {
		t.Errorf("metricNames(label_values) = %q", got)
	}
}

// TestDashboardReferencesExportedMetrics scrapes a fully populated fake and
// checks that every metric the dashboard queries is in the scrape, and that
// the panels the dashboard promises are there.
func TestDashboardReferencesExportedMetrics(t *testing.T) {
	d, raw := loadDashboard(t)
	fams := scrape(t, Handler(fullSource(), "v1"))
	exprs := allExprs(t, raw)
	if len(exprs) < 10 {
		t.Fatalf("dashboard has %d queries, want at least 10", len(exprs))
	}
	used := map[string]bool{}
	for _, expr := range exprs {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("query %q selects no metric", expr)
		}
		for _, name := range names {
			if strings.HasPrefix(expr, "label_values(") && name == "instance" {
				continue // the label being listed
			}
			if _, ok := fams[name]; !ok {
				t.Errorf("query %q uses %s, which the scrape does not have", expr, name)
			}
			used[name] = true
		}
	}
	for _, name := range []string{"kiln_hashrate_hs", "kiln_shares_total", "kiln_pool_rejected_total",
		"kiln_chain_temperature_celsius", "kiln_fan_rpm", "kiln_chip_hardware_errors_total",
		"kiln_pool_up", "kiln_pool_latency_seconds", "kiln_build_info"} {
		if !used[name] {
			t.Errorf("dashboard has no panel for %s", name)
		}
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q, uid %q: both must be set", d.Title, d.UID)
	}
}

func TestDashboardVariablesAndDatasources(t *testing.T) {
	d, _ := loadDashboard(t)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["DS_PROMETHEUS"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("template variables = %v, want DS_PROMETHEUS (datasource) and instance (query)", vars)
	}
	const ds = "${DS_PROMETHEUS}"
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != ds {
			t.Errorf("panel %q: datasource is not %s", p.Title, ds)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != ds {
				t.Errorf("panel %q: a query's datasource is not %s", p.Title, ds)
			}
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q: query %q ignores the instance variable", p.Title, tg.Expr)
			}
		}
	}
}

// TestDashboardLayout checks that panels fit the 24-column grid and do not
// overlap, which Grafana would otherwise rearrange on load.
func TestDashboardLayout(t *testing.T) {
	d, _ := loadDashboard(t)
	type cell struct{ x, y int }
	owner := map[cell]string{}
	for _, p := range d.Panels {
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 || g.H > 50 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, g)
			continue
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if prev, taken := owner[cell{x, y}]; taken {
					t.Errorf("panel %q overlaps %q at (%d,%d)", p.Title, prev, x, y)
					return
				}
				owner[cell{x, y}] = p.Title
			}
		}
	}
	if len(d.Panels) < 12 {
		t.Errorf("dashboard has %d panels, want at least 12", len(d.Panels))
	}
}
