package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted ascending values: the smallest value with at least p% of the
// values at or below it. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Quantiles are latency figures in milliseconds.
type Quantiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// quantilesOf sorts ds in place and summarises them.
func quantilesOf(ds []time.Duration) Quantiles {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := Quantiles{Count: len(ds)}
	if len(ds) > 0 {
		q.P50, q.P99, q.Max = ms(Percentile(ds, 50)), ms(Percentile(ds, 99)), ms(ds[len(ds)-1])
	}
	return q
}

// ConnStats counts connections: Attempted = Established + Failed +
// InHandshake (still handshaking when the run ended), Failed = DialFailed +
// HandshakeFailed; Dropped counts established ones the server closed
// before the end.
type ConnStats struct {
	Attempted       int `json:"attempted"`
	Established     int `json:"established"`
	Failed          int `json:"failed"`
	DialFailed      int `json:"dial_failed"`
	HandshakeFailed int `json:"handshake_failed"`
	InHandshake     int `json:"in_handshake"`
	NotStarted      int `json:"not_started"`
	Dropped         int `json:"dropped"`
}

// ShareStats counts submitted shares and their replies. Rejected is keyed
// by the error code as text ("23"; "0" when the pool gave none); ByKind is
// keyed by what was sent ("valid", "low_difficulty", "duplicate",
// "bad_ntime") then by outcome ("accepted" or "code NN").
type ShareStats struct {
	Sent        uint64                       `json:"sent"`
	Valid       uint64                       `json:"valid"`
	Invalid     uint64                       `json:"invalid"`
	Accepted    uint64                       `json:"accepted"`
	Rejected    map[string]uint64            `json:"rejected"`
	Unsolved    uint64                       `json:"unsolved"`
	SkippedBusy uint64                       `json:"skipped_busy"`
	Unanswered  uint64                       `json:"unanswered"`
	ByKind      map[string]map[string]uint64 `json:"by_kind"`
	Reply       Quantiles                    `json:"reply"`
}

// FanoutStats describes job broadcast latency: for each (connection, job)
// pair the arrival minus the job's earliest arrival on any connection.
// JobsAllUp counts jobs first seen after every connection had joined, and
// JobsToAll those of them that reached every connection.
type FanoutStats struct {
	Jobs      int `json:"jobs"`
	JobsAllUp int `json:"jobs_all_up"`
	JobsToAll int `json:"jobs_to_all"`
	Quantiles
}

// MemoryStats is the server's VmRSS before connecting and once all
// connections were up and idle.
type MemoryStats struct {
	PID          int     `json:"pid"`
	BeforeBytes  int64   `json:"rss_before_bytes"`
	AfterBytes   int64   `json:"rss_after_bytes"`
	PerConnBytes float64 `json:"bytes_per_conn"`
	Note         string  `json:"note,omitempty"`
}

// Rlimit is this process's RLIMIT_NOFILE after start-up.
type Rlimit struct {
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
	Note string `json:"note"`
}

// Summary is the result of a run.
type Summary struct {
	Addr         string       `json:"addr"`
	Conns        int          `json:"conns"`
	DurationS    float64      `json:"duration_s"`
	RampS        float64      `json:"ramp_s"`
	ElapsedS     float64      `json:"elapsed_s"`
	Connections  ConnStats    `json:"connections"`
	Handshake    Quantiles    `json:"handshake"`
	Shares       ShareStats   `json:"shares"`
	Notifies     uint64       `json:"notifies"`
	Malformed    uint64       `json:"malformed_lines"`
	Fanout       FanoutStats  `json:"fanout"`
	Memory       *MemoryStats `json:"memory,omitempty"`
	RlimitNofile Rlimit       `json:"rlimit_nofile"`
}

