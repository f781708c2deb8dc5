package cgminer

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// value is one field of a reply record. It prints itself the way cgminer
// does in JSON and in text mode.
type value interface {
	appendJSON(b []byte) []byte
	appendText(b []byte) []byte
}

type (
	strVal  string
	intVal  int64
	uintVal uint64
	boolVal bool
	// floatVal prints with a fixed number of decimals, as cgminer's %.Nf.
	floatVal struct {
		f    float64
		prec int
	}
)

func (v strVal) appendJSON(b []byte) []byte  { return appendJSONString(b, string(v)) }
func (v strVal) appendText(b []byte) []byte  { return appendTextEscaped(b, string(v)) }
func (v intVal) appendJSON(b []byte) []byte  { return strconv.AppendInt(b, int64(v), 10) }
func (v intVal) appendText(b []byte) []byte  { return strconv.AppendInt(b, int64(v), 10) }
func (v uintVal) appendJSON(b []byte) []byte { return strconv.AppendUint(b, uint64(v), 10) }
func (v uintVal) appendText(b []byte) []byte { return strconv.AppendUint(b, uint64(v), 10) }
func (v boolVal) appendJSON(b []byte) []byte { return strconv.AppendBool(b, bool(v)) }
func (v boolVal) appendText(b []byte) []byte { return strconv.AppendBool(b, bool(v)) }

func (v floatVal) appendJSON(b []byte) []byte {
	return strconv.AppendFloat(b, finite(v.f), 'f', v.prec, 64)
}

func (v floatVal) appendText(b []byte) []byte { return v.appendJSON(b) }

// Number formats of cgminer: rates in MH/s and frequencies with 2
// decimals, difficulties with 8, percentages (already ×100) with 4.
func mhs(hs float64) floatVal     { return floatVal{hs / 1e6, 2} }
func ghs(hs float64) floatVal     { return floatVal{hs / 1e9, 2} }
func diffVal(d float64) floatVal  { return floatVal{d, 8} }
func pctVal(p float64) floatVal   { return floatVal{p, 4} }
func fixed2(f float64) floatVal   { return floatVal{f, 2} }
func ghsString(hs float64) strVal { return strVal(strconv.FormatFloat(finite(hs/1e9), 'f', 2, 64)) }

// finite maps NaN and infinities, which neither form can carry, to 0, and
// -0 to 0 so that no reply shows "-0.00".
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) || f == 0 {
		return 0
	}
	return f
}

// roundInt converts a float figure to an integer field, clamped so that
// absurd inputs still print as a number.
func roundInt(f float64) intVal {
	f = math.Round(finite(f))
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return intVal(f)
}

// appendJSONString writes s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, so the reply always decodes.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// appendTextEscaped writes s for text mode, where '|', ',', '=' and '\'
// are separators and get a backslash; control bytes, which would end or
// split the reply for line and NUL based readers, become spaces.
func appendTextEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '|' || c == ',' || c == '=' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return b
}

// field is one Name=value pair of a record; order is kept as cgminer
// prints it.
type field struct {
	key string
	val value
}

// record is one object of a reply section.
type record []field

func (r record) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.key)
		b = append(b, ':')
		b = f.val.appendJSON(b)
	}
	return append(b, '}')
}

func (r record) appendText(b []byte) []byte {
	for i, f := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTextEscaped(b, f.key)
		b = append(b, '=')
		b = f.val.appendText(b)
	}
	return append(b, '|')
}

// Severities of a STATUS record.
const (
	sevSuccess = "S"
	sevInfo    = "I"
	sevError   = "E"
)

// status is the STATUS record every reply starts with.
type status struct {
	sev  string
	code int
	msg  string
}

// reply is the answer to one command.
type reply struct {
	status status
	// section names the data records ("SUMMARY"); empty for STATUS-only
	// replies.
	section string
	// single marks one-record sections, which text mode introduces with
	// the section name ("SUMMARY,Elapsed=…|") rather than an index key.
	single  bool
	records []record
	// bare replaces the whole envelope with one status word ("RESTART").
	bare string
	// restart asks the server to restart mining once the reply is sent.
	restart bool
}

// envelope holds what every STATUS record shares.
type envelope struct {
	when int64
	desc string
}

func (st status) record(env envelope) record {
	r := record{
		{"STATUS", strVal(st.sev)},
		{"When", intVal(env.when)},
		{"Code", intVal(st.code)},
		{"Msg", strVal(st.msg)},
	}
	if st.code != codeInvalidCommand {
		r = append(r, field{"Description", strVal(env.desc)})
	}
	return r
}

func (r reply) appendJSON(b []byte, env envelope) []byte {
	if r.bare != "" {
		b = append(b, `{"STATUS":`...)
		b = appendJSONString(b, r.bare)
		return append(b, `,"id":1}`...)
	}
	b = append(b, `{"STATUS":[`...)
	b = r.status.record(env).appendJSON(b)
	b = append(b, ']')
	if r.section != "" {
		b = append(b, ',')
		b = appendJSONString(b, r.section)
		b = append(b, ":["...)
		for i, rec := range r.records {
			if i > 0 {
				b = append(b, ',')
			}
			b = rec.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, `,"id":1}`...)
}

func (r reply) appendText(b []byte, env envelope) []byte {
	if r.bare != "" {
		return append(b, r.bare...)
	}
	b = r.status.record(env).appendText(b)
	for _, rec := range r.records {
		if r.single {
			b = append(b, r.section...)
			if len(rec) > 0 {
				b = append(b, ',')
			}
		}
		b = rec.appendText(b)
	}
	return b
}

// joinedPart is one command's answer inside a joined reply.
type joinedPart struct {
	name string
	rep  reply
}

// appendJoinedJSON writes {"cmd":[reply],...,"id":1}: each command's full
// reply in a one-element array under its name.
func appendJoinedJSON(b []byte, parts []joinedPart, env envelope) []byte {
	b = append(b, '{')
	for _, p := range parts {
		b = appendJSONString(b, p.name)
		b = append(b, ":["...)
		b = p.rep.appendJSON(b, env)
		b = append(b, "],"...)
	}
	return append(b, `"id":1}`...)
}

// appendJoinedText writes CMD=cmd|reply for each command in turn.
func appendJoinedText(b []byte, parts []joinedPart, env envelope) []byte {
	for _, p := range parts {
		b = append(b, "CMD="...)
		b = appendTextEscaped(b, p.name)
		b = append(b, '|')
		b = p.rep.appendText(b, env)
	}
	return b
}
