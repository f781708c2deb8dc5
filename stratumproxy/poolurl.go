package stratumproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Pool URL schemes. SchemeSSL and SchemeTLS are synonyms: both run Stratum
// V1 inside TLS.
const (
	SchemeTCP = "stratum+tcp"
	SchemeSSL = "stratum+ssl"
	SchemeTLS = "stratum+tls"
)

// ErrBadURL wraps every pool URL parsing failure.
var ErrBadURL = errors.New("stratum: bad pool URL")

// PoolURL is a parsed pool address: stratum+tcp://[USER[:PASS]@]HOST:PORT,
// or stratum+ssl:// / stratum+tls:// for TLS. User and Password are the
// defaults for mining.authorize; explicit configuration overrides them.
type PoolURL struct {
	// Scheme is one of SchemeTCP, SchemeSSL or SchemeTLS, as written.
	Scheme string
	// Host is a DNS name or an IP address (without brackets); Port is
	// decimal 1..65535.
	Host, Port string
	// User and Password come from the URL's userinfo, percent-decoded.
	User, Password string
}

// ParsePoolURL parses a pool URL. A bare HOST:PORT (with or without
// userinfo) means stratum+tcp. The port is required: Stratum has no default
// port. Errors never contain the password.
func ParsePoolURL(s string) (PoolURL, error) {
	var u PoolURL
	s = strings.TrimSpace(s)
	if s == "" {
		return u, fmt.Errorf("%w: empty", ErrBadURL)
	}
	rest := s
	u.Scheme = SchemeTCP
	if i := strings.Index(s, "://"); i >= 0 {
		u.Scheme, rest = strings.ToLower(s[:i]), s[i+3:]
	}
	switch u.Scheme {
	case SchemeTCP, SchemeSSL, SchemeTLS:
	case "stratum2+tcp":
		return u, fmt.Errorf("%w: %s: Stratum V2 is not supported", ErrBadURL, u.Scheme)
	default:
		return u, fmt.Errorf("%w: unsupported scheme %q (want %s, %s or %s)",
			ErrBadURL, u.Scheme, SchemeTCP, SchemeSSL, SchemeTLS)
	}
	hostport := rest
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		hostport = rest[at+1:]
		if err := u.setUserinfo(rest[:at]); err != nil {
			return u, err
		}
	}
	hostport = strings.TrimSuffix(hostport, "/")
	if strings.ContainsAny(hostport, "/?# \t") {
		return u, fmt.Errorf("%w: %q: only HOST:PORT may follow the scheme", ErrBadURL, hostport)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return u, fmt.Errorf("%w: %q: want HOST:PORT (the port is required)", ErrBadURL, hostport)
	}
	if host == "" {
		return u, fmt.Errorf("%w: %q: missing host", ErrBadURL, hostport)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return u, fmt.Errorf("%w: %q: port must be 1..65535", ErrBadURL, port)
	}
	u.Host, u.Port = host, port
	return u, nil
}

func (u *PoolURL) setUserinfo(ui string) error {
	user, pass, _ := strings.Cut(ui, ":")
	var err error
	if u.User, err = url.PathUnescape(user); err != nil {
		return fmt.Errorf("%w: user: bad percent-encoding", ErrBadURL)
	}
	if u.Password, err = url.PathUnescape(pass); err != nil {
		return fmt.Errorf("%w: password: bad percent-encoding", ErrBadURL)
	}
	return nil
}

// TLS reports whether the pool speaks Stratum inside TLS.
func (u PoolURL) TLS() bool { return u.Scheme == SchemeSSL || u.Scheme == SchemeTLS }

// Addr returns HOST:PORT for dialling.
func (u PoolURL) Addr() string { return net.JoinHostPort(u.Host, u.Port) }

// String returns the URL with the password removed, for logs and displays:
// stratum+tcp://user@host:port.
func (u PoolURL) String() string {
	user := ""
	if u.User != "" {
		user = url.PathEscape(u.User) + "@"
	}
	return u.Scheme + "://" + user + u.Addr()
}

// RedactURL returns s with any password removed, or a placeholder when s
// does not parse; it never returns the password.
func RedactURL(s string) string {
	u, err := ParsePoolURL(s)
	if err != nil {
		return "(invalid pool URL)"
	}
	return u.String()
}

// poolSameDomain reports whether a client.reconnect target host may be
// followed: the same host, or both names with equal text after the first
// dot (cgminer's rule: pool.example.com may send us to eu.example.com). IP
// addresses must match exactly.
func poolSameDomain(configured, target string) bool {
	if strings.EqualFold(configured, target) {
		return true
	}
	if net.ParseIP(configured) != nil || net.ParseIP(target) != nil {
		return false // addresses have no domain to share
	}
	_, a, okA := strings.Cut(configured, ".")
	_, b, okB := strings.Cut(target, ".")
	return okA && okB && a != "" && strings.EqualFold(a, b)
}
