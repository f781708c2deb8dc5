package webui

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/stratumproxy"
)

// maxPools bounds the pool list; real setups have two or three.
const maxPools = 16

// poolTestTimeout bounds a trial connection.
const poolTestTimeout = 15 * time.Second

// errNoControl answers changes when the controller wired no Control.
var errNoControl = &httpError{status: http.StatusServiceUnavailable, msg: "control of the miner is not available"}

// poolEdit is the body of POST /api/v1/pools and PUT /api/v1/pools/{index}.
type poolEdit struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
	Enabled  *bool  `json:"enabled"`
	Algo     string `json:"algo"`
}

// setting turns the edit into a PoolSetting; a missing enabled means true.
func (e poolEdit) setting() PoolSetting {
	p := PoolSetting{URL: e.URL, User: e.User, Password: e.Password, Enabled: true, Algo: e.Algo}
	if e.Enabled != nil {
		p.Enabled = *e.Enabled
	}
	return p
}

// check validates the fields every pool needs.
func (e poolEdit) check() error {
	switch {
	case e.URL == "":
		return errorf(http.StatusBadRequest, "url is required (stratum+tcp://HOST:PORT)")
	case len(e.URL) > 512 || len(e.User) > 256 || len(e.Password) > 256:
		return errorf(http.StatusBadRequest, "url, user or password too long")
	}
	if _, err := stratumproxy.ParsePoolURL(e.URL); err != nil {
		return errorf(http.StatusBadRequest, "url: %v", err)
	}
	if _, err := mining.ParseAlgorithm(e.Algo); err != nil {
		return errorf(http.StatusBadRequest, "algo: %q is not sha256d or scrypt", e.Algo)
	}
	return nil
}

// changePools reads the saved list, lets edit change it and saves the
// result, then answers with the new live list.
func (s *Server) changePools(c *gin.Context, status int, edit func([]PoolSetting) ([]PoolSetting, error)) error {
	if s.control == nil {
		return errNoControl
	}
	ctx := c.Request.Context()
	checked := func(l []PoolSetting) ([]PoolSetting, error) {
		next, err := edit(l)
		if err == nil && len(next) > maxPools {
			err = errorf(http.StatusBadRequest, "at most %d pools", maxPools)
		}
		return next, err
	}
	if err := controlError(s.updatePools(ctx, checked)); err != nil {
		return err
	}
	s.event(ctx, "info", "pool", "pools_changed", "pool list changed through the API")
	return s.writePools(c, status)
}

// updatePools applies edit to the saved pool list as one change: through
// the controller's own atomic update when it has one, else under the
// server's lock.
func (s *Server) updatePools(ctx context.Context, edit func([]PoolSetting) ([]PoolSetting, error)) error {
	if u, ok := s.control.(PoolUpdater); ok {
		return u.UpdatePoolSettings(ctx, edit)
	}
	s.poolsMu.Lock()
	defer s.poolsMu.Unlock()
	list, err := s.control.PoolSettings(ctx)
	if err != nil {
		return err
	}
	next, err := edit(slices.Clone(list))
	if err != nil {
		return err
	}
	return s.control.SetPoolSettings(ctx, next)
}

// addPool appends a pool (lowest priority).
func (s *Server) addPool(c *gin.Context) error {
	var body poolEdit
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	return s.changePools(c, http.StatusCreated, func(l []PoolSetting) ([]PoolSetting, error) {
		return append(l, body.setting()), nil
	})
}

// editPool replaces one pool; an empty password keeps the saved one.
func (s *Server) editPool(c *gin.Context) error {
	i, err := pathIndex(c, "index")
	if err != nil {
		return err
	}
	var body poolEdit
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	return s.changePools(c, http.StatusOK, func(l []PoolSetting) ([]PoolSetting, error) {
		if i >= len(l) {
			return nil, errorf(http.StatusNotFound, "no pool %d (there are %d)", i, len(l))
		}
		p := body.setting()
		if p.Password == "" {
			p.Password = l[i].Password
		}
		l[i] = p
		return l, nil
	})
}

// deletePool removes one pool.
func (s *Server) deletePool(c *gin.Context) error {
	i, err := pathIndex(c, "index")
	if err != nil {
		return err
	}
	return s.changePools(c, http.StatusOK, func(l []PoolSetting) ([]PoolSetting, error) {
		if i >= len(l) {
			return nil, errorf(http.StatusNotFound, "no pool %d (there are %d)", i, len(l))
		}
		return slices.Delete(l, i, i+1), nil
	})
}

// reorderBody is the body of POST /api/v1/pools/reorder.
type reorderBody struct {
	Order []int `json:"order"`
}

// reorderPools puts the pools in a new priority order.
func (s *Server) reorderPools(c *gin.Context) error {
	var body reorderBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	return s.changePools(c, http.StatusOK, func(l []PoolSetting) ([]PoolSetting, error) {
		if len(body.Order) != len(l) {
			return nil, errorf(http.StatusBadRequest, "order must list all %d pools exactly once", len(l))
		}
		seen := make([]bool, len(l))
		out := make([]PoolSetting, 0, len(l))
		for _, i := range body.Order {
			if i < 0 || i >= len(l) || seen[i] {
				return nil, errorf(http.StatusBadRequest, "order must list all %d pools exactly once", len(l))
			}
			seen[i] = true
			out = append(out, l[i])
		}
		return out, nil
	})
}

// testPool connects to a pool once and reports how it went.
func (s *Server) testPool(c *gin.Context) error {
	if s.control == nil {
		return errNoControl
	}
	var body poolEdit
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := body.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), poolTestTimeout)
	defer cancel()
	res := s.control.TestPool(ctx, body.setting())
	res.LatencyMS, res.Difficulty = finite(res.LatencyMS), finite(res.Difficulty)
	return writeJSON(c, http.StatusOK, res)
}
