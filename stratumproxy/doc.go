// Package stratumproxy speaks Stratum V1 (../shared/docs/stratum-v1.md): the
// line codec, the upstream client that mines for a pool, the pool manager
// that fails over between pools in priority order, and the downstream server
// that serves miners (the embedded demo pool, and later the farm proxy).
//
// Errors that callers branch on are sentinels (ErrStale, ErrDuplicate,
// ErrLowDifficulty, ...), matched with errors.Is.
package stratumproxy
