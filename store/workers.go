package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// WorkerDelta is what one downstream worker of the farm proxy did since the
// last save. Counts add up; Difficulty and LastShare replace what is stored
// (LastShare only when later).
type WorkerDelta struct {
	Worker                    string
	Accepted, Rejected, Stale uint64
	RejectedByReason          map[string]uint64
	// AcceptedDifficulty sums the difficulties of the accepted shares:
	// × 2^32 it is the work they stand for.
	AcceptedDifficulty float64
	Difficulty         float64
	LastShare          time.Time
}

// WorkerRecord is a worker's lifetime statistics.
type WorkerRecord struct {
	Worker                    string
	Accepted, Rejected, Stale uint64
	RejectedByReason          map[string]uint64
	AcceptedDifficulty        float64
	Difficulty                float64
	FirstSeen, LastShare      time.Time
}

// AddWorkerStats adds deltas to the workers' lifetime statistics, creating
// workers on first sight, all in one transaction.
func (s *Store) AddWorkerStats(ctx context.Context, deltas []WorkerDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: add worker stats: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	for _, d := range deltas {
		if d.Worker == "" {
			return errors.New("store: add worker stats: empty worker name")
		}
		var reasonsJSON string
		err := tx.QueryRowContext(ctx, `SELECT rejected_by_reason FROM proxy_workers WHERE worker = ?`, d.Worker).Scan(&reasonsJSON)
		reasons := map[string]uint64{}
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("store: add worker stats: %s: %w", d.Worker, err)
		default:
			if err := json.Unmarshal([]byte(reasonsJSON), &reasons); err != nil {
				return fmt.Errorf("store: add worker stats: %s: stored reasons: %w", d.Worker, err)
			}
		}
		for _, r := range slices.Sorted(maps.Keys(d.RejectedByReason)) {
			reasons[r] += d.RejectedByReason[r]
		}
		merged, _ := json.Marshal(reasons)
		var last int64
		if !d.LastShare.IsZero() {
			last = d.LastShare.UnixNano()
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO proxy_workers
			(worker, accepted, rejected, stale, rejected_by_reason, accepted_difficulty, difficulty, first_seen_ns, last_share_ns)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
			ON CONFLICT (worker) DO UPDATE SET
				accepted = accepted + ?2, rejected = rejected + ?3, stale = stale + ?4,
				rejected_by_reason = ?5, accepted_difficulty = accepted_difficulty + ?6,
				difficulty = CASE WHEN ?7 > 0 THEN ?7 ELSE difficulty END,
				last_share_ns = max(last_share_ns, ?9)`,
			d.Worker, int64(d.Accepted), int64(d.Rejected), int64(d.Stale), string(merged),
			d.AcceptedDifficulty, d.Difficulty, now, last)
		if err != nil {
			return fmt.Errorf("store: add worker stats: %s: %w", d.Worker, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: add worker stats: commit: %w", err)
	}
	return nil
}

// Workers returns every worker's lifetime statistics, by name.
func (s *Store) Workers(ctx context.Context) ([]WorkerRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT worker, accepted, rejected, stale, rejected_by_reason,
		accepted_difficulty, difficulty, first_seen_ns, last_share_ns FROM proxy_workers ORDER BY worker`)
	if err != nil {
		return nil, fmt.Errorf("store: workers: %w", err)
	}
	defer rows.Close()
	var out []WorkerRecord
	for rows.Next() {
		var w WorkerRecord
		var acc, rej, stale, first, last int64
		var reasons string
		if err := rows.Scan(&w.Worker, &acc, &rej, &stale, &reasons, &w.AcceptedDifficulty,
			&w.Difficulty, &first, &last); err != nil {
			return nil, fmt.Errorf("store: workers: %w", err)
		}
		w.Accepted, w.Rejected, w.Stale = uint64(acc), uint64(rej), uint64(stale)
		w.RejectedByReason = map[string]uint64{}
		if err := json.Unmarshal([]byte(reasons), &w.RejectedByReason); err != nil {
			return nil, fmt.Errorf("store: workers: %s: stored reasons: %w", w.Worker, err)
		}
		w.FirstSeen = time.Unix(0, first).UTC()
		if last != 0 {
			w.LastShare = time.Unix(0, last).UTC()
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: workers: %w", err)
	}
	return out, nil
}
