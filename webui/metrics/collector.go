package metrics

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kilnfw/kiln/webui"
)

// maxLabelLen caps label values that come from outside the controller (a
// pool's reject reason), so one odd answer cannot bloat every scrape.
const maxLabelLen = 200

// collector is the Kiln prometheus.Collector: it reads Source on every
// Collect and keeps no state between scrapes.
type collector struct {
	src     Source
	version string
	log     *slog.Logger
}

func newCollector(src Source, version string, log *slog.Logger) *collector {
	if version == "" {
		version = "unknown"
	}
	return &collector{src: src, version: labelValue(version), log: log}
}

// Describe sends every descriptor the collector may use.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect reads the source once and sends its samples. Each part (summary,
// pools, boards, fans) is read on its own: a part whose read panics is
// logged and reported by kiln_source_up, and the other parts still go out.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	e := &emitter{ch: ch, log: c.log, seen: make(map[seriesKey]struct{})}
	e.gauge(descBuildInfo, 1, c.version)
	if c.src == nil {
		return
	}
	c.section(e, "summary", func() { collectSummary(e, c.src.Summary()) })
	c.section(e, "pools", func() { collectPools(e, c.src.Pools()) })
	c.section(e, "boards", func() { collectBoards(e, c.src.Boards()) })
	c.section(e, "fans", func() { collectFans(e, c.src.Fans()) })
}

// section runs read, turning a panic into a log line and a 0 for
// kiln_source_up{section=name}.
func (c *collector) section(e *emitter, name string, read func()) {
	ok := false
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("metrics source panicked", "section", name, "panic", fmt.Sprint(r))
		}
		e.gauge(descSourceUp, boolValue(ok), name)
	}()
	read()
	ok = true
}

func collectSummary(e *emitter, s webui.Summary) {
	e.gauge(descHashrate, s.Hashrate5s, "5s")
	e.gauge(descHashrate, s.Hashrate, "1m")
	e.gauge(descHashrate, s.Hashrate15m, "15m")
	e.counter(descShares, float64(s.Accepted), "accepted")
	e.counter(descShares, float64(s.Rejected), "rejected")
	e.counter(descShares, float64(s.Stale), "stale")
	e.counter(descHWErrors, float64(s.HWErrors))
	e.gauge(descBestShare, s.BestShare)
	e.gauge(descShareDifficulty, s.Difficulty)
	e.gauge(descUptime, s.UptimeS)
	if s.LastShare != nil && !s.LastShare.IsZero() {
		e.gauge(descLastShare, float64(s.LastShare.UnixNano())/1e9)
	}
}

func collectPools(e *emitter, pools []webui.Pool) {
	names := poolLabels(pools)
	for i, p := range pools {
		name := names[i]
		e.counter(descPoolShares, float64(p.Accepted), name, "accepted")
		e.counter(descPoolShares, float64(p.Rejected), name, "rejected")
		e.counter(descPoolShares, float64(p.Stale), name, "stale")
		for reason, n := range p.RejectedByReason {
			if reason == "" {
				reason = "unknown"
			}
			e.counter(descPoolRejected, float64(n), name, labelValue(reason))
		}
		stateSet(e, descPoolUp, poolStatuses, p.Status, name)
		e.gauge(descPoolActive, boolValue(p.Active), name)
		if p.LatencyMS > 0 {
			e.gauge(descPoolLatency, p.LatencyMS/1000, name)
		}
		e.gauge(descPoolDifficulty, p.Difficulty, name)
	}
}

// poolLabels returns the pool label of each pool: its URL, with "#2",
// "#3"… added to the second and later pools that share a URL (the same
// pool with another user), so no two pools collide in one series.
func poolLabels(pools []webui.Pool) []string {
	out := make([]string, len(pools))
	count := make(map[string]int, len(pools))
	for i, p := range pools {
		name := labelValue(p.URL)
		if name == "" {
			name = "unknown"
		}
		count[name]++
		if n := count[name]; n > 1 {
			name += "#" + strconv.Itoa(n)
		}
		out[i] = name
	}
	return out
}

