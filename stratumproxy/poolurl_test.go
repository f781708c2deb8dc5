package stratumproxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePoolURL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    PoolURL
		display string
	}{
		{"stratum+tcp://pool.example.com:3333", PoolURL{Scheme: SchemeTCP, Host: "pool.example.com", Port: "3333"},
			"stratum+tcp://pool.example.com:3333"},
		{"stratum+tcp://bc1qabc.rig1:x@pool.example.com:3333", PoolURL{Scheme: SchemeTCP, Host: "pool.example.com", Port: "3333", User: "bc1qabc.rig1", Password: "x"},
			"stratum+tcp://bc1qabc.rig1@pool.example.com:3333"},
		{"STRATUM+SSL://u@[::1]:443/", PoolURL{Scheme: SchemeSSL, Host: "::1", Port: "443", User: "u"},
			"stratum+ssl://u@[::1]:443"},
		{"stratum+tls://u:p%40ss@10.0.0.1:4444", PoolURL{Scheme: SchemeTLS, Host: "10.0.0.1", Port: "4444", User: "u", Password: "p@ss"},
			"stratum+tls://u@10.0.0.1:4444"},
		{"  127.0.0.1:3333 ", PoolURL{Scheme: SchemeTCP, Host: "127.0.0.1", Port: "3333"},
			"stratum+tcp://127.0.0.1:3333"},
		{"me@mail.example:se:cret@pool:1", PoolURL{Scheme: SchemeTCP, Host: "pool", Port: "1", User: "me@mail.example", Password: "se:cret"},
			"stratum+tcp://me@mail.example@pool:1"},
	} {
		got, err := ParsePoolURL(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
		if d := got.String(); d != tc.display {
			t.Errorf("%q: display %q, want %q", tc.in, d, tc.display)
		}
		if got.Password != "" && strings.Contains(got.String(), ":"+got.Password+"@") {
			t.Errorf("%q: display leaks the password", tc.in)
		}
	}
}

func TestParsePoolURLErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"http://pool:3333", "unsupported scheme"},
		{"stratum2+tcp://pool:3333", "Stratum V2"},
		{"stratum+tcp://user:hunter2@pool.example.com", "port is required"},
		{"stratum+tcp://user:hunter2@:3333", "missing host"},
		{"stratum+tcp://pool:0", "1..65535"},
		{"stratum+tcp://pool:99999", "1..65535"},
		{"stratum+tcp://pool:port", "1..65535"},
		{"stratum+tcp://pool:3333/path", "only HOST:PORT"},
		{"stratum+tcp://us%zz:hunter2@pool:1", "percent-encoding"},
		{"stratum+tcp://u:hunter2%@pool:1", "percent-encoding"},
	} {
		_, err := ParsePoolURL(tc.in)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want ErrBadURL mentioning %q", tc.in, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error leaks the password: %v", tc.in, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	if got := RedactURL("stratum+tcp://w:hunter2@h:1"); got != "stratum+tcp://w@h:1" {
		t.Errorf("RedactURL = %q", got)
	}
	if got := RedactURL("nonsense://w:hunter2@h"); strings.Contains(got, "hunter2") {
		t.Errorf("RedactURL of a bad URL leaks: %q", got)
	}
}

func TestSameDomain(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"pool.example.com", "pool.example.com", true},
		{"pool.example.com", "eu.example.com", true},
		{"pool.example.com", "EU.Example.com", true},
		{"pool.example.com", "pool.evil.com", false},
		{"localhost", "localhost", true},
		{"localhost", "otherhost", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "10.0.0.1", false}, // addresses are not domains
		{"pool.example.com", "example.com", false},
	} {
		if got := poolSameDomain(tc.a, tc.b); got != tc.want {
			t.Errorf("poolSameDomain(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func FuzzParsePoolURL(f *testing.F) {
	for _, s := range []string{
		"stratum+tcp://u:p@pool.example.com:3333", "stratum+ssl://[::1]:443", "h:1",
		"stratum+tcp://u:p%zz@h:1", "stratum+tcp://:1", "a@b@c:2/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParsePoolURL(s)
		if err != nil {
			return
		}
		again, err := ParsePoolURL(u.String())
		if err != nil {
			t.Fatalf("display form %q of %q does not parse: %v", u.String(), s, err)
		}
		if again.Host != u.Host || again.Port != u.Port || again.User != u.User || again.Scheme != u.Scheme {
			t.Fatalf("round trip of %q: %+v then %+v", s, u, again)
		}
	})
}
