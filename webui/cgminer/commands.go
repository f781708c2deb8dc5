package cgminer

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// call is one command invocation.
type call struct {
	ctx    context.Context
	param  string
	has    bool
	lvl    level
	remote netip.Addr
}

// command is one entry of the command table.
type command struct {
	run func(s *Server, c call) reply
	// privileged commands need W access.
	privileged bool
	// joinable commands may appear in "a+b+c" requests.
	joinable bool
	// refused commands exist for clients' sake but are never run.
	refused bool
}

// commandTable lists every command the server knows.
func commandTable() map[string]command {
	report := func(run func(*Server, call) reply) command {
		return command{run: run, joinable: true}
	}
	priv := func(run func(*Server, call) reply) command {
		return command{run: run, privileged: true}
	}
	return map[string]command{
		"version":      report((*Server).versionCmd),
		"config":       report((*Server).configCmd),
		"summary":      report((*Server).summaryCmd),
		"pools":        report((*Server).poolsCmd),
		"devs":         report((*Server).devsCmd),
		"edevs":        report((*Server).devsCmd),
		"devdetails":   report((*Server).devDetailsCmd),
		"stats":        report((*Server).statsCmd),
		"estats":       report((*Server).statsCmd),
		"coin":         report((*Server).coinCmd),
		"check":        {run: (*Server).checkCmd},
		"privileged":   priv((*Server).privilegedCmd),
		"switchpool":   priv((*Server).switchPool),
		"enablepool":   priv((*Server).enablePool),
		"disablepool":  priv((*Server).disablePool),
		"addpool":      priv((*Server).addPool),
		"removepool":   priv((*Server).removePool),
		"poolpriority": priv((*Server).poolPriority),
		"save":         priv((*Server).saveCmd),
		"restart":      priv((*Server).restartCmd),
		// The API may not stop the controller; quit is always denied.
		"quit": {privileged: true, refused: true},
	}
}

// answer parses one raw request and returns the encoded reply, NUL
// included, and whether mining must restart once it is sent.
func (s *Server) answer(ctx context.Context, raw []byte, lvl level, remote netip.Addr) ([]byte, bool) {
	env := envelope{when: s.now().Unix(), desc: s.desc}
	out := make([]byte, 0, 2048)
	req, code := parseRequest(raw)
	if code != 0 {
		rep := reply{status: parseErrorStatus(code)}
		return append(encode(out, rep, req.json, env), 0), false
	}
	c := call{ctx: ctx, param: req.param, has: req.hasParam, lvl: lvl, remote: remote}
	s.log.Debug("cgminer api: request", "cmd", req.cmd, "remote", remote.String())
	if strings.Contains(req.cmd, "+") {
		parts := s.runJoined(req.cmd, c)
		if len(parts) == 0 {
			return append(encode(out, invalidCommand(), req.json, env), 0), false
		}
		if req.json {
			out = appendJoinedJSON(out, parts, env)
		} else {
			out = appendJoinedText(out, parts, env)
		}
		return append(out, 0), false
	}
	rep := s.run(req.cmd, c)
	return append(encode(out, rep, req.json, env), 0), rep.restart
}

func encode(b []byte, r reply, asJSON bool, env envelope) []byte {
	if asJSON {
		return r.appendJSON(b, env)
	}
	return r.appendText(b, env)
}

// run checks access and runs one command.
func (s *Server) run(name string, c call) reply {
	cmd, ok := s.cmds[name]
	switch {
	case !ok:
		return invalidCommand()
	case cmd.refused || (cmd.privileged && c.lvl < levelWrite):
		return accessDenied(name)
	}
	return cmd.run(s, c)
}

// runJoined answers each distinct name of "a+b+c" without parameters;
// commands that cannot be joined are denied, unknown ones invalid.
func (s *Server) runJoined(joined string, c call) []joinedPart {
	c.param, c.has = "", false
	var parts []joinedPart
	for _, name := range joinedNames(joined) {
		cmd, ok := s.cmds[name]
		var rep reply
		switch {
		case !ok:
			rep = invalidCommand()
		case !cmd.joinable:
			rep = accessDenied(name)
		default:
			rep = cmd.run(s, c)
		}
		parts = append(parts, joinedPart{name: name, rep: rep})
	}
	return parts
}

