package cgminer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kilnfw/kiln/webui"
)

// poolEdit changes a copy of the saved pool list. active is the id of the
// pool being mined, -1 if none. It returns the new list and whether it
// differs, and the status to answer.
type poolEdit func(ps []webui.PoolSetting, active int) (next []webui.PoolSetting, changed bool, st status)

// changePools reads the saved pools, applies edit and saves the result,
// one change at a time so that concurrent commands do not undo each other.
func (s *Server) changePools(c call, cmd string, edit poolEdit) reply {
	var st status
	var n int
	err := s.updatePools(c, func(ps []webui.PoolSetting) ([]webui.PoolSetting, error) {
		next, changed, est := edit(ps, activeSetting(ps, s.backend.Pools()))
		st, n = est, len(next)
		if !changed || est.sev == sevError {
			return nil, errUnchanged
		}
		return next, nil
	})
	if errors.Is(err, errUnchanged) {
		return reply{status: st}
	}
	if errors.Is(err, errReadPools) {
		s.log.Error("cgminer api: read pools", "cmd", cmd, "err", err)
		return reply{status: status{sevError, codePoolChangeFailed, "Cannot read pools: " + err.Error()}}
	}
	if err != nil {
		s.log.Warn("cgminer api: pool change refused", "cmd", cmd, "remote", c.remote.String(), "err", err)
		if cmd == "addpool" && errors.Is(err, webui.ErrInvalid) {
			return reply{status: status{sevError, codeInvalidPoolDetails, "Invalid addpool details: " + err.Error()}}
		}
		return reply{status: status{sevError, codePoolChangeFailed, "Pool change failed: " + err.Error()}}
	}
	s.log.Info("cgminer api: pools changed", "cmd", cmd, "remote", c.remote.String(), "pools", n)
	return reply{status: st}
}

// errUnchanged ends an update whose edit changed nothing; errReadPools
// marks a failure to read the saved list.
var (
	errUnchanged = errors.New("cgminer api: pools unchanged")
	errReadPools = errors.New("cgminer api: read pools")
)

// updatePools applies edit as one change: through the controller's atomic
// update when it has one (so the REST API cannot interleave), else under
// this server's lock.
func (s *Server) updatePools(c call, edit func([]webui.PoolSetting) ([]webui.PoolSetting, error)) error {
	if u, ok := s.backend.(webui.PoolUpdater); ok {
		return u.UpdatePoolSettings(c.ctx, edit)
	}
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	ps, err := s.backend.PoolSettings(c.ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errReadPools, err)
	}
	next, err := edit(slices.Clone(ps))
	if err != nil {
		return err
	}
	return s.backend.SetPoolSettings(c.ctx, next)
}

// activeSetting finds the saved pool that the live status marks active.
func activeSetting(ps []webui.PoolSetting, live []webui.Pool) int {
	for i, p := range live {
		if !p.Active {
			continue
		}
		if i < len(ps) && ps[i].URL == p.URL {
			return i
		}
		for j, q := range ps {
			if q.URL == p.URL && q.User == p.User {
				return j
			}
		}
	}
	return -1
}

// poolID reads the pool id parameter of c against the saved list.
func poolID(c call, ps []webui.PoolSetting) (int, status, bool) {
	if len(ps) == 0 {
		return 0, status{sevError, codeNoPools, "No pools"}, false
	}
	if !c.has {
		return 0, status{sevError, codeMissingPoolID, "Missing pool id parameter"}, false
	}
	id, ok := parseIndex(c.param)
	if !ok || id < 0 || id >= len(ps) {
		return 0, invalidPoolID(c.param, len(ps)), false
	}
	return id, status{}, true
}

func invalidPoolID(param string, n int) status {
	return status{sevError, codeInvalidPoolID, fmt.Sprintf("Invalid pool id %s - range is 0 - %d", strings.TrimSpace(param), n-1)}
}

// poolMsg formats the "<verb> pool N:'url'" messages.
func poolMsg(sev string, code int, format string, id int, p webui.PoolSetting) status {
	return status{sev, code, fmt.Sprintf(format, id, p.URL)}
}

func enabledCount(ps []webui.PoolSetting) int {
	n := 0
	for _, p := range ps {
		if p.Enabled {
			n++
		}
	}
	return n
}

// switchPool enables pool N and gives it priority 0, which is id 0 here.
func (s *Server) switchPool(c call) reply {
	return s.changePools(c, "switchpool", func(ps []webui.PoolSetting, _ int) ([]webui.PoolSetting, bool, status) {
		id, st, ok := poolID(c, ps)
		if !ok {
			return nil, false, st
		}
		p := ps[id]
		st = poolMsg(sevSuccess, codeSwitchPool, "Switching to pool %d:'%s'", id, p)
		if id == 0 && p.Enabled {
			return nil, false, st
		}
		p.Enabled = true
		return append([]webui.PoolSetting{p}, slices.Delete(ps, id, id+1)...), true, st
	})
}

