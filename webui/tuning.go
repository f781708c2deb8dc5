package webui

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Bounds of the automatic fan target: below it fans run flat out for
// nothing; above it chips age fast.
const (
	minFanTargetC = 40
	maxFanTargetC = 90
)

// fans serves GET /api/v1/fans: always an array.
func (s *Server) fans(c *gin.Context) error {
	out := []Fan{}
	if s.control != nil {
		for _, f := range s.control.Fans() {
			f.Percent = finite(f.Percent)
			out = append(out, f)
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

// tuning serves GET /api/v1/tuning.
func (s *Server) tuning(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	return writeJSON(c, http.StatusOK, cleanTuning(s.control.Tuning()))
}

// cleanTuning makes Boards an array and every number finite.
func cleanTuning(t Tuning) Tuning {
	if t.Boards == nil {
		t.Boards = []BoardTuningStatus{}
	}
	t.Fan.TargetC, t.Fan.Percent = finite(t.Fan.TargetC), finite(t.Fan.Percent)
	return t
}

// checkFan validates a fan policy.
func checkFan(f FanSetting) error {
	switch f.Mode {
	case FanAuto:
		if f.TargetC < minFanTargetC || f.TargetC > maxFanTargetC {
			return errorf(http.StatusBadRequest, "target_c must be from %d to %d °C", minFanTargetC, maxFanTargetC)
		}
		if f.MinPercent < 0 || f.MaxPercent < 0 || f.MinPercent > 100 || f.MaxPercent > 100 ||
			(f.MaxPercent > 0 && f.MinPercent > f.MaxPercent) {
			return errorf(http.StatusBadRequest, "min_percent and max_percent must be from 0 to 100, min below max")
		}
	case FanManual:
		if f.Percent < 0 || f.Percent > 100 || f.Percent != f.Percent {
			return errorf(http.StatusBadRequest, "percent must be from 0 to 100")
		}
	case FanImmersion:
	default:
		return errorf(http.StatusBadRequest, "mode must be %q, %q or %q", FanAuto, FanManual, FanImmersion)
	}
	return nil
}

// setFan serves PUT /api/v1/tuning/fan.
func (s *Server) setFan(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	var f FanSetting
	if err := bindJSON(c, &f); err != nil {
		return err
	}
	if err := checkFan(f); err != nil {
		return err
	}
	if err := controlError(s.control.SetFan(c.Request.Context(), f)); err != nil {
		return err
	}
	return s.tuning(c)
}

// checkBoardTuning validates an operating point against the board's limits.
func checkBoardTuning(t Tuning, board int, bt BoardTuning) error {
	for _, b := range t.Boards {
		if b.Index != board {
			continue
		}
		l := b.Limits
		if bt.FrequencyMHz < l.FrequencyMinMHz || bt.FrequencyMHz > l.FrequencyMaxMHz {
			return errorf(http.StatusBadRequest, "frequency_mhz must be from %g to %g for %s",
				l.FrequencyMinMHz, l.FrequencyMaxMHz, b.Model)
		}
		if bt.VoltageMV < l.VoltageMinMV || bt.VoltageMV > l.VoltageMaxMV {
			return errorf(http.StatusBadRequest, "voltage_mv must be from %g to %g for %s",
				l.VoltageMinMV, l.VoltageMaxMV, b.Model)
		}
		return nil
	}
	return errorf(http.StatusNotFound, "no tunable board %d", board)
}

// setBoardTuning serves PUT /api/v1/tuning/boards/{index}.
func (s *Server) setBoardTuning(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	i, err := pathIndex(c, "index")
	if err != nil {
		return err
	}
	var bt BoardTuning
	if err := bindJSON(c, &bt); err != nil {
		return err
	}
	if err := checkBoardTuning(s.control.Tuning(), i, bt); err != nil {
		return err
	}
	if err := controlError(s.control.SetBoardTuning(c.Request.Context(), i, bt)); err != nil {
		return err
	}
	return s.tuning(c)
}

// system serves GET /api/v1/system.
func (s *Server) system(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	info := s.control.System()
	info.UptimeS = finite(info.UptimeS)
	return writeJSON(c, http.StatusOK, info)
}

// statusReply is the body of accepted asynchronous actions.
type statusReply struct {
	Status string `json:"status"`
}

// restart serves POST /api/v1/system/restart.
func (s *Server) restart(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	if err := controlError(s.control.RestartMining(c.Request.Context())); err != nil {
		return err
	}
	return writeJSON(c, http.StatusAccepted, statusReply{Status: "restarting"})
}

// reboot serves POST /api/v1/system/reboot.
func (s *Server) reboot(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	if !s.control.System().CanReboot {
		return errorf(http.StatusConflict, "this controller does not own the machine (not a Kiln firmware image); reboot it yourself")
	}
	if err := controlError(s.control.Reboot(c.Request.Context())); err != nil {
		return err
	}
	s.event(c.Request.Context(), "warn", "system", "reboot", "reboot requested through the API")
	return writeJSON(c, http.StatusAccepted, statusReply{Status: "rebooting"})
}
