package stratumproxy

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Method names of Stratum V1 and its common extensions.
const (
	MethodConfigure         = "mining.configure"
	MethodSubscribe         = "mining.subscribe"
	MethodAuthorize         = "mining.authorize"
	MethodSuggestDifficulty = "mining.suggest_difficulty"
	MethodExtranonceSub     = "mining.extranonce.subscribe"
	MethodSubmit            = "mining.submit"
	MethodNotify            = "mining.notify"
	MethodSetDifficulty     = "mining.set_difficulty"
	MethodSetExtranonce     = "mining.set_extranonce"
	MethodSetVersionMask    = "mining.set_version_mask"
	MethodPing              = "mining.ping"
	MethodReconnect         = "client.reconnect"
	MethodGetVersion        = "client.get_version"
	MethodShowMessage       = "client.show_message"
)

// Notify is a decoded mining.notify.
type Notify struct {
	JobID string
	// PrevHash is in internal byte order (the wire form is word-swapped).
	PrevHash       [32]byte
	Coinb1, Coinb2 []byte
	Branches       [][32]byte
	Version, NBits uint32
	NTime          uint32
	Clean          bool
}

// maxBranches bounds the merkle branch: 2^32 transactions is beyond any block.
const maxBranches = 32

// DecodeNotify validates and decodes mining.notify parameters. Fields are
// read by position; extra trailing items are tolerated.
func DecodeNotify(m *Message) (Notify, error) {
	var n Notify
	ps, err := m.params()
	if err != nil {
		return n, err
	}
	if len(ps) < 9 {
		return n, fmt.Errorf("%w: notify: %d params, want 9", ErrMalformed, len(ps))
	}
	var s [8]string
	for i, idx := range []int{0, 1, 2, 3, 5, 6, 7} {
		if err := json.Unmarshal(ps[idx], &s[i]); err != nil {
			return n, fmt.Errorf("%w: notify param %d is not a string", ErrMalformed, idx)
		}
	}
	n.JobID = s[0]
	if n.JobID == "" {
		return n, fmt.Errorf("%w: notify: empty job id", ErrMalformed)
	}
	prev, err := decodeHex("prevhash", s[1], 32)
	if err != nil {
		return n, err
	}
	wswap(prev)
	copy(n.PrevHash[:], prev)
	if n.Coinb1, err = decodeHex("coinb1", s[2], -1); err != nil {
		return n, err
	}
	if n.Coinb2, err = decodeHex("coinb2", s[3], -1); err != nil {
		return n, err
	}
	var branches []string
	if err := json.Unmarshal(ps[4], &branches); err != nil {
		return n, fmt.Errorf("%w: notify: merkle branch is not a list of strings", ErrMalformed)
	}
	if len(branches) > maxBranches {
		return n, fmt.Errorf("%w: notify: %d merkle branches", ErrMalformed, len(branches))
	}
	n.Branches = make([][32]byte, len(branches))
	for i, b := range branches {
		h, err := decodeHex("merkle branch", b, 32)
		if err != nil {
			return n, err
		}
		copy(n.Branches[i][:], h)
	}
	if n.Version, err = decodeU32("version", s[4]); err != nil {
		return n, err
	}
	if n.NBits, err = decodeU32("nbits", s[5]); err != nil {
		return n, err
	}
	if n.NTime, err = decodeU32("ntime", s[6]); err != nil {
		return n, err
	}
	if err := json.Unmarshal(ps[8], &n.Clean); err != nil {
		// ESP-Miner reads clean_jobs from the last element; accept that too.
		if json.Unmarshal(ps[len(ps)-1], &n.Clean) != nil {
			return n, fmt.Errorf("%w: notify: clean_jobs is not a boolean", ErrMalformed)
		}
	}
	return n, nil
}

// EncodeNotify builds the mining.notify line for a job.
func EncodeNotify(n Notify) []byte {
	prev := n.PrevHash
	wswap(prev[:])
	branches := make([]string, len(n.Branches))
	for i := range n.Branches {
		branches[i] = hexString(n.Branches[i][:])
	}
	return Notification(MethodNotify, n.JobID, hexString(prev[:]), hexString(n.Coinb1),
		hexString(n.Coinb2), branches, Hex32(n.Version), Hex32(n.NBits), Hex32(n.NTime), n.Clean)
}

