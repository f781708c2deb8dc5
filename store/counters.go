package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// ErrNegativeDelta is returned by AddCounters for a negative delta:
// lifetime counters only grow.
var ErrNegativeDelta = errors.New("negative counter delta")

// AddCounters adds each delta to its named lifetime counter (creating it at
// zero first), all in one transaction. Deltas must not be negative; a
// counter saturates at the largest int64 instead of wrapping.
func (s *Store) AddCounters(ctx context.Context, delta map[string]int64) error {
	names := slices.Sorted(maps.Keys(delta))
	for _, name := range names {
		if name == "" {
			return errors.New("store: add counters: empty counter name")
		}
		if delta[name] < 0 {
			return fmt.Errorf("store: add counters: %q: %w %d", name, ErrNegativeDelta, delta[name])
		}
	}
	if len(names) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: add counters: %w", err)
	}
	defer tx.Rollback()
	const q = `INSERT INTO counters (name, value) VALUES (?1, ?2)
		ON CONFLICT (name) DO UPDATE SET value = CASE
			WHEN value > 9223372036854775807 - ?2 THEN 9223372036854775807
			ELSE value + ?2 END`
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, q, name, delta[name]); err != nil {
			return fmt.Errorf("store: add counters: %q: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: add counters: commit: %w", err)
	}
	return nil
}

// Counters returns every lifetime counter by name.
func (s *Store) Counters(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name, value FROM counters")
	if err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("store: counters: %w", err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counters: %w", err)
	}
	return out, nil
}
