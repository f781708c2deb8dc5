// Package metrics serves the controller's state in the Prometheus text
// format, for GET /metrics.
//
// Nothing runs in the background: every scrape reads the mining core
// through Source and turns what it returns into samples, so the numbers are
// as fresh as the core's own and an idle controller does no metrics work.
// The handler uses a registry of its own (never the global one), holding
// the Kiln collector plus the standard Go runtime and process collectors.
//
// Every metric is prefixed kiln_. Pool series are labelled with the pool
// URL as the core reports it (already without a password); board, chain
// and chip series with their indexes. Values that are not finite (NaN,
// ±Inf) are left out of the scrape rather than reported.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kilnfw/kiln/webui"
)

// maxScrapesInFlight bounds concurrent scrapes, so a misconfigured
// Prometheus (or several) cannot keep a small control board busy; extra
// scrapes get 503.
const maxScrapesInFlight = 4

// Source is what the metrics read at scrape time. Every method is called
// from the scrape goroutine and must be safe for concurrent use; a nil
// slice is read as empty.
type Source interface {
	Summary() webui.Summary
	Pools() []webui.Pool
	Boards() []webui.Board
	Fans() []webui.Fan
}

// Config is what New needs.
type Config struct {
	// Source is read on every scrape; nil exports only kiln_build_info
	// and the Go and process metrics.
	Source Source
	// Version is the firmware version, exported as kiln_build_info.
	Version string
	// Log receives scrape failures (a Source that panicked, a value
	// that could not be encoded); nil discards them.
	Log *slog.Logger
}

// Handler returns the /metrics handler for src, discarding scrape errors.
// It is New for callers that need no logging.
func Handler(src Source, version string) http.Handler {
	return New(Config{Source: src, Version: version})
}

// New returns the /metrics handler: a fresh registry holding the Kiln
// collector and the Go and process collectors, served by promhttp. A
// failure in one part of a scrape is logged and the rest is still served,
// so one faulty board does not blank the whole dashboard.
func New(cfg Config) http.Handler {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	// The three collectors have disjoint, fixed descriptors, so
	// registering them on a fresh registry cannot fail.
	reg.MustRegister(
		newCollector(cfg.Source, cfg.Version, log),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log: log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapesInFlight,
	})
}

// promLogger adapts slog to the logger promhttp reports gather and encode
// errors to.
type promLogger struct {
	log *slog.Logger
}

// Println logs one promhttp error at warning level.
func (l promLogger) Println(v ...any) {
	l.log.Warn("metrics scrape failed", "err", fmt.Sprint(v...))
}