func (s *Server) enablePool(c call) reply {
	return s.changePools(c, "enablepool", func(ps []webui.PoolSetting, _ int) ([]webui.PoolSetting, bool, status) {
		id, st, ok := poolID(c, ps)
		if !ok {
			return nil, false, st
		}
		if ps[id].Enabled {
			return nil, false, poolMsg(sevInfo, codeAlreadyEnabled, "Pool %d:'%s' already enabled", id, ps[id])
		}
		ps[id].Enabled = true
		return ps, true, poolMsg(sevSuccess, codeEnablePool, "Enabling pool %d:'%s'", id, ps[id])
	})
}

func (s *Server) disablePool(c call) reply {
	return s.changePools(c, "disablepool", func(ps []webui.PoolSetting, _ int) ([]webui.PoolSetting, bool, status) {
		id, st, ok := poolID(c, ps)
		if !ok {
			return nil, false, st
		}
		switch {
		case !ps[id].Enabled:
			return nil, false, poolMsg(sevInfo, codeAlreadyDisabled, "Pool %d:'%s' already disabled", id, ps[id])
		case enabledCount(ps) == 1:
			return nil, false, poolMsg(sevError, codeDisableLastPool, "Cannot disable last active pool %d:'%s'", id, ps[id])
		}
		ps[id].Enabled = false
		return ps, true, poolMsg(sevSuccess, codeDisablePool, "Disabling pool %d:'%s'", id, ps[id])
	})
}

// removePool deletes pool N as cgminer does: the last pool moves into
// slot N, so ids stay dense.
func (s *Server) removePool(c call) reply {
	return s.changePools(c, "removepool", func(ps []webui.PoolSetting, active int) ([]webui.PoolSetting, bool, status) {
		id, st, ok := poolID(c, ps)
		if !ok {
			return nil, false, st
		}
		p := ps[id]
		others := enabledCount(ps)
		if p.Enabled {
			others--
		}
		switch {
		case len(ps) == 1:
			return nil, false, poolMsg(sevError, codeRemoveLastPool, "Cannot remove last pool %d:'%s'", id, p)
		case (p.Enabled || id == active) && others == 0:
			return nil, false, poolMsg(sevError, codeRemoveActivePool, "Cannot remove active pool %d:'%s'", id, p)
		}
		// cgminer moves its last pool into the freed slot; here a pool's
		// index is its priority, so the others keep their order instead
		// (clients re-read pools after removepool either way).
		return slices.Delete(ps, id, id+1), true, poolMsg(sevSuccess, codeRemovePool, "Removed pool %d:'%s'", id, p)
	})
}

// poolPriority puts the listed pools first, in the order given, and the
// others after them in their previous order.
func (s *Server) poolPriority(c call) reply {
	return s.changePools(c, "poolpriority", func(ps []webui.PoolSetting, _ int) ([]webui.PoolSetting, bool, status) {
		if len(ps) == 0 {
			return nil, false, status{sevError, codeNoPools, "No pools"}
		}
		if !c.has {
			return nil, false, status{sevError, codeMissingPoolID, "Missing pool id parameter"}
		}
		order, st, ok := priorityOrder(c.param, len(ps))
		if !ok {
			return nil, false, st
		}
		st = status{sevSuccess, codePoolPriority, "Changed pool priorities"}
		next := make([]webui.PoolSetting, 0, len(ps))
		changed := false
		for i, id := range order {
			next = append(next, ps[id])
			changed = changed || i != id
		}
		return next, changed, st
	})
}

// priorityOrder reads "a,b,c" and returns every id of n in the new order.
func priorityOrder(param string, n int) ([]int, status, bool) {
	seen := make([]bool, n)
	order := make([]int, 0, n)
	for part := range strings.SplitSeq(param, ",") {
		id, ok := parseIndex(part)
		if !ok || id < 0 || id >= n {
			return nil, invalidPoolID(part, n), false
		}
		if seen[id] {
			return nil, status{sevError, codeDuplicatePool, fmt.Sprintf("Duplicate pool specified %d", id)}, false
		}
		seen[id] = true
		order = append(order, id)
	}
	for id := range n {
		if !seen[id] {
			order = append(order, id)
		}
	}
	return order, status{}, true
}

// addPool appends url,user,pass as an enabled pool of lowest priority. All
// three values are required and non-empty; "\," is a comma and "\\" a
// backslash inside a value.
func (s *Server) addPool(c call) reply {
	if !c.has {
		return reply{status: status{sevError, codeMissingPoolDetails, "Missing addpool details"}}
	}
	p, ok := parsePoolDetails(c.param)
	if !ok {
		return reply{status: status{sevError, codeInvalidPoolDetails,
			"Invalid addpool details: want url,user,password, none empty"}}
	}
	return s.changePools(c, "addpool", func(ps []webui.PoolSetting, _ int) ([]webui.PoolSetting, bool, status) {
		return append(ps, p), true, status{sevSuccess, codeAddPool, fmt.Sprintf("Added pool %d: '%s'", len(ps), p.URL)}
	})
}

// parsePoolDetails reads addpool's url,user,pass.
func parsePoolDetails(param string) (webui.PoolSetting, bool) {
	parts := splitEscaped(param)
	if len(parts) != 3 {
		return webui.PoolSetting{}, false
	}
	p := webui.PoolSetting{
		URL:      strings.TrimSpace(parts[0]),
		User:     strings.TrimSpace(parts[1]),
		Password: parts[2],
		Enabled:  true,
	}
	return p, p.URL != "" && p.User != "" && p.Password != ""
}
