package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// openT opens a Store in dir and closes it when the test ends.
func openT(t testing.TB, dir string, opt Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), dir, opt)
	if err != nil {
		t.Fatalf("OpenWith(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the database file directly, bypassing the Store.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// logBuffer is a goroutine-safe sink for a text slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestOpenCreatesPrivateDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "kiln")
	s, err := Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := filepath.Join(dir, FileName); s.Path() != want {
		t.Errorf("Path() = %q, want %q", s.Path(), want)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

func TestOpenEmptyDir(t *testing.T) {
	_, err := Open(t.Context(), "", nil)
	if err == nil || !strings.Contains(err.Error(), "empty data directory") {
		t.Fatalf("Open(\"\") = %v, want empty data directory error", err)
	}
}

func TestOpenPathWithURIChars(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c d%20")
	s := openT(t, dir, Options{})
	if err := s.SetSetting(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}

// TestConnectionPragmas checks every pooled connection got the settings
// Open promises, not just the first.
func TestConnectionPragmas(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	var conns []*sql.Conn
	for range maxConns - 1 { // the share writer holds one
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	want := map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "5000"}
	for i, c := range conns {
		for pragma, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, pragma, got, w)
			}
		}
	}
}

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Setting(ctx, "admin_password"); err != nil || ok || v != "" {
		t.Fatalf("missing setting: got %q, %v, %v; want \"\", false, nil", v, ok, err)
	}
	sets := [][2]string{
		{"admin_password", "first"},
		{"admin_password", "$argon2id$v=19$second"}, // overwrite
		{"tuning.mode", "efficiency ⚡"},
		{"empty", ""},
	}
	for _, kv := range sets {
		if err := s.SetSetting(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	want := map[string]string{"admin_password": "$argon2id$v=19$second", "tuning.mode": "efficiency ⚡", "empty": ""}
	for k, w := range want {
		v, ok, err := s.Setting(ctx, k)
		if err != nil || !ok || v != w {
			t.Errorf("Setting(%q) = %q, %v, %v; want %q, true, nil", k, v, ok, err, w)
		}
	}
}

func TestCounters(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []map[string]int64{
		{"accepted": 3, "rejected": 1},
		{"accepted": 2, "hw_errors": 7},
		{},
	}
	for _, d := range steps {
		if err := s.AddCounters(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	if err := s.AddCounters(ctx, map[string]int64{"accepted": 10, "stale": 1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"accepted": 15, "rejected": 1, "hw_errors": 7, "stale": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
}

func TestCountersRejectBadDeltas(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	if err := s.AddCounters(ctx, map[string]int64{"accepted": 1}); err != nil {
		t.Fatal(err)
	}
	err := s.AddCounters(ctx, map[string]int64{"accepted": 5, "rejected": -1})
	if !errors.Is(err, ErrNegativeDelta) {
		t.Errorf("negative delta: err = %v, want ErrNegativeDelta", err)
	}
	if err := s.AddCounters(ctx, map[string]int64{"accepted": 5, "": 1}); err == nil {
		t.Error("empty name: err = nil")
	}
	got, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"accepted": 1}, got); diff != "" {
		t.Errorf("refused calls changed counters (-want +got):\n%s", diff)
	}
}

func TestCountersSaturate(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	for _, d := range []int64{math.MaxInt64 - 2, 5, math.MaxInt64} {
		if err := s.AddCounters(ctx, map[string]int64{"n": d}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["n"] != math.MaxInt64 {
		t.Errorf("n = %d, want %d", got["n"], int64(math.MaxInt64))
	}
}

// TestCorruptFile puts damaged or foreign files where the database goes.
func TestCorruptFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 8192)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{"text file", func(t *testing.T, path string) {
			writeFile(t, path, bytes.Repeat([]byte("this is not a database\n"), 100))
		}},
		{"short file", func(t *testing.T, path string) { writeFile(t, path, []byte("SQLite")) }},
		{"random bytes", func(t *testing.T, path string) { writeFile(t, path, random) }},
		{"header wiped", func(t *testing.T, path string) {
			makeDB(t, filepath.Dir(path), 0)
			patchFile(t, path, 0, make([]byte, 16))
		}},
		{"page overwritten", func(t *testing.T, path string) {
			makeDB(t, filepath.Dir(path), 3000)
			patchFile(t, path, 4096*5, bytes.Repeat([]byte{0xa5}, 4096*3))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			tt.prepare(t, path)
			s, err := Open(t.Context(), dir, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded on a damaged file")
			}
			t.Logf("Open: %v", err)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %v; want ErrCorrupt naming %s", err, path)
			}
		})
	}
}

func TestOpenDirectoryInTheWay(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), dir, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded with a directory at the database path")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Errorf("error %q does not name the path", err)
	}
}

// makeDB creates a closed, valid database in dir holding n share rows.
func makeDB(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		s.LogShare(ShareRecord{Pool: "stratum+tcp://pool.example:3333", Job: strings.Repeat("j", i%50), Result: ResultAccepted})
		if i%1000 == 999 {
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestUseAfterClose(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.LogShare(ShareRecord{Job: "late"})
	if got := s.DroppedShares(); got != 1 {
		t.Errorf("DroppedShares after LogShare on a closed store = %d, want 1", got)
	}
	if err := s.Flush(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	if _, _, err := s.Setting(t.Context(), "k"); err == nil {
		t.Error("Setting after Close: err = nil")
	}
}

// TestConcurrentUse runs synchronous writers, the share writer and readers
// at once; none may fail with a locking error.
func TestConcurrentUse(t *testing.T) {
	s := openT(t, t.TempDir(), Options{BatchSize: 16})
	ctx := t.Context()
	const workers, rounds = 4, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				s.LogShare(ShareRecord{Job: fmt.Sprintf("%d-%d", w, i)})
				if err := s.SetSetting(ctx, fmt.Sprintf("w%d", w), fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
				if err := s.AddCounters(ctx, map[string]int64{"accepted": 1, fmt.Sprintf("w%d", w): 2}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.RecentShares(ctx, 10); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"accepted": workers * rounds}
	for w := range workers {
		want[fmt.Sprintf("w%d", w)] = 2 * rounds
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
	shares, err := s.RecentShares(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) != workers*rounds || s.DroppedShares() != 0 {
		t.Errorf("%d shares written, %d dropped; want %d and 0", len(shares), s.DroppedShares(), workers*rounds)
	}
}