// WriteJSON prints s as one JSON object and a newline.
func (s *Summary) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("stratum-load: encode summary: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText prints s for people, one topic a line.
func (s *Summary) WriteText(w io.Writer) error {
	c, sh, f := s.Connections, s.Shares, s.Fanout
	var b strings.Builder
	fmt.Fprintf(&b, "stratum-load %s: %d connections, ramp %.1fs, bound %.1fs, ran %.2fs\n",
		s.Addr, s.Conns, s.RampS, s.DurationS, s.ElapsedS)
	fmt.Fprintf(&b, "connections  attempted %d  established %d  failed %d (dial %d, handshake %d)  in_handshake %d  not_started %d  dropped %d\n",
		c.Attempted, c.Established, c.Failed, c.DialFailed, c.HandshakeFailed, c.InHandshake, c.NotStarted, c.Dropped)
	fmt.Fprintf(&b, "handshake    p50 %.2fms  p99 %.2fms  max %.2fms\n", s.Handshake.P50, s.Handshake.P99, s.Handshake.Max)
	fmt.Fprintf(&b, "shares       sent %d (valid %d, invalid %d)  accepted %d  rejected %s  unsolved %d  skipped_busy %d  unanswered %d\n",
		sh.Sent, sh.Valid, sh.Invalid, sh.Accepted, countsText(sh.Rejected), sh.Unsolved, sh.SkippedBusy, sh.Unanswered)
	for _, k := range slices.Sorted(maps.Keys(sh.ByKind)) {
		fmt.Fprintf(&b, "  %-14s %s\n", k, countsText(sh.ByKind[k]))
	}
	fmt.Fprintf(&b, "share reply  p50 %.2fms  p99 %.2fms  max %.2fms\n", sh.Reply.P50, sh.Reply.P99, sh.Reply.Max)
	fmt.Fprintf(&b, "notify       received %d  malformed_lines %d\n", s.Notifies, s.Malformed)
	fmt.Fprintf(&b, "fan-out      jobs %d  after_all_up %d  reached_all %d  pairs %d  p50 %.2fms  p99 %.2fms  max %.2fms\n",
		f.Jobs, f.JobsAllUp, f.JobsToAll, f.Count, f.P50, f.P99, f.Max)
	if m := s.Memory; m != nil {
		fmt.Fprintf(&b, "memory       pid %d  rss before %d B  after %d B  per connection %.0f B", m.PID, m.BeforeBytes, m.AfterBytes, m.PerConnBytes)
		if m.Note != "" {
			fmt.Fprintf(&b, "  (%s)", m.Note)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "rlimit       nofile soft %d hard %d (%s)\n", s.RlimitNofile.Soft, s.RlimitNofile.Hard, s.RlimitNofile.Note)
	_, err := io.WriteString(w, b.String())
	return err
}

func countsText(m map[string]uint64) string {
	if len(m) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// ReadRSS returns the VmRSS of process pid in bytes, from /proc.
func ReadRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("stratum-load: rss: %w", err)
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS reads the "VmRSS:  1234 kB" line of a /proc status file.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("stratum-load: rss: bad line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("stratum-load: rss: bad line %q", sc.Text())
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("stratum-load: rss: %w", err)
	}
	return 0, fmt.Errorf("stratum-load: rss: no VmRSS line")
}

// RaiseNofile makes sure the soft RLIMIT_NOFILE is at the hard one. The Go
// runtime (1.19+) already raises it at start-up, to hard-1; this reports the
// result and raises it itself only if it finds it lower than that.
func RaiseNofile() Rlimit {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return Rlimit{Note: "getrlimit: " + err.Error()}
	}
	switch {
	case lim.Cur >= lim.Max:
		return Rlimit{Soft: lim.Cur, Hard: lim.Max, Note: "soft already at hard"}
	case lim.Cur == lim.Max-1:
		// The runtime leaves one below the hard limit on purpose: it
		// restores the original limit for child processes only while the
		// soft limit still has that value. One descriptor is not worth
		// losing that.
		return Rlimit{Soft: lim.Cur, Hard: lim.Max, Note: "raised to hard-1 by the Go runtime at start-up"}
	}
	want := lim
	want.Cur = want.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return Rlimit{Soft: lim.Cur, Hard: lim.Max, Note: "setrlimit: " + err.Error()}
	}
	return Rlimit{Soft: want.Cur, Hard: want.Max, Note: "raised by stratum-load"}
}
