package cgminer

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Message codes of cgminer's API; clients branch on them.
const (
	codePools              = 7
	codeNoPools            = 8
	codeDevs               = 9
	codeNoDevs             = 10
	codeSummary            = 11
	codeInvalidCommand     = 14
	codeVersion            = 22
	codeInvalidJSON        = 23
	codeMissingCommand     = 24
	codeMissingPoolID      = 25
	codeInvalidPoolID      = 26
	codeSwitchPool         = 27
	codeConfig             = 33
	codeSaved              = 44
	codeAccessDenied       = 45
	codeAccessOK           = 46
	codeEnablePool         = 47
	codeDisablePool        = 48
	codeAlreadyEnabled     = 49
	codeAlreadyDisabled    = 50
	codeDisableLastPool    = 51
	codeMissingPoolDetails = 52
	codeInvalidPoolDetails = 53
	codeAddPool            = 55
	codeRemoveLastPool     = 66
	codeRemoveActivePool   = 67
	codeRemovePool         = 68
	codeDevDetails         = 69
	codeStats              = 70
	codeMissingCheck       = 71
	codeCheck              = 72
	codePoolPriority       = 73
	codeDuplicatePool      = 74
	codeCoin               = 78
	// codePoolChangeFailed is Kiln's own: the controller could not read
	// or save the pool list.
	codePoolChangeFailed = 400
)

// maxRequest is the most bytes read from one connection.
const maxRequest = 8 << 10

// request is one parsed API request.
type request struct {
	cmd      string
	param    string
	hasParam bool
	// json is true for the JSON form; the reply uses the same form.
	json bool
}

// isJSON reports whether raw is a JSON request: its first byte, after
// blanks, is '{'.
func isJSON(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// parseRequest splits a request into command and parameter. A JSON
// request that cannot be used returns the cgminer error code for it (23
// bad JSON, 24 no command, 14 command not a string); text requests always
// parse, an unknown command being the dispatcher's concern.
func parseRequest(raw []byte) (request, int) {
	if isJSON(raw) {
		return parseJSONRequest(raw)
	}
	cmd, param, _ := strings.Cut(string(raw), "|")
	req := request{cmd: strings.TrimSpace(cmd), param: strings.TrimSpace(param)}
	req.hasParam = req.param != ""
	return req, 0
}

func parseJSONRequest(raw []byte) (request, int) {
	req := request{json: true}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return req, codeInvalidJSON
	}
	cmd, ok := obj["command"]
	if !ok {
		return req, codeMissingCommand
	}
	if err := json.Unmarshal(cmd, &req.cmd); err != nil {
		return req, codeInvalidCommand
	}
	req.cmd = strings.TrimSpace(req.cmd)
	req.param, req.hasParam = jsonParam(obj["parameter"])
	return req, 0
}

// jsonParam reads "parameter": a string, or a number kept as written.
// Anything else counts as no parameter, as in cgminer.
func jsonParam(p json.RawMessage) (string, bool) {
	if len(p) == 0 {
		return "", false
	}
	var s string
	if err := json.Unmarshal(p, &s); err == nil {
		s = strings.TrimSpace(s)
		return s, s != ""
	}
	var n json.Number
	if err := json.Unmarshal(p, &n); err == nil {
		return n.String(), true
	}
	return "", false
}

// joinedNames splits "summary+devs+pools" into its distinct, non-empty
// command names in order.
func joinedNames(cmd string) []string {
	var names []string
	for name := range strings.SplitSeq(cmd, "+") {
		name = strings.TrimSpace(name)
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// splitEscaped splits s at commas not preceded by a backslash and removes
// the escapes: "\," is a comma and "\\" a backslash inside a value.
func splitEscaped(s string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}

// parseIndex reads a pool id. It accepts only a plain decimal number:
// cgminer's atoi would turn "x" into pool 0, which is never what a client
// meant.
func parseIndex(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}
