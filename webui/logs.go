package webui

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/store"
)

// Page sizes of the event and share logs.
const (
	defaultPage = 50
	maxPage     = 500
)

// errNoStore answers the routes that need the database when none is wired.
var errNoStore = &httpError{status: http.StatusServiceUnavailable, msg: "the database is not available"}

// EventView is one entry of GET /api/v1/events.
type EventView struct {
	ID      int64     `json:"id"`
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Source  string    `json:"source"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
}

// eventPage is the body of GET /api/v1/events.
type eventPage struct {
	Events     []EventView `json:"events"`
	NextBefore *int64      `json:"next_before"`
}

// ShareView is one entry of GET /api/v1/shares.
type ShareView struct {
	ID              int64     `json:"id"`
	Time            time.Time `json:"time"`
	Pool            string    `json:"pool"`
	Job             string    `json:"job"`
	Difficulty      float64   `json:"difficulty"`
	ShareDifficulty float64   `json:"share_difficulty"`
	Result          string    `json:"result"`
	Reason          string    `json:"reason,omitempty"`
}

// sharePage is the body of GET /api/v1/shares.
type sharePage struct {
	Shares     []ShareView `json:"shares"`
	NextBefore *int64      `json:"next_before"`
}

// pageArgs reads ?limit= and ?before=.
func pageArgs(c *gin.Context) (before int64, limit int, err error) {
	l, err := queryInt(c, "limit", defaultPage, 1, maxPage)
	if err != nil {
		return 0, 0, err
	}
	before, err = queryInt(c, "before", 0, 0, 1<<62)
	return before, int(l), err
}

// next is the cursor of the page after one that ended at lastID, nil when
// the page was not full (nothing older).
func next(n, limit int, lastID int64) *int64 {
	if n < limit || n == 0 {
		return nil
	}
	return &lastID
}

// readPage reads one page of a log, newest first, from ?limit= and
// ?before=, and converts its rows; next is the cursor of the page after
// it (nil at the end).
func readPage[R, V any](c *gin.Context, s *Server, read func(context.Context, int64, int) ([]R, error),
	view func(R) V, id func(R) int64) (out []V, nextBefore *int64, err error) {
	if s.store == nil {
		return nil, nil, errNoStore
	}
	before, limit, err := pageArgs(c)
	if err != nil {
		return nil, nil, err
	}
	rows, err := read(c.Request.Context(), before, limit)
	if err != nil {
		return nil, nil, err
	}
	out = make([]V, len(rows))
	for i, r := range rows {
		out[i] = view(r)
	}
	if len(rows) > 0 {
		nextBefore = next(len(rows), limit, id(rows[len(rows)-1]))
	}
	return out, nextBefore, nil
}

// events serves GET /api/v1/events, newest first.
func (s *Server) events(c *gin.Context) error {
	evs, nb, err := readPage(c, s, s.store.Events, func(e store.Event) EventView {
		return EventView{ID: e.ID, Time: e.Time, Level: e.Level, Source: e.Source, Kind: e.Kind, Message: e.Message}
	}, func(e store.Event) int64 { return e.ID })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, eventPage{Events: evs, NextBefore: nb})
}

// shares serves GET /api/v1/shares, newest first.
func (s *Server) shares(c *gin.Context) error {
	recs, nb, err := readPage(c, s, s.store.SharesBefore, func(r store.ShareRecord) ShareView {
		return ShareView{ID: r.ID, Time: r.Time, Pool: r.Pool, Job: r.Job,
			Difficulty: finite(r.Difficulty), ShareDifficulty: finite(r.ShareDifficulty),
			Result: r.Result, Reason: r.Reason}
	}, func(r store.ShareRecord) int64 { return r.ID })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, sharePage{Shares: recs, NextBefore: nb})
}

// historyRanges are the ranges GET /api/v1/history offers, each with the
// bucket width that keeps a chart near a hundred points or more.
var historyRanges = map[string]struct{ span, step time.Duration }{
	"1h":  {time.Hour, time.Minute},
	"6h":  {6 * time.Hour, 5 * time.Minute},
	"24h": {24 * time.Hour, 10 * time.Minute},
	"7d":  {7 * 24 * time.Hour, time.Hour},
}

// HistorySample is one point of GET /api/v1/history.
type HistorySample struct {
	Time         time.Time `json:"time"`
	HashrateHS   float64   `json:"hashrate_hs"`
	Accepted     uint64    `json:"accepted"`
	Rejected     uint64    `json:"rejected"`
	Stale        uint64    `json:"stale"`
	TemperatureC float64   `json:"temperature_c"`
}

// historyBody is the body of GET /api/v1/history.
type historyBody struct {
	Range   string          `json:"range"`
	StepS   int             `json:"step_s"`
	Samples []HistorySample `json:"samples"`
}

// history serves GET /api/v1/history?range=1h|6h|24h|7d.
func (s *Server) history(c *gin.Context) error {
	if s.store == nil {
		return errNoStore
	}
	name := c.DefaultQuery("range", "1h")
	r, ok := historyRanges[name]
	if !ok {
		return errorf(http.StatusBadRequest, "range must be one of 1h, 6h, 24h, 7d, not %q", name)
	}
	now := s.now()
	smp, err := s.store.History(c.Request.Context(), now.Add(-r.span), now, r.step)
	if err != nil {
		return err
	}
	out := historyBody{Range: name, StepS: int(r.step.Seconds()), Samples: make([]HistorySample, len(smp))}
	for i, p := range smp {
		out.Samples[i] = HistorySample{Time: p.Time, HashrateHS: finite(p.HashrateHS), Accepted: p.Accepted,
			Rejected: p.Rejected, Stale: p.Stale, TemperatureC: finite(p.TemperatureC)}
	}
	return writeJSON(c, http.StatusOK, out)
}
