package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMigrateFreshAndReopen(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	s, err := Open(t.Context(), dir, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := userVersion(t.Context(), s.db); err != nil || v != SchemaVersion() {
		t.Errorf("fresh database at version %d (%v), want %d", v, err, SchemaVersion())
	}
	if n := strings.Count(logs.String(), "schema migrated"); n != SchemaVersion() {
		t.Errorf("fresh open logged %d migrations, want %d:\n%s", n, SchemaVersion(), logs.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(dir, FileName))

	var logs2 logBuffer
	s, err = Open(t.Context(), dir, logs2.logger())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs2.String(), "schema migrated") {
		t.Errorf("reopen migrated again:\n%s", logs2.String())
	}
	if n, err := migrate(t.Context(), s.db, migrations, slog.New(slog.DiscardHandler)); err != nil || n != 0 {
		t.Errorf("migrate on a current database applied %d steps (%v), want 0", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(dir, FileName))) {
		t.Error("reopening a current database changed the file")
	}
}

// TestMigrateTooNew refuses a database from a newer program and leaves it
// byte for byte as it was, still in its original journal mode.
func TestMigrateTooNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db := rawDB(t, path)
	ctx := t.Context()
	for _, q := range []string{
		"PRAGMA journal_mode = DELETE",
		"CREATE TABLE future (x INTEGER)",
		"PRAGMA user_version = 99",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	before := readFile(t, path)

	s, err := Open(ctx, dir, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open accepted a database with a newer schema")
	}
	if !errors.Is(err, ErrTooNew) || !strings.Contains(err.Error(), "99") {
		t.Errorf("Open: %v; want ErrTooNew naming version 99", err)
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("refused database was modified")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("files left beside the database: %v", entries)
	}
}

// TestMigrateSteps runs a made-up schema history: steps apply in order,
// each once, and a failing step rolls back whole.
func TestMigrateSteps(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "m.db"))
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	steps := []string{
		"CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);",
		"CREATE TABLE b (y INTEGER); INSERT INTO b SELECT x + 1 FROM a;",
		"CREATE TABLE c (z INTEGER); INSERT INTO nowhere VALUES (1);",
	}
	check := func(wantVersion int, wantTables ...string) {
		t.Helper()
		if v, err := userVersion(ctx, db); err != nil || v != wantVersion {
			t.Errorf("version %d (%v), want %d", v, err, wantVersion)
		}
		rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if !slices.Equal(got, wantTables) {
			t.Errorf("tables %v, want %v", got, wantTables)
		}
	}
	if n, err := migrate(ctx, db, steps[:1], log); err != nil || n != 1 {
		t.Fatalf("first migrate: %d, %v", n, err)
	}
	check(1, "a")
	if n, err := migrate(ctx, db, steps[:2], log); err != nil || n != 1 {
		t.Fatalf("second migrate: %d, %v", n, err)
	}
	check(2, "a", "b")
	var y int
	if err := db.QueryRowContext(ctx, "SELECT y FROM b").Scan(&y); err != nil || y != 2 {
		t.Errorf("step 2 saw step 1's data: y = %d, %v", y, err)
	}
	n, err := migrate(ctx, db, steps, log)
	if err == nil || n != 0 || !strings.Contains(err.Error(), "step 3") {
		t.Errorf("failing step: %d, %v; want an error naming step 3", n, err)
	}
	check(2, "a", "b")
	if _, err := migrate(ctx, db, steps[:1], log); !errors.Is(err, ErrTooNew) {
		t.Errorf("migrate with fewer steps than applied: %v, want ErrTooNew", err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
