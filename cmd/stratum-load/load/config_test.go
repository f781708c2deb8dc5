package load

import (
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseArgs(t *testing.T) {
	defaults := Config{
		Addr: "127.0.0.1:3334", Conns: 1, Duration: 30 * time.Second, Ramp: time.Second,
		MaxHashes: DefaultMaxHashes, User: "stratum-load", Password: "x",
		HandshakeTimeout: 10 * time.Second, Settle: time.Second, ReaderPriority: PriorityAuto,
	}
	full := defaults
	full.Addr, full.Conns, full.Duration, full.Ramp = "10.0.0.1:3333", 10000, 30*time.Second, 5*time.Second
	full.SubmitRate, full.Invalid, full.User, full.Password, full.PID, full.JSON = 2, 0.1, "w", "p", 42, true
	full.SourceIPs = []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	full.Readers, full.ReaderPriority = 2, PriorityNormal
	tests := []struct {
		name string
		args []string
		want Config
		bad  bool
	}{
		{name: "defaults", args: nil, want: defaults},
		{name: "full", args: []string{"--addr", "10.0.0.1:3333", "--conns", "10000", "--duration", "30s",
			"--ramp", "5s", "--submit-rate", "2", "--invalid", "0.1", "--user", "w", "--password", "p",
			"--source-ips", "127.0.0.2-127.0.0.3", "--pid", "42", "--json", "--readers", "2",
			"--reader-priority", "normal"}, want: full},
		{name: "negative readers", args: []string{"--readers", "-1"}, bad: true},
		{name: "unknown reader priority", args: []string{"--reader-priority", "high"}, bad: true},
		{name: "conns over cap", args: []string{"--conns", "60001"}, bad: true},
		{name: "conns zero", args: []string{"--conns", "0"}, bad: true},
		{name: "ramp not below duration", args: []string{"--duration", "2s", "--ramp", "2s"}, bad: true},
		{name: "negative duration", args: []string{"--duration", "-1s"}, bad: true},
		{name: "invalid above one", args: []string{"--invalid", "1.5"}, bad: true},
		{name: "negative rate", args: []string{"--submit-rate", "-1"}, bad: true},
		{name: "NaN rate", args: []string{"--submit-rate", "NaN"}, bad: true},
		{name: "bad source ips", args: []string{"--source-ips", "127.0.0.9-127.0.0.1"}, bad: true},
		{name: "addr without port", args: []string{"--addr", "localhost"}, bad: true},
		{name: "empty user", args: []string{"--user", ""}, bad: true},
		{name: "unknown flag", args: []string{"--nope"}, bad: true},
		{name: "stray argument", args: []string{"extra"}, bad: true},
		{name: "help", args: []string{"-h"}, bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseArgs(tc.args, io.Discard)
			if tc.bad {
				if !errors.Is(err, ErrUsage) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSourceIPs(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		in   string
		want []netip.Addr
		bad  bool
	}{
		{in: "127.0.0.2", want: []netip.Addr{a("127.0.0.2")}},
		{in: "127.0.0.2-127.0.0.4", want: []netip.Addr{a("127.0.0.2"), a("127.0.0.3"), a("127.0.0.4")}},
		{in: "127.0.0.255-127.0.1.0", want: []netip.Addr{a("127.0.0.255"), a("127.0.1.0")}},
		{in: " 127.0.0.1 , 127.0.0.5-127.0.0.5", want: []netip.Addr{a("127.0.0.1"), a("127.0.0.5")}},
		{in: "::1-::2", want: []netip.Addr{a("::1"), a("::2")}},
		{in: "", bad: true},
		{in: "127.0.0.1,", bad: true},
		{in: "127.0.0.300", bad: true},
		{in: "127.0.0.5-127.0.0.4", bad: true},
		{in: "127.0.0.1-::1", bad: true},
		{in: "127.0.0.1-", bad: true},
		{in: "10.0.0.0-10.1.0.0", bad: true}, // 65537 addresses
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSourceIPs(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseSourceIPs(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseSourceIPs(f *testing.F) {
	for _, s := range []string{"127.0.0.2-127.0.0.80", "::1", "1.2.3.4,5.6.7.8-5.6.7.9", "x-y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ips, err := ParseSourceIPs(s)
		if err == nil && (len(ips) == 0 || len(ips) > MaxSourceIPs) {
			t.Fatalf("ParseSourceIPs(%q): %d addresses without error", s, len(ips))
		}
	})
}

func TestReaderIdle(t *testing.T) {
	for _, tc := range []struct {
		prio string
		rate float64
		want bool
	}{
		{"", 0, true}, {"", 2, false},
		{PriorityAuto, 0, true}, {PriorityAuto, 0.5, false},
		{PriorityIdle, 2, true}, {PriorityNormal, 0, false},
	} {
		c := Config{ReaderPriority: tc.prio, SubmitRate: tc.rate}
		if got := c.readerIdle(); got != tc.want {
			t.Errorf("priority %q at %v submits/s: idle %v, want %v", tc.prio, tc.rate, got, tc.want)
		}
	}
}
