package cgminer

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllow(t *testing.T) {
	for _, tc := range []struct {
		allow string
		// addr → level: '-' none, 'R' read, 'W' write
		want map[string]byte
	}{
		{"W:127.0.0.1,R:0/0", map[string]byte{"127.0.0.1": 'W', "127.0.0.2": 'R', "10.1.2.3": 'R', "::1": 'R'}},
		{"R:10.0.0.0/8", map[string]byte{"10.255.0.1": 'R', "11.0.0.1": '-', "127.0.0.1": '-'}},
		{"10.0.0/24", map[string]byte{"10.0.0.77": 'R', "10.0.1.1": '-'}},
		{"w:192.168/16", map[string]byte{"192.168.4.4": 'W', "192.169.0.1": '-'}},
		{"10", map[string]byte{"10.0.0.0": 'R', "10.0.0.1": '-'}},
		{"0/0", map[string]byte{"1.2.3.4": 'R', "2001:db8::1": 'R'}},
		{"W:::1,R:fe80::/10", map[string]byte{"::1": 'W', "fe80::1%eth0": 'R', "2001:db8::1": '-', "127.0.0.1": '-'}},
		{"W:10.0.0.1", map[string]byte{"::ffff:10.0.0.1": 'W', "::ffff:10.0.0.2": '-'}},
		{"a::1", map[string]byte{"a::1": 'R'}},
		{"R:10.0.0.1, W:10.0.0.0/8 ,", map[string]byte{"10.0.0.1": 'R', "10.0.0.2": 'W'}},
		{"W:10.1.2.3/8", map[string]byte{"10.9.9.9": 'W'}},
	} {
		t.Run(tc.allow, func(t *testing.T) {
			l, err := parseAllow(tc.allow)
			if err != nil {
				t.Fatal(err)
			}
			for addr, want := range tc.want {
				if got := levelLetter(l.level(netip.MustParseAddr(addr))); got != want {
					t.Errorf("%s: level %c, want %c", addr, got, want)
				}
			}
		})
	}
}

func levelLetter(l level) byte { return "-RW"[l] }

func TestDefaultAllow(t *testing.T) {
	s, err := New(Config{Backend: newFixture(), Allow: "  "})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]byte{"127.0.0.1": 'W', "127.9.9.9": 'W', "::1": 'W',
		"::ffff:127.0.0.1": 'W', "192.168.1.10": 'R', "2001:db8::5": 'R'} {
		if got := levelLetter(s.allow.level(netip.MustParseAddr(addr))); got != want {
			t.Errorf("default list: %s level %c, want %c", addr, got, want)
		}
	}
}

func TestParseAllowErrors(t *testing.T) {
	for _, tc := range []struct{ allow, wantErr string }{
		{",", "no entries"},
		{"W:*", "bad address"},
		{"A:0/0", "group \"A\""},
		{"W:10.0.0.256", "0 to 255"},
		{"10.0.0.0.1", "more than 4 octets"},
		{"10..0.1", "is not 0 to 255"},
		{"10.0.0.1/33", "bad prefix length"},
		{"10.0.0.1/", "bad prefix length"},
		{"10.0.0.1/+8", "bad prefix length"},
		{"::1/129", "bad prefix length"},
		{"fe80::1%eth0", "zones"},
		{"host.example", "bad address"},
		{"R:10.0.0.0/8,W:", "bad address"},
	} {
		t.Run(tc.allow, func(t *testing.T) {
			_, err := parseAllow(tc.allow)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseAllow(%q) = %v, want an error containing %q", tc.allow, err, tc.wantErr)
			}
		})
	}
}

func FuzzParseAllow(f *testing.F) {
	for _, seed := range []string{"W:127.0.0.1,R:0/0", "10.0.0/24", "W:::1", "A:1.2.3.4", "W:*", "0/0",
		"R:fe80::/10", "::ffff:10.0.0.1/104", "1.2.3.4/32,", ""} {
		f.Add(seed, "10.0.0.1")
	}
	f.Fuzz(func(t *testing.T, allow, addr string) {
		l, err := parseAllow(allow)
		if err != nil {
			if l != nil {
				t.Fatal("error with a list")
			}
			return
		}
		if len(l) == 0 {
			t.Fatal("empty list without error")
		}
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		if lv := l.level(a); lv < levelNone || lv > levelWrite {
			t.Fatalf("level %d out of range", lv)
		}
		for _, r := range l {
			if !r.any && !r.prefix.IsValid() {
				t.Fatalf("rule %+v has no valid prefix", r)
			}
		}
	})
}