// wswap reverses the bytes inside every 4-byte group, in place.
func wswap(b []byte) {
	for i := 0; i+4 <= len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:]))
	}
}

// DecodeDifficulty reads the single number of mining.set_difficulty or
// mining.suggest_difficulty: a finite value > 0.
func DecodeDifficulty(m *Message) (float64, error) {
	ps, err := m.params()
	if err != nil {
		return 0, err
	}
	if len(ps) < 1 {
		return 0, fmt.Errorf("%w: %s: no difficulty", ErrMalformed, m.Method)
	}
	var d float64
	if err := json.Unmarshal(ps[0], &d); err != nil {
		return 0, fmt.Errorf("%w: %s: difficulty is not a number", ErrMalformed, m.Method)
	}
	if !(d > 0) || math.IsInf(d, 0) {
		return 0, fmt.Errorf("%w: %s: difficulty %v out of range", ErrMalformed, m.Method, d)
	}
	return d, nil
}

// Subscription is the decoded result of mining.subscribe.
type Subscription struct {
	// SessionID is the id of the mining.notify subscription, sent back to
	// resume the session after a reconnect ("" if the pool gave none).
	SessionID       string
	Extranonce1     []byte
	Extranonce2Size int
}

// MaxExtranonce2Size is the largest extranonce2 accepted (cgminer's bound).
const MaxExtranonce2Size = 16

// DecodeSubscribe decodes a subscribe result [subscriptions, en1, en2size].
// Element 0 is read leniently (nested pairs, one bare pair, or anything).
func DecodeSubscribe(result json.RawMessage) (Subscription, error) {
	var sub Subscription
	var parts []json.RawMessage
	if err := json.Unmarshal(result, &parts); err != nil || len(parts) < 3 {
		return sub, fmt.Errorf("%w: subscribe result is not [subscriptions, extranonce1, size]", ErrMalformed)
	}
	sub.SessionID = notifySubscriptionID(parts[0])
	var en1 string
	if err := json.Unmarshal(parts[1], &en1); err != nil {
		return sub, fmt.Errorf("%w: subscribe: extranonce1 is not a string", ErrMalformed)
	}
	var err error
	if sub.Extranonce1, err = decodeHex("extranonce1", en1, -1); err != nil {
		return sub, err
	}
	var size float64
	if err := json.Unmarshal(parts[2], &size); err != nil || size != math.Trunc(size) ||
		size < 1 || size > MaxExtranonce2Size {
		return sub, fmt.Errorf("%w: subscribe: extranonce2 size %s out of range 1..%d",
			ErrMalformed, truncate(string(parts[2])), MaxExtranonce2Size)
	}
	sub.Extranonce2Size = int(size)
	return sub, nil
}

func notifySubscriptionID(raw json.RawMessage) string {
	var pairs [][]string
	if json.Unmarshal(raw, &pairs) == nil {
		for _, p := range pairs {
			if len(p) == 2 && p[0] == MethodNotify {
				return p[1]
			}
		}
	}
	var pair []string
	if json.Unmarshal(raw, &pair) == nil && len(pair) == 2 && pair[0] == MethodNotify {
		return pair[1]
	}
	return ""
}

// DecodeConfigure reads the version-rolling part of a mining.configure
// result; ok is false unless the pool granted rolling with a non-zero mask.
func DecodeConfigure(result json.RawMessage) (mask uint32, ok bool) {
	var res map[string]json.RawMessage
	if json.Unmarshal(result, &res) != nil {
		return 0, false
	}
	var granted bool
	if json.Unmarshal(res["version-rolling"], &granted) != nil || !granted {
		return 0, false
	}
	var s string
	if json.Unmarshal(res["version-rolling.mask"], &s) != nil {
		return 0, false
	}
	mask, err := decodeU32("version-rolling.mask", s)
	return mask, err == nil && mask != 0
}

// DecodeVersionMask reads mining.set_version_mask ["1fffe000"].
func DecodeVersionMask(m *Message) (uint32, error) {
	s, err := stringParam(m, 0)
	if err != nil {
		return 0, err
	}
	return decodeU32("version mask", s)
}

