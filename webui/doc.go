// Package webui serves the controller's LAN interface: the REST API under
// /api/v1/ and a small status page that polls it.
//
// Every handler returns an error; one adapter turns those errors into JSON
// responses ({"error": "..."}), so client mistakes get a clear message and
// server faults get a generic one while their cause goes to the log. A
// recovery middleware does the same for panics, so a fault in the mining core
// costs one request, never the server.
//
// Everything except GET /api/v1/health and the static assets is behind HTTP
// Basic authentication as user "admin". Failed logins are counted per client
// address (never from X-Forwarded-For, which any client can forge) and lock
// the address out for a while; successful checks are cached briefly so that
// a page polling every two seconds does not pay for argon2 each time.
//
// The page, its script and its stylesheet are embedded in the binary and obey
// a Content-Security-Policy that allows only the server's own origin.
package webui
