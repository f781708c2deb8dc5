package webui

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Firmware upload limits: an image is a root filesystem of a few tens of
// MiB; a slow LAN link gets minutes to send it.
const (
	maxFirmwareBytes = 512 << 20
	firmwareUpload   = 10 * time.Minute
)

// FirmwareStatus is the body of GET /api/v1/firmware.
type FirmwareStatus struct {
	// Version is the running firmware.
	Version string `json:"version"`
	// Board is the name images must list to be accepted here.
	Board string `json:"board"`
	// Enabled is false where no slots or no trusted key are configured;
	// Reason then says why.
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason,omitempty"`
	// Active is the confirmed slot, Booted the one running, Pending a
	// slot written and waiting for its trial boot; Trial reports a trial
	// boot not yet confirmed; RolledBack the slot last abandoned.
	Active     string `json:"active,omitempty"`
	Booted     string `json:"booted,omitempty"`
	Pending    string `json:"pending,omitempty"`
	Trial      bool   `json:"trial"`
	RolledBack string `json:"rolled_back,omitempty"`
	// Slots holds the version written in each slot.
	Slots map[string]string `json:"slots,omitempty"`
}

// FirmwareInstall is the answer to an accepted upload.
type FirmwareInstall struct {
	Version        string `json:"version"`
	Slot           string `json:"slot"`
	RebootRequired bool   `json:"reboot_required"`
}

// Firmware is the optional part of Control that installs signed images.
// InstallFirmware returns an error wrapping ErrInvalid for an image it
// refuses (unsigned, tampered, wrong board, truncated, older), having
// changed nothing.
type Firmware interface {
	FirmwareStatus() FirmwareStatus
	InstallFirmware(ctx context.Context, r io.Reader, allowDowngrade bool) (FirmwareInstall, error)
}

func (s *Server) firmware() (Firmware, error) {
	if f, ok := s.control.(Firmware); ok && s.control != nil {
		return f, nil
	}
	return nil, errorf(http.StatusNotFound, "firmware upgrades are not available on this controller")
}

// firmwareStatus serves GET /api/v1/firmware.
func (s *Server) firmwareStatus(c *gin.Context) error {
	f, err := s.firmware()
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, f.FirmwareStatus())
}

// uploadFirmware serves POST /api/v1/firmware: the image is the raw body
// (application/octet-stream); ?allow_downgrade=true installs an older one.
func (s *Server) uploadFirmware(c *gin.Context) error {
	f, err := s.firmware()
	if err != nil {
		return err
	}
	if ct := c.GetHeader("Content-Type"); ct != "" && ct != "application/octet-stream" {
		return errorf(http.StatusUnsupportedMediaType, "send the image as application/octet-stream")
	}
	if c.Request.ContentLength > maxFirmwareBytes {
		return errorf(http.StatusRequestEntityTooLarge, "the image is larger than %d bytes", maxFirmwareBytes)
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(firmwareUpload))
	_ = rc.SetWriteDeadline(time.Now().Add(firmwareUpload + time.Minute))
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxFirmwareBytes)
	res, err := f.InstallFirmware(c.Request.Context(), body, c.Query("allow_downgrade") == "true")
	if err := controlError(err); err != nil {
		return err
	}
	s.event(c.Request.Context(), "warn", "system", "firmware_installed",
		"firmware "+res.Version+" written to slot "+res.Slot+"; reboot to try it")
	return writeJSON(c, http.StatusAccepted, res)
}