func parseErrorStatus(code int) status {
	switch code {
	case codeInvalidJSON:
		return status{sevError, code, "Invalid JSON"}
	case codeMissingCommand:
		return status{sevError, code, "Missing JSON 'command'"}
	}
	return invalidCommand().status
}

func invalidCommand() reply {
	return reply{status: status{sevError, codeInvalidCommand, "Invalid command"}}
}

func accessDenied(name string) reply {
	return reply{status: status{sevError, codeAccessDenied, fmt.Sprintf("Access denied to '%s' command", name)}}
}

// single builds a reply with one record introduced by the section name.
func single(code int, msg, section string, rec record) reply {
	return reply{status: status{sevSuccess, code, msg}, section: section, single: true, records: []record{rec}}
}

// Identity of the API dialect; tools pick their parser from these.
const (
	cgminerVersion = "4.11.1"
	apiVersion     = "3.7"
	// driverName is the device driver tag of DEVS, STATS and CONFIG.
	driverName = "KLN"
)

func (s *Server) versionCmd(call) reply {
	return single(codeVersion, "CGMiner versions", "VERSION", record{
		{"CGMiner", strVal(cgminerVersion)},
		{"API", strVal(apiVersion)},
		{"Miner", strVal(s.desc)},
		{"Type", strVal(s.boardKind())},
	})
}

// boardKind names the machine type for VERSION and STATS.
func (s *Server) boardKind() string {
	if b := s.backend.System().Board; b != "" {
		return b
	}
	return s.backend.Summary().Board
}

func (s *Server) configCmd(call) reply {
	devs := collectDevices(s.backend.Boards(), s.backend.Summary())
	return single(codeConfig, "CGMiner config", "CONFIG", record{
		{"ASC Count", intVal(len(devs))},
		{"PGA Count", intVal(0)},
		{"Pool Count", intVal(len(s.backend.Pools()))},
		{"Strategy", strVal("Failover")},
		{"Log Interval", intVal(logInterval)},
		{"Device Code", strVal(driverName)},
		{"OS", strVal(osName(s.backend.System().OS))},
		{"Hotplug", strVal("None")},
	})
}

// osName prints the OS the way cgminer does ("Linux").
func osName(goos string) string {
	switch goos {
	case "linux", "":
		return "Linux"
	case "darwin":
		return "Apple"
	case "windows":
		return "Windows"
	}
	return goos
}

func (s *Server) coinCmd(call) reply {
	return single(codeCoin, "CGMiner coin", "COIN", record{
		{"Hash Method", strVal("sha256")},
		{"Current Block Time", floatVal{0, 6}},
		{"Current Block Hash", strVal("")},
		{"LP", boolVal(false)},
		{"Network Difficulty", diffVal(0)},
	})
}

func (s *Server) checkCmd(c call) reply {
	if !c.has {
		return reply{status: status{sevError, codeMissingCheck, "Missing check cmd"}}
	}
	cmd, exists := s.cmds[c.param]
	access := exists && !cmd.refused && (!cmd.privileged || c.lvl >= levelWrite)
	return single(codeCheck, "Check command", "CHECK", record{
		{"Exists", yesNo(exists)},
		{"Access", yesNo(access)},
	})
}

func yesNo(b bool) strVal {
	if b {
		return "Y"
	}
	return "N"
}

func (s *Server) privilegedCmd(call) reply {
	return reply{status: status{sevSuccess, codeAccessOK, "Privileged access OK"}}
}

// saveCmd confirms: pool changes are saved as they are made.
func (s *Server) saveCmd(call) reply {
	return reply{status: status{sevSuccess, codeSaved, "Configuration saved"}}
}

func (s *Server) restartCmd(c call) reply {
	s.log.Info("cgminer api: restart requested", "remote", c.remote.String())
	return reply{bare: "RESTART", restart: true}
}
