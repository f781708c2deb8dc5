package load

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p1 of 100", ms(hundred...), 1, time.Millisecond},
		{"tiny p gives min", ms(5, 6), 0.001, 5 * time.Millisecond},
		{"p above 100 clamps", ms(5, 6), 150, 6 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
			}
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		bad      bool
	}{
		{name: "status", in: "Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n", want: 1234 * 1024},
		{name: "missing", in: "Name:\tx\n", bad: true},
		{name: "bad unit", in: "VmRSS:\t12 MB\n", bad: true},
		{name: "bad number", in: "VmRSS:\tx kB\n", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS(strings.NewReader(tc.in))
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, tc.want, tc.bad)
			}
		})
	}
	if v, err := ReadRSS(os.Getpid()); err != nil || v <= 0 {
		t.Errorf("ReadRSS(self) = %d, %v", v, err)
	}
}

func TestRaiseNofile(t *testing.T) {
	lim := RaiseNofile()
	if lim.Hard == 0 || lim.Soft+1 < lim.Hard {
		t.Errorf("RaiseNofile = %+v, want soft at least hard-1", lim)
	}
}

func TestSummaryOutput(t *testing.T) {
	s := &Summary{
		Addr: "127.0.0.1:1", Conns: 2,
		Shares: ShareStats{Rejected: map[string]uint64{"23": 1},
			ByKind: map[string]map[string]uint64{"low_difficulty": {"code 23": 1}}},
		Memory: &MemoryStats{PID: 9, BeforeBytes: 1, AfterBytes: 3, PerConnBytes: 1},
	}
	var text, js bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"connections  attempted", "rejected {23:1}", "low_difficulty {code 23:1}", "per connection 1 B", "fan-out"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("summary JSON: %v", err)
	}
	for _, k := range []string{"connections", "handshake", "shares", "fanout", "memory", "rlimit_nofile"} {
		if _, ok := back[k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, js.String())
		}
	}
}

func TestNotifyJobID(t *testing.T) {
	for _, tc := range []struct {
		line, want string
		ok         bool
	}{
		{`{"id":null,"method":"mining.notify","params":["b1","00",true]}`, "b1", true},
		{`{"id":null,"method":"mining.set_difficulty","params":[2]}`, "", false},
		{`{"id":null,"method":"mining.notify","params":[]}`, "", false},
		{`{"id":null,"method":"mining.notify","params":["a\"b"]}`, "", false},
	} {
		got, ok := notifyJobID([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("notifyJobID(%s) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestFanoutEndCut checks the pairing rules: a job counts from its
// earliest arrival, a connection that joined after that is left out, and
// arrivals after the end of the run are ignored.
func TestFanoutEndCut(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	end := ms(1000)
	early := &conn{joined: ms(0), arrivals: []arrival{{"a", ms(100)}, {"b", ms(990)}, {"c", ms(1001)}}}
	late := &conn{joined: ms(0), arrivals: []arrival{{"a", ms(130)}, {"b", ms(1200)}}}
	joinedLate := &conn{joined: ms(500), arrivals: []arrival{{"b", ms(995)}}}
	joinedAfter := &conn{joined: ms(992), arrivals: []arrival{{"b", ms(999)}}}
	got := fanout([]*conn{early, late, joinedLate, joinedAfter}, end)
	want := FanoutStats{Jobs: 2, JobsAllUp: 0, JobsToAll: 0,
		Quantiles: Quantiles{Count: 4, P50: 0, P99: 30, Max: 30}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fanout (-want +got):\n%s", diff)
	}
	all := fanout([]*conn{early, late}, time.Time{})
	if all.Jobs != 3 || all.Count != 5 || all.Max != 210 || all.JobsToAll != 2 {
		t.Errorf("fanout without an end = %+v, want 3 jobs, 5 pairs, max 210 ms, 2 to all", all)
	}
}
