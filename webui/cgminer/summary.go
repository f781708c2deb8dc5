package cgminer

import (
	"fmt"
	"math"
	"net/url"

	"github.com/kilnfw/kiln/webui"
)

// logInterval is the window of the short hash rate ("MHS 5s").
const logInterval = 5

// diff1Hashes is the expected number of hashes per difficulty-1 share.
const diff1Hashes = 1 << 32

func (s *Server) summaryCmd(call) reply {
	sum := s.backend.Summary()
	pools := s.backend.Pools()
	devs := collectDevices(s.backend.Boards(), sum)
	elapsed := finite(sum.UptimeS)
	av := sum.Hashrate15m
	var acc, rej, stale float64
	for _, p := range pools {
		acc += float64(p.Accepted) * finite(p.Difficulty)
		rej += float64(p.Rejected) * finite(p.Difficulty)
		stale += float64(p.Stale) * finite(p.Difficulty)
	}
	// Hardware errors are counted against valid nonces where chips report
	// them, else against accepted shares (the CPU backend).
	good := float64(sum.Accepted)
	if n := totalNonces(devs); n > 0 {
		good = float64(n)
	}
	shares := float64(sum.Accepted + sum.Rejected + sum.Stale)
	return single(codeSummary, "Summary", "SUMMARY", record{
		{"Elapsed", roundInt(math.Floor(elapsed))},
		{"MHS av", mhs(av)},
		{fmt.Sprintf("MHS %ds", logInterval), mhs(sum.Hashrate5s)},
		{"MHS 1m", mhs(sum.Hashrate)},
		{"MHS 5m", mhs(sum.Hashrate15m)},
		{"MHS 15m", mhs(sum.Hashrate15m)},
		{"Found Blocks", intVal(0)},
		{"Getworks", intVal(0)},
		{"Accepted", uintVal(sum.Accepted)},
		{"Rejected", uintVal(sum.Rejected)},
		{"Hardware Errors", uintVal(sum.HWErrors)},
		{"Utility", fixed2(perMinute(float64(sum.Accepted), elapsed))},
		{"Discarded", intVal(0)},
		{"Stale", uintVal(sum.Stale)},
		{"Get Failures", intVal(0)},
		{"Local Work", intVal(0)},
		{"Remote Failures", intVal(0)},
		{"Network Blocks", intVal(0)},
		{"Total MH", floatVal{finite(av) * elapsed / 1e6, 4}},
		{"Work Utility", fixed2(finite(av) * 60 / diff1Hashes)},
		{"Difficulty Accepted", diffVal(acc)},
		{"Difficulty Rejected", diffVal(rej)},
		{"Difficulty Stale", diffVal(stale)},
		{"Best Share", roundUint(sum.BestShare)},
		{"Device Hardware%", pctVal(percent(float64(sum.HWErrors), float64(sum.HWErrors)+good))},
		{"Device Rejected%", pctVal(percent(float64(sum.Rejected), shares))},
		{"Pool Rejected%", pctVal(percent(float64(sum.Rejected), shares))},
		{"Pool Stale%", pctVal(percent(float64(sum.Stale), shares))},
		{"Last getwork", intVal(s.now().Unix())},
	})
}

// percent returns part/whole×100, 0 for an empty whole.
func percent(part, whole float64) float64 {
	if !(whole > 0) {
		return 0
	}
	return part / whole * 100
}

// perMinute returns n per minute over elapsed seconds.
func perMinute(n, elapsed float64) float64 {
	if !(elapsed > 0) {
		return 0
	}
	return n / elapsed * 60
}

// roundUint converts a non-negative float figure to an unsigned field.
func roundUint(f float64) uintVal {
	f = math.Round(finite(f))
	switch {
	case f <= 0:
		return 0
	case f >= math.MaxUint64:
		return math.MaxUint64
	}
	return uintVal(f)
}

func (s *Server) poolsCmd(call) reply {
	pools := s.backend.Pools()
	if len(pools) == 0 {
		return reply{status: status{sevError, codeNoPools, "No pools"}}
	}
	recs := make([]record, len(pools))
	for i, p := range pools {
		recs[i] = poolRecord(i, p)
	}
	return reply{
		status:  status{sevSuccess, codePools, fmt.Sprintf("%d Pool(s)", len(pools))},
		section: "POOLS",
		records: recs,
	}
}

// poolRecord is one POOLS record with cgminer's fields. Counters the
// controller does not keep are 0; difficulty totals are estimated at the
// pool's current difficulty.
func poolRecord(id int, p webui.Pool) record {
	d := finite(p.Difficulty)
	var lastShare int64
	var lastDiff float64
	if p.LastShare != nil {
		lastShare, lastDiff = p.LastShare.Unix(), d
	}
	shares := float64(p.Accepted + p.Rejected + p.Stale)
	return record{
		{"POOL", intVal(id)},
		{"URL", strVal(p.URL)},
		{"Status", strVal(poolStatus(p))},
		{"Priority", intVal(p.Priority)},
		{"Quota", intVal(1)},
		{"Long Poll", strVal("N")},
		{"Getworks", intVal(0)},
		{"Accepted", uintVal(p.Accepted)},
		{"Rejected", uintVal(p.Rejected)},
		{"Works", intVal(0)},
		{"Discarded", intVal(0)},
		{"Stale", uintVal(p.Stale)},
		{"Get Failures", intVal(0)},
		{"Remote Failures", intVal(0)},
		{"User", strVal(p.User)},
		{"Last Share Time", intVal(lastShare)},
		{"Diff1 Shares", roundUint(float64(p.Accepted) * d)},
		{"Proxy Type", strVal("")},
		{"Proxy", strVal("")},
		{"Difficulty Accepted", diffVal(float64(p.Accepted) * d)},
		{"Difficulty Rejected", diffVal(float64(p.Rejected) * d)},
		{"Difficulty Stale", diffVal(float64(p.Stale) * d)},
		{"Last Share Difficulty", diffVal(lastDiff)},
		{"Work Difficulty", diffVal(d)},
		{"Has Stratum", boolVal(true)},
		{"Stratum Active", boolVal(p.Active)},
		{"Stratum URL", strVal(stratumHost(p.URL))},
		{"Stratum Difficulty", diffVal(d)},
		{"Has Vmask", boolVal(p.VersionRolling)},
		{"Has GBT", boolVal(false)},
		{"Best Share", intVal(0)},
		{"Pool Rejected%", pctVal(percent(float64(p.Rejected), shares))},
		{"Pool Stale%", pctVal(percent(float64(p.Stale), shares))},
		{"Bad Work", intVal(0)},
		{"Current Block Height", intVal(0)},
		{"Current Block Version", intVal(0)},
	}
}

// poolStatus maps Kiln's pool states onto cgminer's.
func poolStatus(p webui.Pool) string {
	switch p.Status {
	case "disabled":
		return "Disabled"
	case "active", "standby":
		return "Alive"
	case "connecting", "dead":
		return "Dead"
	}
	return "Unknown"
}

// stratumHost returns the host name of a pool URL, as cgminer's
// "Stratum URL" shows it.
func stratumHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
