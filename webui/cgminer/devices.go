package cgminer

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/kilnfw/kiln/webui"
)

// device is one ASC of DEVS: a hash chain, or a board without chains.
type device struct {
	id          int
	board       int
	chain       int // -1 for a board without chains
	kind, model string
	status      string
	tempC       float64
	chipMaxC    float64 // hottest chip, tempC where chips report none
	hs5s, hs1m  float64
	hs15m       float64
	hw, nonces  uint64
	diff1       float64
	accepted    uint64
	rejected    uint64
	lastNonce   time.Time
	chips       int
	chipStatus  string // bmminer's chain_acs: o per good chip, x per bad
	freqMHz     float64
	chipFreqMHz float64 // mean chip frequency
	voltageMV   float64
}

// collectDevices lists the devices of the boards in order. A lone device
// is the whole machine, so it carries the session totals and rates.
func collectDevices(boards []webui.Board, sum webui.Summary) []device {
	var devs []device
	for _, b := range boards {
		if len(b.Chains) == 0 {
			devs = append(devs, device{
				id: len(devs), board: b.Index, chain: -1, kind: b.Kind, model: b.Model,
				status: "Alive", hs5s: b.HashrateHS, hs1m: b.HashrateHS, hs15m: b.HashrateHS,
			})
			continue
		}
		for _, ch := range b.Chains {
			devs = append(devs, chainDevice(len(devs), b, ch))
		}
	}
	if len(devs) == 1 {
		d := &devs[0]
		d.hs5s, d.hs1m, d.hs15m = sum.Hashrate5s, sum.Hashrate, sum.Hashrate15m
		d.accepted, d.rejected = sum.Accepted, sum.Rejected
		if d.chain < 0 {
			d.hw = sum.HWErrors
			if sum.LastShare != nil {
				d.lastNonce = *sum.LastShare
			}
		}
	}
	return devs
}

func chainDevice(id int, b webui.Board, ch webui.Chain) device {
	d := device{
		id: id, board: b.Index, chain: ch.Index, kind: b.Kind, model: b.Model,
		status: chainStatus(ch.State), tempC: ch.TemperatureC, chipMaxC: ch.TemperatureC,
		hs5s: ch.HashrateHS, hs1m: ch.HashrateHS, hs15m: ch.HashrateHS,
		hw: ch.HWErrors, chips: len(ch.Chips),
		freqMHz: ch.FrequencyMHz, chipFreqMHz: ch.FrequencyMHz, voltageMV: ch.VoltageMV,
	}
	acs := make([]byte, 0, len(ch.Chips)+len(ch.Chips)/8)
	var freqSum float64
	hottest := math.Inf(-1)
	for i, c := range ch.Chips {
		d.nonces += c.Nonces
		freqSum += finite(c.FrequencyMHz)
		if c.TemperatureC != 0 {
			hottest = max(hottest, finite(c.TemperatureC))
		}
		if c.LastNonce != nil && c.LastNonce.After(d.lastNonce) {
			d.lastNonce = *c.LastNonce
		}
		if i > 0 && i%8 == 0 {
			acs = append(acs, ' ')
		}
		if c.Responding {
			acs = append(acs, 'o')
		} else {
			acs = append(acs, 'x')
		}
	}
	d.chipStatus = string(acs)
	d.diff1 = float64(d.nonces) * finite(ch.ChipDifficulty)
	if freqSum > 0 {
		d.chipFreqMHz = freqSum / float64(len(ch.Chips))
	}
	if !math.IsInf(hottest, -1) {
		d.chipMaxC = hottest
	}
	return d
}

// chainStatus maps a chain state onto cgminer's device status.
func chainStatus(state string) string {
	switch state {
	case "mining":
		return "Alive"
	case "initializing":
		return "Initialising"
	case "lost":
		return "Dead"
	}
	return "Unknown"
}

func totalNonces(devs []device) uint64 {
	var n uint64
	for _, d := range devs {
		n += d.nonces
	}
	return n
}

// unixOrZero is t in Unix seconds, 0 for "never".
func unixOrZero(t time.Time) intVal {
	if t.IsZero() {
		return 0
	}
	return intVal(t.Unix())
}

func (s *Server) devsCmd(call) reply {
	sum := s.backend.Summary()
	devs := collectDevices(s.backend.Boards(), sum)
	if len(devs) == 0 {
		return reply{status: status{sevError, codeNoDevs, "No ASCs"}}
	}
	elapsed := finite(sum.UptimeS)
	recs := make([]record, len(devs))
	for i, d := range devs {
		recs[i] = devRecord(d, elapsed)
	}
	return reply{
		status:  status{sevSuccess, codeDevs, fmt.Sprintf("%d ASC(s)", len(devs))},
		section: "DEVS",
		records: recs,
	}
}

func devRecord(d device, elapsed float64) record {
	return record{
		{"ASC", intVal(d.id)},
		{"Name", strVal(driverName)},
		{"ID", intVal(d.id)},
		{"Enabled", strVal("Y")},
		{"Status", strVal(d.status)},
		{"Temperature", fixed2(d.tempC)},
		{"MHS av", mhs(d.hs15m)},
		{fmt.Sprintf("MHS %ds", logInterval), mhs(d.hs5s)},
		{"MHS 1m", mhs(d.hs1m)},
		{"MHS 5m", mhs(d.hs15m)},
		{"MHS 15m", mhs(d.hs15m)},
		{"Accepted", uintVal(d.accepted)},
		{"Rejected", uintVal(d.rejected)},
		{"Hardware Errors", uintVal(d.hw)},
		{"Utility", fixed2(perMinute(float64(d.accepted), elapsed))},
		{"Last Share Pool", intVal(-1)},
		{"Last Share Time", unixOrZero(d.lastNonce)},
		{"Total MH", floatVal{finite(d.hs15m) * elapsed / 1e6, 4}},
		{"Diff1 Work", diffVal(d.diff1)},
		{"Difficulty Accepted", diffVal(0)},
		{"Difficulty Rejected", diffVal(0)},
		{"Last Share Difficulty", diffVal(0)},
		{"Last Valid Work", unixOrZero(d.lastNonce)},
		{"Device Hardware%", pctVal(percent(float64(d.hw), float64(d.hw+d.nonces)))},
		{"Device Rejected%", pctVal(percent(float64(d.rejected), float64(d.accepted+d.rejected)))},
		{"Device Elapsed", roundInt(math.Floor(elapsed))},
	}
}

