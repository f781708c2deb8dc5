package store

import (
	"context"
	"fmt"
	"math"
	"time"
)

// historyRetention is how long hashrate samples are kept.
const historyRetention = 30 * 24 * time.Hour

// Sample is one point of the dashboard's history: the state of the miner
// at Time, recorded once a minute.
type Sample struct {
	Time time.Time
	// HashrateHS is the one-minute average hashrate.
	HashrateHS float64
	// Accepted, Rejected and Stale are session totals at Time.
	Accepted, Rejected, Stale uint64
	// TemperatureC is the hottest chain's temperature, 0 if unknown.
	TemperatureC float64
}

// AddSample records s (a second's resolution; a second sample in the same
// second replaces the first) and deletes samples past the retention.
func (s *Store) AddSample(ctx context.Context, smp Sample) error {
	const q = `INSERT OR REPLACE INTO history
		(time_s, hashrate_hs, accepted, rejected, stale, temperature_c) VALUES (?, ?, ?, ?, ?, ?)`
	if _, err := s.db.ExecContext(ctx, q, smp.Time.Unix(), finiteOr0(smp.HashrateHS),
		int64(smp.Accepted), int64(smp.Rejected), int64(smp.Stale), finiteOr0(smp.TemperatureC)); err != nil {
		return fmt.Errorf("store: add sample: %w", err)
	}
	cut := smp.Time.Add(-historyRetention).Unix()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM history WHERE time_s < ?`, cut); err != nil {
		return fmt.Errorf("store: trim history: %w", err)
	}
	return nil
}

// History returns the samples in [from, to], oldest first, averaged into
// buckets of step (step ≤ 0 returns every sample). Each bucket's time is
// its latest sample's.
func (s *Store) History(ctx context.Context, from, to time.Time, step time.Duration) ([]Sample, error) {
	width := max(int64(step/time.Second), 1)
	const q = `SELECT MAX(time_s), AVG(hashrate_hs), MAX(accepted), MAX(rejected), MAX(stale), MAX(temperature_c)
		FROM history WHERE time_s BETWEEN ? AND ?
		GROUP BY time_s / ? ORDER BY 1`
	rows, err := s.db.QueryContext(ctx, q, from.Unix(), to.Unix(), width)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var smp Sample
		var t, acc, rej, stale int64
		if err := rows.Scan(&t, &smp.HashrateHS, &acc, &rej, &stale, &smp.TemperatureC); err != nil {
			return nil, fmt.Errorf("store: history: %w", err)
		}
		smp.Time = time.Unix(t, 0).UTC()
		smp.Accepted, smp.Rejected, smp.Stale = uint64(acc), uint64(rej), uint64(stale)
		out = append(out, smp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	return out, nil
}

// finiteOr0 keeps NaN and infinities, which SQLite stores as NULL, out of
// NOT NULL columns.
func finiteOr0(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
