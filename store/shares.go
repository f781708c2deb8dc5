package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// Share results as stored in ShareRecord.Result.
const (
	ResultAccepted = "accepted"
	ResultRejected = "rejected"
	ResultStale    = "stale"
)

// dropWarnEvery is the least time between two "share dropped" warnings.
const dropWarnEvery = time.Minute

// ShareRecord is one row of the share log: a share found by the miner and
// what the pool made of it.
type ShareRecord struct {
	// ID is the row's ID when read back (pages are read with it); it is
	// ignored by LogShare.
	ID int64
	// Time is when the share was found; it is stored to the nanosecond
	// and read back in UTC. The zero Time means "when LogShare was
	// called". Times must lie within the years 1678 to 2262.
	Time time.Time
	// Pool is the URL of the pool the share went to.
	Pool string
	// Job is the pool's job ID.
	Job string
	// Difficulty is the pool target the share had to meet.
	Difficulty float64
	// ShareDifficulty is the difficulty the share actually achieved.
	ShareDifficulty float64
	// Result is ResultAccepted, ResultRejected or ResultStale.
	Result string
	// Reason is the pool's reject reason, empty if accepted.
	Reason string
}

// LogShare queues r for the share writer, which commits queued records in
// batches. It never blocks: if the queue is full, or the Store is closed,
// the record is dropped and counted (see DroppedShares), and a warning is
// logged at most once a minute.
func (s *Store) LogShare(r ShareRecord) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if s.closed.Load() {
		s.drop(1, "store closed")
		return
	}
	select {
	case s.shares <- r:
	default:
		s.drop(1, "share queue full")
	}
}

// DroppedShares returns how many share records were lost since Open: not
// queued because the queue was full or the Store closed, or not written
// because their transaction failed.
func (s *Store) DroppedShares() uint64 { return s.dropped.Load() }

func (s *Store) drop(n int, why string) {
	total := s.dropped.Add(uint64(n))
	now := time.Now().UnixNano()
	last := s.lastDropWarn.Load()
	if (last == 0 || now-last >= int64(dropWarnEvery)) && s.lastDropWarn.CompareAndSwap(last, now) {
		s.log.Warn("store: share records dropped", "reason", why, "dropped_total", total)
	}
}

// Flush waits until every share record queued before the call is written
// and returns the first write error since the previous Flush, if any.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("store: flush: %w", ErrClosed)
	}
	reply := make(chan error, 1)
	select {
	case s.flushes <- reply:
	case <-s.done:
		return fmt.Errorf("store: flush: %w", ErrClosed)
	case <-ctx.Done():
		return fmt.Errorf("store: flush: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("store: flush: %w", ctx.Err())
	}
}

// RecentShares returns up to limit of the latest share records, newest
// first.
func (s *Store) RecentShares(ctx context.Context, limit int) ([]ShareRecord, error) {
	return s.SharesBefore(ctx, 0, limit)
}

// SharesBefore returns up to limit share records older than the record
// with ID before (0: from the newest), newest first.
func (s *Store) SharesBefore(ctx context.Context, before int64, limit int) ([]ShareRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	const q = `SELECT id, time_ns, pool, job, difficulty, share_difficulty, result, reason
		FROM shares WHERE id < ? ORDER BY id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent shares: %w", err)
	}
	defer rows.Close()
	var out []ShareRecord
	for rows.Next() {
		var r ShareRecord
		var ns int64
		var diff, sdiff sql.NullFloat64
		if err := rows.Scan(&r.ID, &ns, &r.Pool, &r.Job, &diff, &sdiff, &r.Result, &r.Reason); err != nil {
			return nil, fmt.Errorf("store: recent shares: %w", err)
		}
		r.Time = time.Unix(0, ns).UTC()
		r.Difficulty, r.ShareDifficulty = fromNull(diff), fromNull(sdiff)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recent shares: %w", err)
	}
	return out, nil
}

// fromNull undoes SQLite storing a NaN as NULL.
func fromNull(f sql.NullFloat64) float64 {
	if !f.Valid {
		return math.NaN()
	}
	return f.Float64
}

// writer is the goroutine that owns the share queue's consumer side and
// the connection it writes through.
type writer struct {
	s      *Store
	conn   *sql.Conn
	insert *sql.Stmt
	prune  *sql.Stmt
	batch  []ShareRecord
	err    error // first write error since the last flush
}

const (
	insertShare = `INSERT INTO shares
		(time_ns, pool, job, difficulty, share_difficulty, result, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	// Rows are inserted with ever growing ids and only the oldest are
	// deleted, so this keeps the newest MaxShares rows with one range
	// delete on the primary key.
	pruneShares = `DELETE FROM shares WHERE id <= (SELECT max(id) FROM shares) - ?`
)

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("share writer: %w", err)
	}
	w := &writer{s: s, conn: conn, batch: make([]ShareRecord, 0, s.opt.BatchSize)}
	if w.insert, err = conn.PrepareContext(ctx, insertShare); err == nil {
		w.prune, err = conn.PrepareContext(ctx, pruneShares)
	}
	if err != nil {
		w.close()
		return nil, fmt.Errorf("share writer: prepare: %w", err)
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.insert, w.prune} {
		if st != nil {
			st.Close()
		}
	}
	w.conn.Close()
}