func (s *Server) devDetailsCmd(call) reply {
	devs := collectDevices(s.backend.Boards(), s.backend.Summary())
	recs := make([]record, len(devs))
	for i, d := range devs {
		path := fmt.Sprintf("board%d", d.board)
		if d.chain >= 0 {
			path += fmt.Sprintf("/chain%d", d.chain)
		}
		recs[i] = record{
			{"DEVDETAILS", intVal(d.id)},
			{"Name", strVal(driverName)},
			{"ID", intVal(d.id)},
			{"Driver", strVal(d.kind)},
			{"Kernel", strVal("")},
			{"Model", strVal(d.model)},
			{"Device Path", strVal(path)},
			{"Chips", intVal(d.chips)},
			{"Cores", intVal(0)},
			{"Frequency", roundInt(d.freqMHz * 1e6)},
			{"Voltage", fixed2(d.voltageMV / 1000)},
		}
	}
	return reply{
		status:  status{sevSuccess, codeDevDetails, "Device Details"},
		section: "DEVDETAILS",
		records: recs,
	}
}

// statsCmd answers in bmminer's layout: STATS[0] names the miner, STATS[1]
// is the whole machine with numbered per-fan and per-chain fields.
func (s *Server) statsCmd(call) reply {
	sum := s.backend.Summary()
	devs := collectDevices(s.backend.Boards(), sum)
	ident := record{
		{"CGMiner", strVal(cgminerVersion)},
		{"Miner", strVal(s.desc)},
		{"Type", strVal(s.boardKind())},
	}
	return reply{
		status:  status{sevSuccess, codeStats, "CGMiner stats"},
		section: "STATS",
		records: []record{ident, s.machineStats(sum, devs, s.backend.Fans())},
	}
}

func (s *Server) machineStats(sum webui.Summary, devs []device, fans []webui.Fan) record {
	var freqSum, chipFreqSum, rateSum, tempMax float64
	var chips int
	var hw, nonces uint64
	for _, d := range devs {
		freqSum += finite(d.freqMHz)
		chipFreqSum += finite(d.chipFreqMHz)
		rateSum += finite(d.hs5s)
		tempMax = max(tempMax, finite(d.tempC), finite(d.chipMaxC))
		chips += d.chips
		hw += d.hw
		nonces += d.nonces
	}
	n := float64(max(len(devs), 1))
	r := record{
		{"STATS", intVal(0)},
		{"ID", strVal(driverName + "0")},
		{"Elapsed", roundInt(math.Floor(finite(sum.UptimeS)))},
		{"Calls", intVal(0)},
		{"Wait", floatVal{0, 6}},
		{"Max", floatVal{0, 6}},
		{"Min", floatVal{0, 6}},
		{"GHS 5s", ghsString(sum.Hashrate5s)},
		{"GHS av", ghs(sum.Hashrate15m)},
		{"miner_count", intVal(len(devs))},
		{"frequency", strVal(strconv.FormatFloat(math.Round(freqSum/n), 'f', -1, 64))},
		{"fan_num", intVal(len(fans))},
	}
	for i, f := range fans {
		r = append(r, field{"fan" + strconv.Itoa(i+1), intVal(f.RPM)})
	}
	r = append(r, field{"temp_num", intVal(len(devs))})
	r = appendPerDevice(r, devs, "temp", func(d device) value { return roundInt(d.tempC) })
	r = appendPerDevice(r, devs, "temp2_", func(d device) value { return roundInt(d.chipMaxC) })
	r = appendPerDevice(r, devs, "freq_avg", func(d device) value { return fixed2(d.chipFreqMHz) })
	r = append(r,
		field{"total_freqavg", fixed2(chipFreqSum / n)},
		field{"total_acn", intVal(chips)},
		field{"total_rate", fixed2(rateSum / 1e9)},
		field{"temp_max", roundInt(tempMax)},
		field{"Device Hardware%", pctVal(percent(float64(hw), float64(hw+nonces)))},
		field{"no_matching_work", uintVal(hw)},
	)
	r = appendPerDevice(r, devs, "chain_acn", func(d device) value { return intVal(d.chips) })
	r = appendPerDevice(r, devs, "chain_acs", func(d device) value { return strVal(d.chipStatus) })
	r = appendPerDevice(r, devs, "chain_hw", func(d device) value { return uintVal(d.hw) })
	r = appendPerDevice(r, devs, "chain_rate", func(d device) value { return ghsString(d.hs5s) })
	return append(r, field{"miner_version", strVal(s.desc)})
}

// appendPerDevice adds prefix1…prefixN, one field per device.
func appendPerDevice(r record, devs []device, prefix string, v func(device) value) record {
	for i, d := range devs {
		r = append(r, field{prefix + strconv.Itoa(i+1), v(d)})
	}
	return r
}
