package load

import (
	"maps"
	"strconv"
	"strings"
	"time"
)

// summarise collects every connection's figures once all have stopped.
func (r *runner) summarise(attempted int, elapsed time.Duration) *Summary {
	cfg := r.cfg
	s := &Summary{
		Addr: cfg.Addr, Conns: cfg.Conns, DurationS: cfg.Duration.Seconds(), RampS: cfg.Ramp.Seconds(),
		ElapsedS: elapsed.Seconds(),
	}
	var hs []time.Duration
	for _, c := range r.conns {
		if c.handshake > 0 {
			hs = append(hs, c.handshake)
		}
	}
	s.Connections = ConnStats{
		Attempted: attempted, Established: len(hs), DialFailed: r.dialFailed,
		HandshakeFailed: r.hsFailed, NotStarted: cfg.Conns - attempted, Dropped: r.nDropped,
	}
	s.Connections.Failed = s.Connections.DialFailed + s.Connections.HandshakeFailed
	s.Connections.InHandshake = max(0, attempted-s.Connections.Established-s.Connections.Failed)
	s.Handshake = quantilesOf(hs)
	s.Shares = r.shareStats()
	s.Notifies, s.Malformed = r.tally.notifies.Load(), r.tally.malformed.Load()
	s.Fanout = fanout(r.conns, r.endAt)
	return s
}

func (r *runner) shareStats() ShareStats {
	t := &r.tally
	st := ShareStats{
		Rejected: map[string]uint64{}, ByKind: map[string]map[string]uint64{},
		Unsolved: t.unsolved.Load(), SkippedBusy: t.skippedBusy.Load(),
	}
	var answered uint64
	for kind, n := range t.sentBy {
		st.Sent += n
		if kind == kindValid {
			st.Valid += n
		} else {
			st.Invalid += n
		}
	}
	for kind, outcomes := range t.byKind {
		st.ByKind[kind] = maps.Clone(outcomes)
		for outcome, n := range outcomes {
			answered += n
			if code, ok := strings.CutPrefix(outcome, "code "); ok {
				st.Rejected[code] += n
			} else {
				st.Accepted += n
			}
		}
	}
	if st.Sent > answered {
		st.Unanswered = st.Sent - answered
	}
	st.Reply = quantilesOf(t.replies)
	return st
}

// fanout computes notify broadcast latency. A (connection, job) pair
// counts when the connection had joined (received its first job) no later
// than the job's earliest arrival anywhere; latency is its arrival minus
// that earliest arrival. Arrivals after end, when the tool began closing
// its connections, do not count: the server is busy with the closes then.
func fanout(conns []*conn, end time.Time) FanoutStats {
	earliest := map[string]time.Time{}
	for _, c := range conns {
		for _, a := range c.arrivals {
			if !end.IsZero() && a.at.After(end) {
				continue
			}
			if e, ok := earliest[a.job]; !ok || a.at.Before(e) {
				earliest[a.job] = a.at
			}
		}
	}
	receivers := map[string]int{}
	var lat []time.Duration
	for _, c := range conns {
		for _, a := range c.arrivals {
			e, ok := earliest[a.job]
			if !ok || c.joined.After(e) || (!end.IsZero() && a.at.After(end)) {
				continue
			}
			receivers[a.job]++
			lat = append(lat, a.at.Sub(e))
		}
	}
	st := FanoutStats{Jobs: len(earliest), Quantiles: quantilesOf(lat)}
	var lastJoin time.Time
	joined := 0
	for _, c := range conns {
		if !c.joined.IsZero() {
			joined++
			if c.joined.After(lastJoin) {
				lastJoin = c.joined
			}
		}
	}
	for job, e := range earliest {
		if e.After(lastJoin) {
			st.JobsAllUp++
			if receivers[job] == joined {
				st.JobsToAll++
			}
		}
	}
	return st
}

// codeKey is the ByKind outcome label for a reject code.
func codeKey(code int) string { return "code " + strconv.Itoa(code) }
