package webui

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// ProxyWorker is one entry of GET /api/v1/proxy/workers: a downstream
// worker of the farm proxy, live figures merged with its lifetime
// statistics. JSON names are a contract.
type ProxyWorker struct {
	Worker string `json:"worker"`
	// Connections is how many connections use the name now.
	Connections int `json:"connections"`
	// Difficulty is the share difficulty its connections mine at now.
	Difficulty float64 `json:"difficulty"`
	// HashrateHS is estimated from its accepted shares over the last
	// minutes.
	HashrateHS       float64           `json:"hashrate_hs"`
	Accepted         uint64            `json:"accepted"`
	Rejected         uint64            `json:"rejected"`
	RejectedByReason map[string]uint64 `json:"rejected_by_reason"`
	Stale            uint64            `json:"stale"`
	LastShare        *time.Time        `json:"last_share,omitempty"`
	FirstSeen        *time.Time        `json:"first_seen,omitempty"`
}

// ProxyStatus is the optional part of Status that lists the proxy's
// workers; without it the endpoint answers 404, the proxy not being on.
type ProxyStatus interface {
	ProxyWorkers() []ProxyWorker
}

var errNoProxy = &httpError{status: http.StatusNotFound, msg: "the stratum proxy is not enabled (controller proxy, or --stratum-listen)"}

// proxyWorkers serves GET /api/v1/proxy/workers: always an array.
func (s *Server) proxyWorkers(c *gin.Context) error {
	ps, ok := s.status.(ProxyStatus)
	if !ok || s.status == nil {
		return errNoProxy
	}
	in := ps.ProxyWorkers()
	if in == nil {
		return errNoProxy
	}
	out := make([]ProxyWorker, len(in))
	for i, w := range in {
		w.Difficulty, w.HashrateHS = finite(w.Difficulty), finite(w.HashrateHS)
		if w.RejectedByReason == nil {
			w.RejectedByReason = map[string]uint64{}
		}
		out[i] = w
	}
	return writeJSON(c, http.StatusOK, out)
}
