package stratumproxy

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLineClient is the longest line a client accepts from a pool. A notify
// grows with the coinbase; 1 MiB leaves room for pools that pay thousands of
// outputs while bounding memory.
const MaxLineClient = 1 << 20

// MaxLineServer is the longest line a server accepts from a miner: real
// client lines are 150–400 bytes (ckpool allows 1 KiB, NOMP 10 KiB).
const MaxLineServer = 4096

// ErrMalformed wraps every decoding failure of a line or its parameters.
var ErrMalformed = errors.New("stratum: malformed message")

// Message is one Stratum line: a request (ID and Method set), a notification
// (Method set, ID null) or a response (Result and Error).
type Message struct {
	// ID is kept raw so responses echo it exactly; "null" or empty for
	// notifications.
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
	// RejectReason is ckpool's extra member on rejected submits.
	RejectReason string `json:"reject-reason,omitempty"`
}

// IsRequest reports whether the message carries a method (request or
// notification).
func (m *Message) IsRequest() bool { return m.Method != "" }

// IsNotification reports whether the message is a request with no reply
// expected (id null or absent).
func (m *Message) IsNotification() bool { return m.IsRequest() && isNull(m.ID) }

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// ParseMessage decodes one line (without its newline; a trailing \r is
// allowed). It rejects lines that are not a JSON object, whose params is not
// an array, or that are neither a request nor a response.
func ParseMessage(line []byte) (*Message, error) {
	line = bytes.TrimRight(line, "\r\n")
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m.Method != "" {
		if len(m.Params) > 0 && !isNull(m.Params) && bytes.TrimSpace(m.Params)[0] != '[' {
			return nil, fmt.Errorf("%w: %s: params is not an array", ErrMalformed, m.Method)
		}
		return &m, nil
	}
	if isNull(m.ID) {
		return nil, fmt.Errorf("%w: neither a method nor a response id", ErrMalformed)
	}
	return &m, nil
}

// params decodes a message's params array into raw elements.
func (m *Message) params() ([]json.RawMessage, error) {
	if isNull(m.Params) {
		return nil, nil
	}
	var ps []json.RawMessage
	if err := json.Unmarshal(m.Params, &ps); err != nil {
		return nil, fmt.Errorf("%w: %s params: %v", ErrMalformed, m.Method, err)
	}
	return ps, nil
}

// Request encodes a request line (with its newline).
func Request(id uint64, method string, params ...any) []byte {
	if params == nil {
		params = []any{}
	}
	return line(map[string]any{"id": id, "method": method, "params": params})
}

// Notification encodes a notification line (id null).
func Notification(method string, params ...any) []byte {
	if params == nil {
		params = []any{}
	}
	return line(map[string]any{"id": nil, "method": method, "params": params})
}

// Response encodes a reply to the request with the given raw id; errVal is
// nil on success or an error triple built by ErrorTriple.
func Response(id json.RawMessage, result any, errVal any) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	return line(map[string]any{"id": id, "result": result, "error": errVal})
}

// ErrorTriple returns the canonical error member [code, "message", null].
func ErrorTriple(code int, msg string) []any { return []any{code, msg, nil} }

func line(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own values reach here; a failure is a programming error.
		panic(fmt.Sprintf("stratum: encode: %v", err))
	}
	return append(b, '\n')
}

// Reply is a decoded response: OK only when result is true-like and error is
// null, otherwise Code/Reason describe the refusal.
type Reply struct {
	Result json.RawMessage
	OK     bool
	Code   int
	Reason string
}

// DecodeReply interprets a response's result and error members in every shape
// pools use: [code,"msg",tb], a bare string, a JSON-RPC 2.0 object, or
// ckpool's result=false with "reject-reason".
func DecodeReply(m *Message) Reply {
	r := Reply{Result: m.Result}
	if !isNull(m.Error) {
		r.Code, r.Reason = decodeError(m.Error)
		if r.Reason == "" {
			r.Reason = "rejected"
		}
		return r
	}
	if string(bytes.TrimSpace(m.Result)) == "false" {
		r.Reason = m.RejectReason
		if r.Reason == "" {
			r.Reason = "rejected"
		}
		return r
	}
	r.OK = !isNull(m.Result)
	if !r.OK {
		r.Reason = "empty result"
	}
	return r
}

func decodeError(raw json.RawMessage) (int, string) {
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil {
		code, msg := 0, ""
		if len(arr) > 0 {
			code = jsonInt(arr[0])
		}
		if len(arr) > 1 {
			_ = json.Unmarshal(arr[1], &msg)
		}
		return code, msg
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return 0, s
	}
	var obj struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return jsonInt(obj.Code), obj.Message
	}
	return 0, strings.TrimSpace(string(raw))
}

func jsonInt(raw json.RawMessage) int {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return int(f)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n, _ := strconv.Atoi(s)
		return n
	}
	return 0
}

// decodeHex decodes a hex string parameter of an exact byte length (or any
// length when n < 0).
func decodeHex(name, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: bad hex %q", ErrMalformed, name, truncate(s))
	}
	if n >= 0 && len(b) != n {
		return nil, fmt.Errorf("%w: %s: %d bytes, want %d", ErrMalformed, name, len(b), n)
	}
	return b, nil
}

// decodeU32 decodes an 8-hex-digit big-endian field (version, nbits, ntime,
// nonce).
func decodeU32(name, s string) (uint32, error) {
	if len(s) != 8 {
		return 0, fmt.Errorf("%w: %s: want 8 hex digits, got %q", ErrMalformed, name, truncate(s))
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: bad hex %q", ErrMalformed, name, truncate(s))
	}
	return uint32(v), nil
}

// Hex32 formats a 32-bit field as the protocol does: "%08x".
func Hex32(v uint32) string { return fmt.Sprintf("%08x", v) }

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
