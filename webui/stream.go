package webui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/webui/openapi"
)

// streamEvery is how often GET /api/v1/stream sends the status; the
// first one goes at once.
const streamEvery = 2 * time.Second

// maxStreams bounds concurrent live streams; each holds a connection and
// builds a status every streamEvery.
const maxStreams = 32

// StreamStatus is the data of each "status" event of GET /api/v1/stream.
type StreamStatus struct {
	Summary Summary `json:"summary"`
	Pools   []Pool  `json:"pools"`
	Fans    []Fan   `json:"fans"`
	Boards  []Board `json:"boards"`
}

// snapshot gathers a StreamStatus, with the same cleaning as the separate
// endpoints.
func (s *Server) snapshot() StreamStatus {
	st := StreamStatus{Pools: []Pool{}, Fans: []Fan{}, Boards: []Board{}}
	if s.status != nil {
		st.Summary = cleanSummary(s.status.Summary())
		st.Pools = cleanPools(s.status.Pools())
		if bs, ok := s.status.(BoardStatus); ok {
			for _, b := range bs.Boards() {
				st.Boards = append(st.Boards, cleanBoard(b))
			}
		}
	}
	if s.control != nil {
		for _, f := range s.control.Fans() {
			f.Percent = finite(f.Percent)
			st.Fans = append(st.Fans, f)
		}
	}
	return st
}

// stream serves GET /api/v1/stream: server-sent events carrying the live
// status until the client goes away or the server stops.
func (s *Server) stream(c *gin.Context) error {
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		return errorf(http.StatusServiceUnavailable, "too many live streams; try again later")
	}
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	t := time.NewTicker(streamEvery)
	defer t.Stop()
	for {
		b, err := json.Marshal(s.snapshot())
		if err != nil {
			return fmt.Errorf("webui: encode stream: %w", err)
		}
		_ = rc.SetWriteDeadline(time.Now().Add(2 * streamEvery))
		if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
			return nil // the client went away
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-c.Request.Context().Done():
			return nil
		case <-s.quit:
			return nil
		case <-t.C:
		}
	}
}

// openAPI serves the OpenAPI document of this API.
func (s *Server) openAPI(c *gin.Context) error {
	c.Data(http.StatusOK, openapi.ContentType, openapi.Document())
	return nil
}

// serveMetrics serves the Prometheus metrics handler the controller gave.
func (s *Server) serveMetrics(c *gin.Context) error {
	s.metrics.ServeHTTP(c.Writer, c.Request)
	return nil
}
