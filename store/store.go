// Package store keeps Kiln's persistent state in one SQLite database,
// DIR/kiln.db under the controller's --data directory: small settings, the
// pool list, the share log and lifetime counters.
//
// The database runs in WAL mode with synchronous=NORMAL, so a committed
// transaction survives the controller being killed, and readers (the web
// UI) never wait on the share writer. The schema is versioned with
// PRAGMA user_version and upgraded in place by Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// FileName is the name of the database file inside the data directory.
const FileName = "kiln.db"

// Defaults used by Open and by OpenWith for zero Options fields.
const (
	// DefaultMaxShares is how many share rows the share log keeps; older
	// rows are deleted as new ones are written.
	DefaultMaxShares = 100000
	// DefaultQueueSize is how many share records may wait for the writer
	// before LogShare starts dropping them.
	DefaultQueueSize = 4096
	// DefaultBatchSize is the most share records written in one transaction.
	DefaultBatchSize = 256
	// DefaultBatchInterval is the longest a queued share record waits
	// before the writer commits it.
	DefaultBatchInterval = 250 * time.Millisecond
)

// busyTimeout is how long a connection waits on another writer's lock
// before giving up with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// maxConns bounds the connection pool: the share writer holds one, the
// rest serve readers and synchronous writers.
const maxConns = 4

var (
	// ErrTooNew means the database was written by a newer program whose
	// schema this one does not know; Open refuses it and changes nothing,
	// so the newer program can still use it.
	ErrTooNew = errors.New("database schema is newer than this program supports")
	// ErrCorrupt means the file is not an SQLite database or fails
	// SQLite's consistency check.
	ErrCorrupt = errors.New("not a valid SQLite database")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("store is closed")
)

// Options tunes a Store; zero fields take the package defaults.
type Options struct {
	// Log receives warnings and errors; nil discards them.
	Log *slog.Logger
	// MaxShares is how many rows the share log keeps (DefaultMaxShares).
	MaxShares int
	// QueueSize is the share queue capacity (DefaultQueueSize).
	QueueSize int
	// BatchSize is the most share records per transaction (DefaultBatchSize).
	BatchSize int
	// BatchInterval is the longest a queued record waits to be written
	// (DefaultBatchInterval).
	BatchInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxShares <= 0 {
		o.MaxShares = DefaultMaxShares
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchInterval <= 0 {
		o.BatchInterval = DefaultBatchInterval
	}
	return o
}

// Store is Kiln's persistent state. Its methods are safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
	log  *slog.Logger
	opt  Options

	shares  chan ShareRecord
	flushes chan chan error
	stop    chan struct{}
	done    chan struct{} // closed when the share writer has exited

	closed       atomic.Bool
	dropped      atomic.Uint64
	lastDropWarn atomic.Int64 // Unix nanoseconds of the last drop warning
	closeOnce    sync.Once
	closeErr     error
	finalErr     error // the share writer's last write error, set before done closes
}

// Open opens (creating if needed) DIR/kiln.db with the default Options and
// the given logger (nil discards). See OpenWith.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, dir, Options{Log: log})
}

// OpenWith opens (creating if needed) DIR/kiln.db, creating DIR with mode
// 0700 if it is missing. It checks the file is a sound SQLite database,
// refuses one whose schema is newer than this program (ErrTooNew), sets WAL
// mode, synchronous=NORMAL, foreign keys and a busy timeout, applies pending
// schema migrations, and starts the share writer.
func OpenWith(ctx context.Context, dir string, opt Options) (*Store, error) {
	opt = opt.withDefaults()
	if dir == "" {
		return nil, errors.New("store: open: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite3", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s := &Store{
		db:      db,
		path:    path,
		log:     opt.Log,
		opt:     opt,
		shares:  make(chan ShareRecord, opt.QueueSize),
		flushes: make(chan chan error),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := s.setup(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, classify(err))
	}
	w, err := newWriter(ctx, s)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, classify(err))
	}
	go w.run()
	return s, nil
}

// createPrivate creates the database file readable only by its owner if it
// does not exist yet; SQLite gives its -wal and -shm files the same mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn builds the go-sqlite3 data source name. A file: URI keeps any
// character of the path (even '?' or '#') from being read as a parameter.
// The journal mode is not set here: Open switches to WAL only after it has
// checked the schema version, so a refused database is left untouched.
func dsn(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(busyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// setup validates the file, switches it to WAL and migrates the schema.
func (s *Store) setup(ctx context.Context) error {
	v, err := userVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return tooNew(v, len(migrations))
	}
	if err := quickCheck(ctx, s.db); err != nil {
		return err
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if mode != "wal" {
		return fmt.Errorf("set WAL mode: journal mode is %q", mode)
	}
	_, err = migrate(ctx, s.db, migrations, s.log)
	return err
}

// quickCheck runs SQLite's structural check (PRAGMA quick_check), which is
// linear in the file size but skips index consistency.
func quickCheck(ctx context.Context, db *sql.DB) error {
	return runCheck(ctx, db, "quick_check")
}

// runCheck runs an integrity pragma and turns anything but "ok" into an
// error wrapping ErrCorrupt that quotes SQLite's first few findings.
func runCheck(ctx context.Context, db *sql.DB, pragma string) error {
	const maxFindings = 3
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", pragma, maxFindings))
	if err != nil {
		return err
	}
	defer rows.Close()
	var findings []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return err
		}
		f = strings.TrimPrefix(f, "*** in database main ***\n")
		findings = append(findings, strings.ReplaceAll(f, "\n", "; "))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(findings) == 1 && findings[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(findings, "; "))
}

// classify marks SQLite's "not a database" and "malformed" errors with
// ErrCorrupt so callers can tell a damaged file from other failures.
func classify(err error) error {
	var se sqlite3.Error
	if errors.Is(err, ErrCorrupt) || !errors.As(err, &se) {
		return err
	}
	if se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// IntegrityCheck runs SQLite's full PRAGMA integrity_check, slower than
// the quick check Open does, and returns an error wrapping ErrCorrupt that
// quotes the first problems found, if any.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	if err := runCheck(ctx, s.db, "integrity_check"); err != nil {
		return fmt.Errorf("store: integrity check: %w", classify(err))
	}
	return nil
}

// Close writes every share record queued before it was called, stops the
// share writer and closes the database. It reports a failed share write
// not yet returned by Flush. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.done
		s.closeErr = s.finalErr
		if err := s.db.Close(); err != nil {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("store: close %s: %w", s.path, err))
		}
	})
	return s.closeErr
}

// Setting returns the value stored under key; ok is false if there is none.
func (s *Store) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: setting %q: %w", key, err)
	}
	return value, true, nil
}

// SetSetting stores value under key, replacing any previous value.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	const q = `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	if _, err := s.db.ExecContext(ctx, q, key, value); err != nil {
		return fmt.Errorf("store: set setting %q: %w", key, err)
	}
	return nil
}
