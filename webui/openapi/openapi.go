// Package openapi holds the OpenAPI 3.1 document of the controller's REST
// API, served at GET /api/v1/openapi.json.
//
// The document is written by hand in openapi.json next to this file and
// embedded in the binary, so the description a client downloads is the one
// that shipped with the firmware it talks to. Its tests check that it is
// well formed: valid JSON, every operation answered, every reference
// resolved, and the component schemas in step with the Go types that
// produce the JSON.
package openapi

import (
	"bytes"
	_ "embed"
)

// document is openapi.json as embedded at build time.
//
//go:embed openapi.json
var document []byte

// ContentType is the media type to serve Document with.
const ContentType = "application/json; charset=utf-8"

// Document returns the OpenAPI 3.1 document as JSON. It returns a fresh
// copy on every call, so a caller that modifies the bytes cannot change
// what later callers get.
func Document() []byte {
	return bytes.Clone(document)
}
