package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
)

// migrations are the schema steps in order: step i takes the database from
// PRAGMA user_version i to i+1. Append new steps; never edit old ones, as
// databases in the field have already run them.
var migrations = []string{
	// 1: initial schema.
	`CREATE TABLE settings (
		key   TEXT PRIMARY KEY NOT NULL,
		value TEXT NOT NULL
	) WITHOUT ROWID;

	CREATE TABLE pools (
		id       INTEGER PRIMARY KEY,
		priority INTEGER NOT NULL,
		url      TEXT NOT NULL,
		user     TEXT NOT NULL,
		password TEXT NOT NULL,
		enabled  INTEGER NOT NULL CHECK (enabled IN (0, 1))
	);
	CREATE INDEX pools_by_priority ON pools (priority, id);

	-- One row per share; id grows with insertion order, which the
	-- retention delete relies on.
	CREATE TABLE shares (
		id               INTEGER PRIMARY KEY,
		time_ns          INTEGER NOT NULL,
		pool             TEXT NOT NULL,
		job              TEXT NOT NULL,
		difficulty       REAL,
		share_difficulty REAL,
		result           TEXT NOT NULL,
		reason           TEXT NOT NULL
	);

	CREATE TABLE counters (
		name  TEXT PRIMARY KEY NOT NULL,
		value INTEGER NOT NULL
	) WITHOUT ROWID;`,

	// 2: lifetime statistics of the farm proxy's downstream workers.
	`CREATE TABLE proxy_workers (
		worker              TEXT PRIMARY KEY NOT NULL,
		accepted            INTEGER NOT NULL DEFAULT 0,
		rejected            INTEGER NOT NULL DEFAULT 0,
		stale               INTEGER NOT NULL DEFAULT 0,
		rejected_by_reason  TEXT NOT NULL DEFAULT '{}',
		accepted_difficulty REAL NOT NULL DEFAULT 0,
		difficulty          REAL NOT NULL DEFAULT 0,
		first_seen_ns       INTEGER NOT NULL,
		last_share_ns       INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID;`,

	// 3: the event log, hashrate history for the dashboard, and API
	// tokens (only their SHA-256 is kept).
	`CREATE TABLE events (
		id      INTEGER PRIMARY KEY,
		time_ns INTEGER NOT NULL,
		level   TEXT NOT NULL,
		source  TEXT NOT NULL,
		kind    TEXT NOT NULL,
		message TEXT NOT NULL
	);

	CREATE TABLE history (
		time_s        INTEGER PRIMARY KEY NOT NULL,
		hashrate_hs   REAL NOT NULL,
		accepted      INTEGER NOT NULL,
		rejected      INTEGER NOT NULL,
		stale         INTEGER NOT NULL,
		temperature_c REAL NOT NULL
	) WITHOUT ROWID;

	CREATE TABLE api_tokens (
		id           INTEGER PRIMARY KEY,
		name         TEXT NOT NULL,
		hash         BLOB NOT NULL UNIQUE,
		created_ns   INTEGER NOT NULL,
		last_used_ns INTEGER NOT NULL DEFAULT 0
	);`,

	// 4: each pool's proof-of-work algorithm; '' is sha256d.
	`ALTER TABLE pools ADD COLUMN algo TEXT NOT NULL DEFAULT '';`,
}

// SchemaVersion is the PRAGMA user_version of a database this program has
// fully migrated.
func SchemaVersion() int { return len(migrations) }

// rowQuerier is what userVersion needs: a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// userVersion reads PRAGMA user_version.
func userVersion(ctx context.Context, q rowQuerier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func tooNew(have, known int) error {
	return fmt.Errorf("%w: database is at schema version %d, this program knows versions up to %d",
		ErrTooNew, have, known)
}

// migrate applies the steps the database has not run yet, each in its own
// write transaction together with its user_version bump, so a crash leaves
// the database at a whole step. It re-reads the version inside each
// transaction, so two processes opening the same file cannot both apply a
// step. It returns how many steps it applied.
func migrate(ctx context.Context, db *sql.DB, steps []string, log *slog.Logger) (int, error) {
	applied := 0
	for range len(steps) + 1 {
		done, err := migrateOne(ctx, db, steps, log)
		if err != nil || done {
			return applied, err
		}
		applied++
	}
	return applied, fmt.Errorf("migrate: schema version did not settle after %d steps", len(steps))
}

// migrateOne applies the next pending step; done is true when none is left.
func migrateOne(ctx context.Context, db *sql.DB, steps []string, log *slog.Logger) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	v, err := userVersion(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	switch {
	case v > len(steps):
		return false, tooNew(v, len(steps))
	case v == len(steps):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return false, fmt.Errorf("migrate: step %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate: set version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: commit step %d: %w", v+1, err)
	}
	log.Info("store: schema migrated", "from", v, "to", v+1)
	return false, nil
}
