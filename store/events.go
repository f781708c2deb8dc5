package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Event levels.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// maxEvents is how many events the log keeps; older ones are deleted as
// new ones arrive, so a flapping pool cannot fill the flash.
const maxEvents = 10000

// Event is one entry of the event log: something an owner may want to know
// happened (a pool switch, a restart, a setting changed).
type Event struct {
	// ID grows with insertion order; pages are read with it.
	ID int64
	// Time is when it happened (UTC when read back).
	Time time.Time
	// Level is LevelInfo, LevelWarn or LevelError.
	Level string
	// Source is the part of the controller it comes from ("pool", "fan",
	// "protection", "system", "auth").
	Source string
	// Kind is a stable machine-readable name ("pool_switch", "restart").
	Kind string
	// Message is for people.
	Message string
}

// AddEvent appends e to the event log (a zero Time means now) and trims
// the log to its last maxEvents entries.
func (s *Store) AddEvent(ctx context.Context, e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	switch e.Level {
	case LevelInfo, LevelWarn, LevelError:
	default:
		return fmt.Errorf("store: add event: unknown level %q", e.Level)
	}
	if e.Kind == "" || e.Source == "" {
		return errors.New("store: add event: empty source or kind")
	}
	const q = `INSERT INTO events (time_ns, level, source, kind, message) VALUES (?, ?, ?, ?, ?)`
	res, err := s.db.ExecContext(ctx, q, e.Time.UnixNano(), e.Level, e.Source, e.Kind, e.Message)
	if err != nil {
		return fmt.Errorf("store: add event: %w", err)
	}
	if id, err := res.LastInsertId(); err == nil && id%100 == 0 {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE id <= ?`, id-maxEvents); err != nil {
			return fmt.Errorf("store: trim events: %w", err)
		}
	}
	return nil
}

// Events returns up to limit events older than before (an ID; 0 means
// from the newest), newest first. Pass the last ID of a page as before to
// read the next one.
func (s *Store) Events(ctx context.Context, before int64, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	const q = `SELECT id, time_ns, level, source, kind, message FROM events
		WHERE id < ? ORDER BY id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var ns int64
		if err := rows.Scan(&e.ID, &ns, &e.Level, &e.Source, &e.Kind, &e.Message); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}
