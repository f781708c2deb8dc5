package stratumproxy

import (
	"errors"
	"strings"
)

// Reasons a pool refuses a share or a request. Servers send them as the
// conventional codes (20–25); clients classify every reply shape into them
// with ClassifyReject, and count rejects by Reason.
var (
	ErrOther         = errors.New("stratum: rejected")
	ErrStale         = errors.New("stratum: stale share (job not found)")
	ErrDuplicate     = errors.New("stratum: duplicate share")
	ErrLowDifficulty = errors.New("stratum: low difficulty share")
	ErrUnauthorized  = errors.New("stratum: unauthorized worker")
	ErrNotSubscribed = errors.New("stratum: not subscribed")
)

var rejectCodes = []struct {
	err    error
	code   int
	reason string
}{
	{ErrOther, 20, "other"},
	{ErrStale, 21, "stale"},
	{ErrDuplicate, 22, "duplicate"},
	{ErrLowDifficulty, 23, "low_difficulty"},
	{ErrUnauthorized, 24, "unauthorized"},
	{ErrNotSubscribed, 25, "not_subscribed"},
}

// RejectError is a refusal from a pool or for a miner: Kind is one of the
// sentinels above, Message the peer's or our own words.
type RejectError struct {
	Kind    error
	Message string
}

// Error returns the sentinel's text, followed by the peer's words if any.
func (e *RejectError) Error() string {
	if e.Message == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Message
}

// Unwrap lets errors.Is match the sentinel.
func (e *RejectError) Unwrap() error { return e.Kind }

// Reject builds a RejectError of kind with a message.
func Reject(kind error, msg string) *RejectError { return &RejectError{Kind: kind, Message: msg} }

// Code returns the conventional Stratum error code for err (20 for anything
// not one of the sentinels).
func Code(err error) int {
	for _, rc := range rejectCodes {
		if errors.Is(err, rc.err) {
			return rc.code
		}
	}
	return 20
}

// ReasonOf returns the short stable reason name for err ("stale",
// "duplicate", "low_difficulty", ...), used as a counter label.
func ReasonOf(err error) string {
	for _, rc := range rejectCodes {
		if errors.Is(err, rc.err) {
			return rc.reason
		}
	}
	return "other"
}

// ClassifyReject maps a pool's reply (code and text, in any of the shapes
// pools send) to a RejectError.
func ClassifyReject(code int, reason string) *RejectError {
	for _, rc := range rejectCodes[1:] {
		if code == rc.code {
			return Reject(rc.err, reason)
		}
	}
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "stale"), strings.Contains(r, "job not found"),
		strings.Contains(r, "invalid jobid"), strings.Contains(r, "unknown job"):
		return Reject(ErrStale, reason)
	case strings.Contains(r, "duplicate"):
		return Reject(ErrDuplicate, reason)
	case strings.Contains(r, "low difficulty"), strings.Contains(r, "above target"),
		strings.Contains(r, "high-hash"), strings.Contains(r, "low diff"):
		return Reject(ErrLowDifficulty, reason)
	case strings.Contains(r, "unauthori"), strings.Contains(r, "worker mismatch"):
		return Reject(ErrUnauthorized, reason)
	case strings.Contains(r, "not subscribed"):
		return Reject(ErrNotSubscribed, reason)
	}
	return Reject(ErrOther, reason)
}

// ErrorValue returns the canonical [code, message, null] error member for err.
func ErrorValue(err error) []any {
	msg := err.Error()
	var re *RejectError
	if errors.As(err, &re) && re.Message != "" {
		msg = re.Message
	}
	return ErrorTriple(Code(err), msg)
}
