package webui

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// configVersion is the format version of ConfigDocument.
const configVersion = 1

// ConfigDocument is a whole machine's configuration as one JSON document:
// exported from one miner, imported into many, so a fleet is provisioned
// alike. Pool passwords are included.
type ConfigDocument struct {
	KilnConfig int                `json:"kiln_config"`
	Pools      []PoolSetting      `json:"pools"`
	Fan        *FanSetting        `json:"fan,omitempty"`
	Boards     []BoardConfigEntry `json:"boards,omitempty"`
}

// BoardConfigEntry is one board's operating point in a ConfigDocument.
type BoardConfigEntry struct {
	Index int `json:"index"`
	BoardTuning
}

// exportConfig serves GET /api/v1/config.
func (s *Server) exportConfig(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	pools, err := s.control.PoolSettings(c.Request.Context())
	if err != nil {
		return err
	}
	if pools == nil {
		pools = []PoolSetting{}
	}
	t := s.control.Tuning()
	doc := ConfigDocument{KilnConfig: configVersion, Pools: pools, Fan: &t.Fan}
	for _, b := range t.Boards {
		doc.Boards = append(doc.Boards, BoardConfigEntry{Index: b.Index, BoardTuning: b.BoardTuning})
	}
	c.Header("Content-Disposition", `attachment; filename="kiln-config.json"`)
	return writeJSON(c, http.StatusOK, doc)
}

// importConfig serves PUT /api/v1/config: everything is checked first,
// and nothing is applied unless all of it is valid.
func (s *Server) importConfig(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	var doc ConfigDocument
	if err := bindJSON(c, &doc); err != nil {
		return err
	}
	t := s.control.Tuning()
	if err := checkConfig(doc, t); err != nil {
		return err
	}
	ctx := c.Request.Context()
	err := s.updatePools(ctx, func([]PoolSetting) ([]PoolSetting, error) { return doc.Pools, nil })
	if err := controlError(err); err != nil {
		return err
	}
	if doc.Fan != nil {
		if err := controlError(s.control.SetFan(ctx, *doc.Fan)); err != nil {
			return err
		}
	}
	for _, b := range doc.Boards {
		if err := controlError(s.control.SetBoardTuning(ctx, b.Index, b.BoardTuning)); err != nil {
			return err
		}
	}
	s.event(ctx, "info", "config", "config_imported", fmt.Sprintf("configuration imported: %d pools, %d boards", len(doc.Pools), len(doc.Boards)))
	return writeJSON(c, http.StatusOK, statusReply{Status: "applied"})
}

// checkConfig validates a whole document against the machine.
func checkConfig(doc ConfigDocument, t Tuning) error {
	if doc.KilnConfig != configVersion {
		return errorf(http.StatusBadRequest, "kiln_config must be %d (this firmware's format), not %d", configVersion, doc.KilnConfig)
	}
	if len(doc.Pools) > maxPools {
		return errorf(http.StatusBadRequest, "at most %d pools", maxPools)
	}
	for i, p := range doc.Pools {
		if err := (poolEdit{URL: p.URL, User: p.User, Password: p.Password}).check(); err != nil {
			return errorf(http.StatusBadRequest, "pools[%d]: %s", i, err.(*httpError).msg)
		}
	}
	if doc.Fan != nil {
		if err := checkFan(*doc.Fan); err != nil {
			return errorf(http.StatusBadRequest, "fan: %s", err.(*httpError).msg)
		}
	}
	seen := map[int]bool{}
	for _, b := range doc.Boards {
		if seen[b.Index] {
			return errorf(http.StatusBadRequest, "boards: board %d listed twice", b.Index)
		}
		seen[b.Index] = true
		if err := checkBoardTuning(t, b.Index, b.BoardTuning); err != nil {
			return errorf(http.StatusBadRequest, "boards: %s", err.(*httpError).msg)
		}
	}
	return nil
}