func collectBoards(e *emitter, boards []webui.Board) {
	for _, b := range boards {
		board := strconv.Itoa(b.Index)
		e.gauge(descBoardInfo, 1, board, labelValue(b.Kind), labelValue(b.Model))
		e.gauge(descBoardHashrate, b.HashrateHS, board)
		for _, ch := range b.Chains {
			collectChain(e, board, ch)
		}
	}
}

func collectChain(e *emitter, board string, ch webui.Chain) {
	chain := strconv.Itoa(ch.Index)
	stateSet(e, descChainState, chainStates, ch.State, board, chain)
	if ch.TemperatureC > 0 {
		e.gauge(descChainTemp, ch.TemperatureC, board, chain)
	}
	e.gauge(descChainHashrate, ch.HashrateHS, board, chain)
	e.gauge(descChainFreq, ch.FrequencyMHz, board, chain)
	e.gauge(descChainVoltage, ch.VoltageMV/1000, board, chain)
	e.counter(descChainHWErrors, float64(ch.HWErrors), board, chain)
	e.counter(descChainCRC, float64(ch.CRCErrors), board, chain)
	if ch.Reinits >= 0 {
		e.counter(descChainReinits, float64(ch.Reinits), board, chain)
	}
	for _, cp := range ch.Chips {
		chip := strconv.Itoa(cp.Index)
		e.counter(descChipHWErrors, float64(cp.HWErrors), board, chain, chip)
		e.gauge(descChipHashrate, cp.HashrateHS, board, chain, chip)
		if cp.TemperatureC > 0 {
			e.gauge(descChipTemp, cp.TemperatureC, board, chain, chip)
		}
		e.gauge(descChipResponding, boolValue(cp.Responding), board, chain, chip)
	}
}

func collectFans(e *emitter, fans []webui.Fan) {
	for _, f := range fans {
		fan := strconv.Itoa(f.Index)
		if f.RPM >= 0 {
			e.gauge(descFanRPM, float64(f.RPM), fan)
		}
		e.gauge(descFanDuty, min(max(f.Percent/100, 0), 1), fan)
	}
}

// stateSet exports one series per known state, 1 for current and 0 for
// the others; an unknown current state gets a series of its own.
func stateSet(e *emitter, d *prometheus.Desc, known []string, current string, labels ...string) {
	current = labelValue(current)
	found := false
	for _, s := range known {
		found = found || s == current
		e.gauge(d, boolValue(s == current), append(labels, s)...)
	}
	if !found && current != "" {
		e.gauge(d, 1, append(labels, current)...)
	}
}

// seriesKey identifies one series of one scrape.
type seriesKey struct {
	desc   *prometheus.Desc
	labels string
}

// emitter sends samples for one scrape. It drops non-finite values and
// repeated series (two chains reported with the same index), either of
// which would otherwise make the registry fail the scrape.
type emitter struct {
	ch   chan<- prometheus.Metric
	log  *slog.Logger
	seen map[seriesKey]struct{}
}

func (e *emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.GaugeValue, v, labels)
}

func (e *emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.CounterValue, v, labels)
}

func (e *emitter) send(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	key := seriesKey{desc: d, labels: strings.Join(labels, "\xff")}
	if _, dup := e.seen[key]; dup {
		e.log.Debug("metrics: duplicate series dropped", "metric", d.String(), "labels", labels)
		return
	}
	e.seen[key] = struct{}{}
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		e.log.Warn("metrics: sample dropped", "metric", d.String(), "err", err)
		return
	}
	e.ch <- m
}

// labelValue makes s a valid label value: valid UTF-8, at most maxLabelLen
// bytes, cut on a rune boundary.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxLabelLen {
		return s
	}
	cut := maxLabelLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
