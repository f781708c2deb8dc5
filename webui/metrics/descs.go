package metrics

import "github.com/prometheus/client_golang/prometheus"

// Label names. They are part of the product: dashboards and alert rules
// select on them.
const (
	labelVersion = "version"
	labelWindow  = "window"
	labelResult  = "result"
	labelPool    = "pool"
	labelReason  = "reason"
	labelStatus  = "status"
	labelBoard   = "board"
	labelKind    = "kind"
	labelModel   = "model"
	labelChain   = "chain"
	labelState   = "state"
	labelChip    = "chip"
	labelFan     = "fan"
	labelSection = "section"
)

// newDesc builds a descriptor with no constant labels.
func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Descriptors of every metric the Kiln collector exports. allDescs lists
// them for Describe; a metric missing there fails the scrape.
var (
	descBuildInfo = newDesc("kiln_build_info",
		"Always 1; the version label is the running firmware version.", labelVersion)
	descSourceUp = newDesc("kiln_source_up",
		"1 if this part of the controller state (summary, pools, boards, fans) was read for this scrape, 0 if reading it failed.",
		labelSection)

	descHashrate = newDesc("kiln_hashrate_hs",
		"Estimated hash rate of the whole miner in hashes per second, averaged over the window (5s, 1m, 15m).", labelWindow)
	descShares = newDesc("kiln_shares_total",
		"Shares submitted to pools since start, by the pool's answer (accepted, rejected, stale).", labelResult)
	descHWErrors = newDesc("kiln_hardware_errors_total",
		"Nonces from the hashing hardware that failed the host's re-check, since start.")
	descBestShare = newDesc("kiln_best_share_difficulty",
		"Difficulty of the best share found since start.")
	descShareDifficulty = newDesc("kiln_share_difficulty",
		"Share difficulty the active pool currently asks for.")
	descUptime = newDesc("kiln_uptime_seconds",
		"Seconds since mining started.")
	descLastShare = newDesc("kiln_last_share_timestamp_seconds",
		"Unix time of the last share submitted; absent until the first one.")

	descPoolShares = newDesc("kiln_pool_shares_total",
		"Shares submitted to one pool since start, by the pool's answer (accepted, rejected, stale).", labelPool, labelResult)
	descPoolRejected = newDesc("kiln_pool_rejected_total",
		"Shares one pool rejected since start, by the reason it gave.", labelPool, labelReason)
	descPoolUp = newDesc("kiln_pool_up",
		"1 for the pool's current connection status, 0 for the other statuses (active, standby, connecting, dead, disabled).",
		labelPool, labelStatus)
	descPoolActive = newDesc("kiln_pool_active",
		"1 if this pool is the one being mined, else 0.", labelPool)
	descPoolLatency = newDesc("kiln_pool_latency_seconds",
		"Round-trip time of the last share submitted to the pool, in seconds; absent before the first submit.", labelPool)
	descPoolDifficulty = newDesc("kiln_pool_difficulty",
		"Share difficulty the pool currently asks for.", labelPool)

	descBoardInfo = newDesc("kiln_board_info",
		"Always 1; labels give each hash board's profile (kind) and chip model.", labelBoard, labelKind, labelModel)
	descBoardHashrate = newDesc("kiln_board_hashrate_hs",
		"Estimated hash rate of one board in hashes per second.", labelBoard)

	descChainState = newDesc("kiln_chain_state",
		"1 for the chain's current state, 0 for the other states (initializing, mining, lost).",
		labelBoard, labelChain, labelState)
	descChainTemp = newDesc("kiln_chain_temperature_celsius",
		"Temperature of a chain in degrees Celsius; absent while the chain reports none.", labelBoard, labelChain)
	descChainHashrate = newDesc("kiln_chain_hashrate_hs",
		"Estimated hash rate of a chain in hashes per second.", labelBoard, labelChain)
	descChainFreq = newDesc("kiln_chain_frequency_mhz",
		"Clock frequency the chain's chips are set to, in MHz.", labelBoard, labelChain)
	descChainVoltage = newDesc("kiln_chain_voltage_volts",
		"Supply voltage the chain is set to, in volts.", labelBoard, labelChain)
	descChainHWErrors = newDesc("kiln_chain_hardware_errors_total",
		"Nonces from the chain that failed the host's re-check, since start.", labelBoard, labelChain)
	descChainCRC = newDesc("kiln_chain_crc_errors_total",
		"Frames from the chain with a bad checksum, since start.", labelBoard, labelChain)
	descChainReinits = newDesc("kiln_chain_reinits_total",
		"Times the chain was re-initialised after a fault, since start.", labelBoard, labelChain)

	descChipHWErrors = newDesc("kiln_chip_hardware_errors_total",
		"Nonces from one chip that failed the host's re-check, since start.", labelBoard, labelChain, labelChip)
	descChipHashrate = newDesc("kiln_chip_hashrate_hs",
		"Estimated hash rate of one chip in hashes per second.", labelBoard, labelChain, labelChip)
	descChipTemp = newDesc("kiln_chip_temperature_celsius",
		"Temperature of one chip in degrees Celsius; absent where the chip reports none.", labelBoard, labelChain, labelChip)
	descChipResponding = newDesc("kiln_chip_responding",
		"1 if the chip answers on its chain, else 0.", labelBoard, labelChain, labelChip)

	descFanRPM = newDesc("kiln_fan_rpm",
		"Measured speed of a fan in revolutions per minute.", labelFan)
	descFanDuty = newDesc("kiln_fan_duty_ratio",
		"Duty cycle commanded to a fan, from 0 (stopped) to 1 (full speed).", labelFan)
)

// allDescs is every descriptor above, for Describe.
var allDescs = []*prometheus.Desc{
	descBuildInfo, descSourceUp,
	descHashrate, descShares, descHWErrors, descBestShare, descShareDifficulty, descUptime, descLastShare,
	descPoolShares, descPoolRejected, descPoolUp, descPoolActive, descPoolLatency, descPoolDifficulty,
	descBoardInfo, descBoardHashrate,
	descChainState, descChainTemp, descChainHashrate, descChainFreq, descChainVoltage,
	descChainHWErrors, descChainCRC, descChainReinits,
	descChipHWErrors, descChipHashrate, descChipTemp, descChipResponding,
	descFanRPM, descFanDuty,
}

// Known values of the state-set metrics. A value outside these lists is
// still exported (as 1) so a new status is never hidden.
var (
	poolStatuses = []string{"active", "standby", "connecting", "dead", "disabled"}
	chainStates  = []string{"initializing", "mining", "lost"}
)
