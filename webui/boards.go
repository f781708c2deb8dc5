package webui

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Board is one entry of GET /api/v1/boards: a hash board (real or
// simulated) or the CPU backend of a test rig. JSON names are a contract.
type Board struct {
	Index int `json:"index"`
	// Kind is the board profile ("sim", "bitaxe-gamma", "usb", "cpu", …).
	Kind string `json:"kind"`
	// Model is the chip model ("BM1366") or, for the CPU, its kernel.
	Model      string  `json:"model"`
	HashrateHS float64 `json:"hashrate_hs"`
	Chains     []Chain `json:"chains"`
}

// Chain is one chain of chips on a board.
type Chain struct {
	Index        int     `json:"index"`
	Serial       string  `json:"serial"`
	State        string  `json:"state"` // "initializing", "mining", "lost"
	FrequencyMHz float64 `json:"frequency_mhz"`
	VoltageMV    float64 `json:"voltage_mv"`
	TemperatureC float64 `json:"temperature_c"`
	// ChipDifficulty is the ticket difficulty nonces are reported at.
	ChipDifficulty float64 `json:"chip_difficulty"`
	HashrateHS     float64 `json:"hashrate_hs"`
	CRCErrors      uint64  `json:"crc_errors"`
	StaleNonces    uint64  `json:"stale_nonces"`
	HWErrors       uint64  `json:"hw_errors"`
	Reinits        int     `json:"reinits"`
	LastError      string  `json:"last_error,omitempty"`
	Chips          []Chip  `json:"chips"`
}

// Chip is one chip on a chain.
type Chip struct {
	Index        int     `json:"index"`
	Address      int     `json:"address"`
	FrequencyMHz float64 `json:"frequency_mhz"`
	VoltageMV    float64 `json:"voltage_mv"`
	TemperatureC float64 `json:"temperature_c"`
	HashrateHS   float64 `json:"hashrate_hs"`
	// Nonces counts nonces that verified on the host.
	Nonces      uint64     `json:"nonces"`
	HWErrors    uint64     `json:"hw_errors"`
	HWErrorRate float64    `json:"hw_error_rate"`
	Responding  bool       `json:"responding"`
	LastNonce   *time.Time `json:"last_nonce,omitempty"`
}

// BoardStatus is the optional part of Status that lists boards; a Status
// without it serves an empty list.
type BoardStatus interface {
	Boards() []Board
}

// boards serves GET /api/v1/boards: always an array, every chains and chips
// list an array too.
func (s *Server) boards(c *gin.Context) error {
	if s.status == nil {
		return errNoStatus
	}
	out := []Board{}
	if bs, ok := s.status.(BoardStatus); ok {
		for _, b := range bs.Boards() {
			out = append(out, cleanBoard(b))
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

func cleanBoard(b Board) Board {
	b.HashrateHS = finite(b.HashrateHS)
	chains := make([]Chain, len(b.Chains))
	for i, ch := range b.Chains {
		for _, f := range []*float64{&ch.FrequencyMHz, &ch.VoltageMV, &ch.TemperatureC, &ch.ChipDifficulty, &ch.HashrateHS} {
			*f = finite(*f)
		}
		chips := make([]Chip, len(ch.Chips))
		for j, cp := range ch.Chips {
			for _, f := range []*float64{&cp.FrequencyMHz, &cp.VoltageMV, &cp.TemperatureC, &cp.HashrateHS, &cp.HWErrorRate} {
				*f = finite(*f)
			}
			chips[j] = cp
		}
		ch.Chips = chips
		chains[i] = ch
	}
	b.Chains = chains
	return b
}
