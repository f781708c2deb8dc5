package store

import (
	"context"
	"fmt"
)

// Pool is one configured Stratum pool. The controller tries enabled pools
// in Priority order, lower first.
type Pool struct {
	// ID identifies the pool row. ReplacePools keeps a non-zero ID and
	// assigns a fresh one to a zero ID.
	ID int64
	// Priority orders the pools, lower first; ties go by ID.
	Priority int
	// URL is the pool address, such as stratum+tcp://host:3333.
	URL string
	// User and Password are the Stratum worker credentials.
	User, Password string
	// Enabled is false for a pool kept in the list but not used.
	Enabled bool
	// Algo is the pool's proof-of-work algorithm name ("sha256d",
	// "scrypt"); empty means sha256d. The store keeps it as given.
	Algo string
}

// Pools returns the configured pools in priority order (lower Priority
// first, then lower ID).
func (s *Store) Pools(ctx context.Context) ([]Pool, error) {
	const q = `SELECT id, priority, url, user, password, enabled, algo
		FROM pools ORDER BY priority, id`
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: pools: %w", err)
	}
	defer rows.Close()
	var pools []Pool
	for rows.Next() {
		var p Pool
		if err := rows.Scan(&p.ID, &p.Priority, &p.URL, &p.User, &p.Password, &p.Enabled, &p.Algo); err != nil {
			return nil, fmt.Errorf("store: pools: %w", err)
		}
		pools = append(pools, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pools: %w", err)
	}
	return pools, nil
}

// ReplacePools replaces the whole pool list in one transaction: on any
// error (an empty URL, a repeated ID) the old list stays as it was.
func (s *Store) ReplacePools(ctx context.Context, pools []Pool) error {
	if err := validatePools(pools); err != nil {
		return fmt.Errorf("store: replace pools: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: replace pools: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM pools"); err != nil {
		return fmt.Errorf("store: replace pools: %w", err)
	}
	const q = `INSERT INTO pools (id, priority, url, user, password, enabled, algo)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	for i, p := range pools {
		var id any // NULL lets SQLite pick a fresh id
		if p.ID != 0 {
			id = p.ID
		}
		if _, err := tx.ExecContext(ctx, q, id, p.Priority, p.URL, p.User, p.Password, p.Enabled, p.Algo); err != nil {
			return fmt.Errorf("store: replace pools: pool %d (%s): %w", i, p.URL, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: replace pools: commit: %w", err)
	}
	return nil
}

// validatePools rejects what SQLite would accept but the controller could
// not use. A repeated ID is left to the primary key, which fails the
// transaction.
func validatePools(pools []Pool) error {
	for i, p := range pools {
		if p.URL == "" {
			return fmt.Errorf("pool %d: empty URL", i)
		}
		if p.ID < 0 {
			return fmt.Errorf("pool %d (%s): negative ID %d", i, p.URL, p.ID)
		}
	}
	return nil
}
