// Package mining turns pool jobs into hashable work and hashing results back
// into shares.
//
// Work flows down: a [Job] decoded from mining.notify becomes a stream of
// [Work] units (one extranonce2, one rolled version, one ntime, the whole
// 2^32 nonce range) handed out by a [Dispatcher] so that no two hashing units
// ever search the same header. Results flow up: every nonce a unit reports is
// re-hashed on the host by a [Validator], which counts hardware errors, drops
// stale and duplicate results, feeds the [Hashrate] estimator and promotes
// hashes that meet the pool's target to [Share]s.
//
// Byte orders follow ../shared/docs/stratum-v1.md: hashes are kept in
// internal order (as SHA-256 emits them) and compared as little-endian
// 256-bit integers; targets are kept big-endian, as they are displayed.
package mining
