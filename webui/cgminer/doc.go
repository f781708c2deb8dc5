// Package cgminer serves the cgminer RPC API (API 3.7) on a TCP port,
// normally 4028, so that fleet tools written for cgminer, bmminer and
// BOSminer read and manage a Kiln controller unchanged.
//
// # Protocol
//
// Each connection carries one request, at most 8 KiB, in text form
// ("command" or "command|parameter") or JSON form ({"command": ...,
// "parameter": ...}). The reply uses the same form, ends with one NUL byte,
// and the server then closes the connection. Joined report commands
// ("summary+devs+pools") answer every named command in one reply.
//
// # Dialect
//
// Replies follow cgminer's field names, types and number formatting, with
// the hash board data laid out the way the common Antminer and Braiins
// firmwares do, because that is what the tools parse:
//
//   - VERSION carries "CGMiner": "4.11.1" and "API": "3.7" so that tools
//     keying on those names keep working, plus "Miner": "kiln <version>"
//     and "Type": the board kind. Every STATUS Description is
//     "kiln <version>".
//   - DEVS (and edevs) has one ASC record per hash chain, numbered across
//     boards; a board without chains (the CPU backend) is one record.
//     DEVDETAILS adds Chips, Cores, Frequency (Hz) and Voltage (V) as
//     BOSminer does. STATS follows bmminer: STATS[0] identifies the miner
//     and STATS[1] holds fans, temperatures and per-chain chip counts,
//     rates (GH/s, as strings) and hardware errors.
//   - The controller keeps 5 s, 1 min and 15 min hash rate averages.
//     "MHS av" and "MHS 5m" report the 15 min average, and difficulty
//     totals are estimated at each pool's current difficulty. Share counts
//     are kept per pool, not per chain, so DEVS records show 0 accepted
//     and rejected unless the machine is a single device. Counters the
//     controller does not keep (Getworks, Discarded, ...) are 0.
//
// # Pools
//
// A Kiln pool's id is its place in the saved list, which is also its
// priority, so commands that reorder pools renumber them: switchpool moves
// the pool to id 0, poolpriority rewrites the order, and removepool closes
// the gap, the pools after it moving up one id while keeping their order
// (cgminer moves its last pool into the freed slot, which here would
// promote it). Tools re-read "pools" after a change, as
// they must with cgminer. While the controller mines to its embedded demo
// pool, "pools" lists that pool as POOL 0, commands on pool ids answer
// code 8 (no pools), and addpool starts a new list. Changes are saved
// as they are made, so "save" only confirms (code 44). A change the
// controller refuses answers STATUS E with its message: code 53 for
// addpool, else code 400.
//
// # Access
//
// Config.Allow uses cgminer's --api-allow syntax limited to the W: and R:
// prefixes. The default lets every address read and only loopback change
// anything. Addresses not on the list are disconnected without a reply.
// "quit" is always refused with code 45: the API cannot stop the controller,
// while "restart" restarts mining.
package cgminer
