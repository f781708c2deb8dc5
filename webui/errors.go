package webui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// internalMessage is all a client learns about a server-side fault; the
// cause goes to the log.
const internalMessage = "internal error"

// httpError is an error a client caused (or may retry): its status,
// code and message are sent as they are.
type httpError struct {
	status int
	code   string // "" means the status's default code
	msg    string
}

// Error codes of the JSON error body, stable for API clients.
const (
	codeBadRequest    = "bad_request"
	codeUnauthorized  = "unauthorized"
	codeForbidden     = "forbidden"
	codeCSRF          = "csrf_failed"
	codeNotFound      = "not_found"
	codeNotAllowed    = "method_not_allowed"
	codeConflict      = "conflict"
	codeTooMany       = "too_many_requests"
	codeSetup         = "setup_required"
	codeUnavailable   = "unavailable"
	codeInternal      = "internal"
	codeTooLarge      = "too_large"
	codeUnsupportedCT = "unsupported_media_type"
)

// statusCodes maps an HTTP status to its default error code.
var statusCodes = map[int]string{
	http.StatusBadRequest:            codeBadRequest,
	http.StatusUnauthorized:          codeUnauthorized,
	http.StatusForbidden:             codeForbidden,
	http.StatusNotFound:              codeNotFound,
	http.StatusMethodNotAllowed:      codeNotAllowed,
	http.StatusConflict:              codeConflict,
	http.StatusTooManyRequests:       codeTooMany,
	http.StatusServiceUnavailable:    codeUnavailable,
	http.StatusInternalServerError:   codeInternal,
	http.StatusRequestEntityTooLarge: codeTooLarge,
	http.StatusUnsupportedMediaType:  codeUnsupportedCT,
}

// errorCode is the code sent for e.
func (e *httpError) errorCode() string {
	if e.code != "" {
		return e.code
	}
	if c, ok := statusCodes[e.status]; ok {
		return c
	}
	return codeBadRequest
}

func (e *httpError) Error() string {
	return fmt.Sprintf("webui: %d %s", e.status, e.msg)
}

// withCode sets the error code sent instead of the status's default.
func (e *httpError) withCode(code string) *httpError {
	e.code = code
	return e
}

// errorf builds an httpError with a formatted message.
func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error response:
// {"error": {"code": "...", "message": "..."}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

// errorDetail is the inside of errorBody.
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handlerFunc is the shape of every handler and middleware in this package.
type handlerFunc func(c *gin.Context) error

// wrap adapts a handlerFunc to gin. A nil error lets the chain go on (so a
// handlerFunc can serve as middleware); an error aborts it with a JSON
// response.
func (s *Server) wrap(fn handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			s.writeError(c, err)
		}
	}
}

// writeError turns err into a JSON response: an httpError as it is,
// anything else as a generic 500 with the cause logged.
func (s *Server) writeError(c *gin.Context, err error) {
	if he, ok := errors.AsType[*httpError](err); ok {
		abortJSON(c, he.status, he.errorCode(), he.msg)
		return
	}
	s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	abortJSON(c, http.StatusInternalServerError, codeInternal, internalMessage)
}

// abortJSON stops the chain and sends the error body, unless a response
// has already started, in which case only the chain is stopped.
func abortJSON(c *gin.Context, status int, code, msg string) {
	if c.Writer.Written() {
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// writeJSON encodes v before writing anything, so an encoding failure can
// still become a clean 500.
func writeJSON(c *gin.Context, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("webui: encode %s response: %w", c.Request.URL.Path, err)
	}
	c.Data(status, "application/json; charset=utf-8", b)
	return nil
}

// recoverPanics turns a panic anywhere below it into a logged 500, so one
// faulty request never takes the server down.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if r == http.ErrAbortHandler {
			panic(r) // deliberate abort: let net/http drop the connection quietly
		}
		s.log.Error("handler panic", "method", c.Request.Method, "path", c.Request.URL.Path,
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		abortJSON(c, http.StatusInternalServerError, codeInternal, internalMessage)
	}()
	c.Next()
}

// notFound answers every unknown route.
func notFound(*gin.Context) error {
	return errorf(http.StatusNotFound, "not found")
}

// methodNotAllowed answers a known route asked with the wrong method; gin has
// already set the Allow header.
func methodNotAllowed(*gin.Context) error {
	return errorf(http.StatusMethodNotAllowed, "method not allowed")
}