// run batches queued records: a batch is committed when it reaches
// BatchSize, when its first record has waited BatchInterval, on Flush and
// on Close.
func (w *writer) run() {
	defer close(w.s.done)
	defer w.close()
	timer := time.NewTimer(w.s.opt.BatchInterval)
	timer.Stop()
	var due <-chan time.Time // non-nil while a batch is waiting
	for {
		select {
		case r := <-w.s.shares:
			w.batch = append(w.batch, r)
			if len(w.batch) < w.s.opt.BatchSize {
				if due == nil {
					timer.Reset(w.s.opt.BatchInterval)
					due = timer.C
				}
				continue
			}
		case <-due:
		case reply := <-w.s.flushes:
			w.drain()
			reply <- w.takeErr()
		case <-w.s.stop:
			w.drain()
			w.s.finalErr = w.takeErr() // read by Close after done
			return
		}
		w.writeBatch()
		timer.Stop()
		due = nil
	}
}

// drain writes everything now in the queue, at most one queue's worth, so
// a steady stream of new records cannot hold it forever.
func (w *writer) drain() {
	for range cap(w.s.shares) {
		select {
		case r := <-w.s.shares:
			w.batch = append(w.batch, r)
			if len(w.batch) >= w.s.opt.BatchSize {
				w.writeBatch()
			}
			continue
		default:
		}
		break
	}
	w.writeBatch()
}

func (w *writer) takeErr() error {
	err := w.err
	w.err = nil
	return err
}

// writeBatch commits the pending batch in one transaction, pruning the
// share log to MaxShares rows in the same transaction. A failed batch is
// counted as dropped.
func (w *writer) writeBatch() {
	if len(w.batch) == 0 {
		return
	}
	if err := w.commit(w.batch); err != nil {
		w.s.dropped.Add(uint64(len(w.batch)))
		w.s.log.Error("store: share write failed", "records", len(w.batch), "err", err)
		if w.err == nil {
			w.err = fmt.Errorf("store: write %d share records: %w", len(w.batch), err)
		}
	}
	clear(w.batch)
	w.batch = w.batch[:0]
}

func (w *writer) commit(recs []ShareRecord) (err error) {
	ctx := context.Background()
	// The writer owns its connection, so it runs the transaction by hand
	// and keeps its prepared statements across batches.
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, rbErr := w.conn.ExecContext(ctx, "ROLLBACK")
			err = errors.Join(err, rbErr)
		}
	}()
	for _, r := range recs {
		_, err := w.insert.ExecContext(ctx, r.Time.UnixNano(), r.Pool, r.Job,
			r.Difficulty, r.ShareDifficulty, r.Result, r.Reason)
		if err != nil {
			return err
		}
	}
	if _, err := w.prune.ExecContext(ctx, w.s.opt.MaxShares); err != nil {
		return err
	}
	_, err = w.conn.ExecContext(ctx, "COMMIT")
	return err
}
