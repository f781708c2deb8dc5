package webui

import (
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Status is what webui reads from the mining core. Both methods are called
// from request goroutines and must be safe for concurrent use.
type Status interface {
	Summary() Summary
	Pools() []Pool
}

// Summary is the JSON body of GET /api/v1/summary. The JSON names are a
// contract that outside tools rely on; do not rename them.
type Summary struct {
	Accepted    uint64     `json:"accepted"`
	Rejected    uint64     `json:"rejected"`
	Stale       uint64     `json:"stale"`
	HWErrors    uint64     `json:"hw_errors"`
	Hashrate5s  float64    `json:"hashrate_5s_hs"`
	Hashrate    float64    `json:"hashrate_hs"` // 1-minute average, H/s
	Hashrate15m float64    `json:"hashrate_15m_hs"`
	ActivePool  string     `json:"active_pool"` // URL of the pool being mined, "" if none
	Difficulty  float64    `json:"difficulty"`  // current share difficulty
	BestShare   float64    `json:"best_share"`
	UptimeS     float64    `json:"uptime_s"`
	Board       string     `json:"board"` // "cpu", "sim"...
	Units       int        `json:"units"` // hashing units (CPU threads, chips)
	LastShare   *time.Time `json:"last_share,omitempty"`
}

// Pool is one entry of the JSON array returned by GET /api/v1/pools, in
// priority order.
type Pool struct {
	Priority int    `json:"priority"`
	URL      string `json:"url"`
	User     string `json:"user"`
	Enabled  bool   `json:"enabled"`
	// Algo is the pool's proof-of-work algorithm ("sha256d", "scrypt").
	Algo   string `json:"algo,omitempty"`
	Status string `json:"status"` // "active", "standby", "connecting", "dead", "disabled"
	Active bool   `json:"active"`
	// Demo marks the embedded demo pool, mined when no pool is configured.
	Demo             bool              `json:"demo,omitempty"`
	Difficulty       float64           `json:"difficulty"`
	Accepted         uint64            `json:"accepted"`
	Stale            uint64            `json:"stale"`
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	LastShare        *time.Time        `json:"last_share,omitempty"`
	LatencyMS        float64           `json:"latency_ms"` // last submit round-trip
	VersionRolling   bool              `json:"version_rolling"`
	LastError        string            `json:"last_error,omitempty"`
}

// healthBody is the JSON body of GET /api/v1/health.
type healthBody struct {
	Status  string  `json:"status"`
	Version string  `json:"version"`
	UptimeS float64 `json:"uptime_s"` // since New, in seconds
}

// health answers liveness probes; it needs no login and does not touch the
// mining core, so it keeps answering while the core misbehaves.
func (s *Server) health(c *gin.Context) error {
	return writeJSON(c, http.StatusOK, healthBody{
		Status:  "ok",
		Version: s.version,
		UptimeS: s.now().Sub(s.started).Seconds(),
	})
}

// errNoStatus answers API calls when the controller wired no mining core.
var errNoStatus = &httpError{status: http.StatusServiceUnavailable, msg: "mining status not available"}

// summary serves GET /api/v1/summary.
func (s *Server) summary(c *gin.Context) error {
	if s.status == nil {
		return errNoStatus
	}
	return writeJSON(c, http.StatusOK, cleanSummary(s.status.Summary()))
}

// cleanSummary makes every number finite.
func cleanSummary(sum Summary) Summary {
	for _, f := range []*float64{&sum.Hashrate5s, &sum.Hashrate, &sum.Hashrate15m,
		&sum.Difficulty, &sum.BestShare, &sum.UptimeS} {
		*f = finite(*f)
	}
	return sum
}

// pools serves GET /api/v1/pools: always a JSON array, and every
// rejected_by_reason an object, so clients need no null checks.
func (s *Server) pools(c *gin.Context) error {
	return s.writePools(c, http.StatusOK)
}

// writePools answers with the live pool list.
func (s *Server) writePools(c *gin.Context, status int) error {
	if s.status == nil {
		return errNoStatus
	}
	return writeJSON(c, status, cleanPools(s.status.Pools()))
}

// cleanPools returns a copy of in with every number finite and every
// rejected_by_reason an object.
func cleanPools(in []Pool) []Pool {
	out := make([]Pool, len(in))
	for i, p := range in {
		p.Difficulty = finite(p.Difficulty)
		p.LatencyMS = finite(p.LatencyMS)
		if p.RejectedByReason == nil {
			p.RejectedByReason = map[string]uint64{}
		}
		out[i] = p
	}
	return out
}

// finite maps NaN and infinities, which JSON cannot carry, to 0, so one odd
// estimate does not take the whole endpoint down.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
