package webui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kilnfw/kiln/store"
)

// maxBody bounds every JSON request body; a whole configuration document
// is a few KiB.
const maxBody = 256 << 10

// bindJSON decodes the request body into v: one JSON object, no unknown
// fields, at most maxBody bytes. Every failure is a 400 (or 413/415)
// whose message says what was wrong.
func bindJSON(c *gin.Context, v any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "the body must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errorf(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", maxBody)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid JSON body: %s", jsonProblem(err))
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "invalid JSON body: more than one value")
	}
	return nil
}

// jsonProblem words a decoding error for the user.
func jsonProblem(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s", te.Field, jsonKind(te.Type))
		}
		return fmt.Sprintf("expected %s", jsonKind(te.Type))
	}
	if errors.Is(err, io.EOF) {
		return "empty body"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names what JSON value a Go type is decoded from, for messages
// that must not speak Go.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "a different JSON type"
}

// pathIndex reads a non-negative integer path parameter.
func pathIndex(c *gin.Context, name string) (int, error) {
	v, err := strconv.Atoi(c.Param(name))
	if err != nil || v < 0 {
		return 0, errorf(http.StatusBadRequest, "%s must be a non-negative integer, not %q", name, c.Param(name))
	}
	return v, nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int64) (int64, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def, nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, errorf(http.StatusBadRequest, "%s must be an integer from %d to %d, not %q", name, lo, hi, raw)
	}
	return v, nil
}

// controlError maps an error from Control: bad input (ErrInvalid) is the
// client's 400 with the message; anything else is a server fault.
func controlError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrInvalid) {
		return errorf(http.StatusBadRequest, "%s", strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error()))
	}
	if errors.Is(err, ErrUnsupported) {
		return errorf(http.StatusNotFound, "%s", err.Error())
	}
	return err
}

// event writes to the event log, if there is one; a failure is only
// logged, never the request's failure.
func (s *Server) event(ctx context.Context, level, source, kind, msg string) {
	if s.store == nil {
		return
	}
	if err := s.store.AddEvent(context.WithoutCancel(ctx), store.Event{Time: s.now(), Level: level, Source: source, Kind: kind, Message: msg}); err != nil {
		s.log.Warn("event log", "kind", kind, "err", err)
	}
}
