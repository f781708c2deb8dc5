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

// httpError is an error a client caused (or may retry): its status and
// message are sent as they are.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("webui: %d %s", e.status, e.msg)
}

// errorf builds an httpError with a formatted message.
func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error string `json:"error"`
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
		abortJSON(c, he.status, he.msg)
		return
	}
	s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	abortJSON(c, http.StatusInternalServerError, internalMessage)
}

// abortJSON stops the chain and sends {"error": msg}, unless a response has
// already started, in which case only the chain is stopped.
func abortJSON(c *gin.Context, status int, msg string) {
	if c.Writer.Written() {
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
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
		abortJSON(c, http.StatusInternalServerError, internalMessage)
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