// DecodeSetExtranonce reads mining.set_extranonce [extranonce1, size].
func DecodeSetExtranonce(m *Message) ([]byte, int, error) {
	ps, err := m.params()
	if err != nil {
		return nil, 0, err
	}
	if len(ps) < 2 {
		return nil, 0, fmt.Errorf("%w: set_extranonce: want 2 params", ErrMalformed)
	}
	res, _ := json.Marshal([]json.RawMessage{json.RawMessage(`[]`), ps[0], ps[1]})
	sub, err := DecodeSubscribe(res)
	if err != nil {
		return nil, 0, fmt.Errorf("set_extranonce: %w", err)
	}
	return sub.Extranonce1, sub.Extranonce2Size, nil
}

// Reconnect is a decoded client.reconnect: empty Host means the same pool.
type Reconnect struct {
	Host, Port string
	WaitS      int
}

// DecodeReconnect reads client.reconnect [host?, port?, wait?]; the port may
// be a number or a string.
func DecodeReconnect(m *Message) (Reconnect, error) {
	var r Reconnect
	ps, err := m.params()
	if err != nil {
		return r, err
	}
	if len(ps) > 0 {
		_ = json.Unmarshal(ps[0], &r.Host)
	}
	if len(ps) > 1 {
		if n := jsonInt(ps[1]); n > 0 && n < 65536 {
			r.Port = strconv.Itoa(n)
		} else if !isNull(ps[1]) && string(ps[1]) != `""` {
			return r, fmt.Errorf("%w: reconnect: bad port %s", ErrMalformed, truncate(string(ps[1])))
		}
	}
	if len(ps) > 2 {
		r.WaitS = max(0, min(jsonInt(ps[2]), 3600))
	}
	return r, nil
}

// Submit is a mining.submit request.
type Submit struct {
	Worker, JobID string
	Extranonce2   []byte
	NTime, Nonce  uint32
	// VersionBits is the 6th parameter, present when HasVersion.
	VersionBits uint32
	HasVersion  bool
}

// EncodeSubmit builds the submit request line.
func EncodeSubmit(id uint64, s Submit) []byte {
	params := []any{s.Worker, s.JobID, hexString(s.Extranonce2), Hex32(s.NTime), Hex32(s.Nonce)}
	if s.HasVersion {
		params = append(params, Hex32(s.VersionBits))
	}
	return Request(id, MethodSubmit, params...)
}

// DecodeSubmit validates and decodes mining.submit parameters.
func DecodeSubmit(m *Message) (Submit, error) {
	var s Submit
	ps, err := m.params()
	if err != nil {
		return s, err
	}
	if len(ps) < 5 || len(ps) > 6 {
		return s, fmt.Errorf("%w: submit: %d params, want 5 or 6", ErrMalformed, len(ps))
	}
	str := make([]string, len(ps))
	for i := range ps {
		if err := json.Unmarshal(ps[i], &str[i]); err != nil {
			return s, fmt.Errorf("%w: submit param %d is not a string", ErrMalformed, i)
		}
	}
	s.Worker, s.JobID = str[0], str[1]
	if s.Extranonce2, err = decodeHex("extranonce2", str[2], -1); err != nil {
		return s, err
	}
	if s.NTime, err = decodeU32("ntime", str[3]); err != nil {
		return s, err
	}
	if s.Nonce, err = decodeU32("nonce", str[4]); err != nil {
		return s, err
	}
	if len(str) == 6 {
		if s.VersionBits, err = decodeU32("version bits", str[5]); err != nil {
			return s, err
		}
		s.HasVersion = true
	}
	return s, nil
}

// stringParam returns params[i] as a string.
func stringParam(m *Message, i int) (string, error) {
	ps, err := m.params()
	if err != nil {
		return "", err
	}
	if len(ps) <= i {
		return "", fmt.Errorf("%w: %s: missing param %d", ErrMalformed, m.Method, i)
	}
	var s string
	if err := json.Unmarshal(ps[i], &s); err != nil {
		return "", fmt.Errorf("%w: %s: param %d is not a string", ErrMalformed, m.Method, i)
	}
	return s, nil
}

// StringParams returns the leading string params of a request, stopping at
// the first non-string (used for subscribe, authorize and show_message).
func StringParams(m *Message) []string {
	ps, _ := m.params()
	var out []string
	for _, p := range ps {
		var s string
		if json.Unmarshal(p, &s) != nil {
			break
		}
		out = append(out, s)
	}
	return out
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
