package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestShareLogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := []ShareRecord{
		{Time: time.Date(2024, 2, 29, 23, 59, 59, 123456789, zone), Pool: "stratum+tcp://a.example:3333",
			Job: "1f", Difficulty: 65536, ShareDifficulty: 131072.5, Result: ResultAccepted},
		{Time: time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC), Pool: "stratum+tcp://a.example:3333",
			Job: "20", Difficulty: 65536, ShareDifficulty: 65536.000001, Result: ResultRejected, Reason: "Duplicate share"},
		{Time: time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.Local), Pool: "stratum+tcp://b.example:3333",
			Job: "", Difficulty: math.Inf(1), ShareDifficulty: math.NaN(), Result: ResultStale, Reason: "job not found ✗"},
	}
	for _, r := range in {
		s.LogShare(r)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	got, err := s.RecentShares(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []ShareRecord{in[2], in[1], in[0]} // newest first
	for i := range want {
		want[i].ID = int64(3 - i)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("RecentShares (-want +got):\n%s", diff)
	}
	for i, r := range got {
		if r.Time.Location() != time.UTC || r.Time != want[i].Time.UTC() {
			t.Errorf("share %d: time %v (%v), want exactly %v in UTC", i, r.Time, r.Time.Location(), want[i].Time.UTC())
		}
	}
	if got, err := s.RecentShares(ctx, 2); err != nil || len(got) != 2 || got[0].Job != in[2].Job || got[1].Job != in[1].Job {
		t.Errorf("RecentShares(2) = %+v, %v", got, err)
	}
	if got, err := s.RecentShares(ctx, 0); err != nil || len(got) != 0 {
		t.Errorf("RecentShares(0) = %+v, %v", got, err)
	}
	// The next page after the first two is the oldest record alone.
	if got, err := s.SharesBefore(ctx, 2, 2); err != nil || len(got) != 1 || got[0].Job != in[0].Job {
		t.Errorf("SharesBefore(2, 2) = %+v, %v", got, err)
	}
}

func TestShareZeroTimeIsNow(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	before := time.Now()
	s.LogShare(ShareRecord{Job: "now"})
	after := time.Now()
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentShares(t.Context(), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("RecentShares = %v, %v", got, err)
	}
	if tm := got[0].Time; tm.Before(before.Round(0)) || tm.After(after.Round(0)) {
		t.Errorf("zero Time stored as %v, want between %v and %v", tm, before, after)
	}
}

func TestShareRetention(t *testing.T) {
	const keep = 10
	dir := t.TempDir()
	ctx := t.Context()
	s := openT(t, dir, Options{MaxShares: keep, BatchSize: 4})
	for i := range 27 {
		s.LogShare(ShareRecord{Job: fmt.Sprint(i), Result: ResultAccepted})
		if i%5 == 4 {
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM shares").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != keep {
		t.Errorf("%d share rows kept, want %d", rows, keep)
	}
	got, err := s.RecentShares(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, r := range got {
		jobs = append(jobs, r.Job)
	}
	want := strings.Fields("26 25 24 23 22 21 20 19 18 17")
	if diff := cmp.Diff(want, jobs); diff != "" {
		t.Errorf("kept shares (-want +got):\n%s", diff)
	}
}

// TestShareBatchTriggers checks the writer commits without Flush, both
// when a batch fills and when its first record has waited long enough.
func TestShareBatchTriggers(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{BatchSize: 4, BatchInterval: time.Hour})
		for i := range 4 {
			s.LogShare(ShareRecord{Job: fmt.Sprint(i)})
		}
		waitShares(t, s, 4)
	})
	t.Run("interval", func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{BatchSize: 1000, BatchInterval: 10 * time.Millisecond})
		s.LogShare(ShareRecord{Job: "lonely"})
		waitShares(t, s, 1)
	})
}

// waitShares polls, up to a deadline, until the log holds n rows.
func waitShares(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.RecentShares(t.Context(), n+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("share log holds %d rows after 10s, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestShareQueueFull blocks the writer behind another connection's write
// lock, floods the queue, and checks LogShare neither blocks nor loses
// count: every record is either written or counted as dropped, and the
// drop is logged once.
func TestShareQueueFull(t *testing.T) {
	var logs logBuffer
	s := openT(t, t.TempDir(), Options{Log: logs.logger(), QueueSize: 4, BatchSize: 8})
	ctx := t.Context()
	lock, err := rawDB(t, s.Path()).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	const sent = 100
	for i := range sent {
		s.LogShare(ShareRecord{Job: fmt.Sprint(i)})
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush while the database is locked: %v, want deadline exceeded", err)
	}
	if _, err := lock.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.RecentShares(ctx, sent)
	if err != nil {
		t.Fatal(err)
	}
	dropped := s.DroppedShares()
	if dropped == 0 || uint64(len(got))+dropped != sent {
		t.Errorf("written %d + dropped %d, want dropped > 0 and a sum of %d", len(got), dropped, sent)
	}
	if n := strings.Count(logs.String(), "share records dropped"); n != 1 {
		t.Errorf("drop warning logged %d times, want 1:\n%s", n, logs.String())
	}
}

func TestFlushEmpty(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestCloseWritesQueued checks Close commits what LogShare accepted.
func TestCloseWritesQueued(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		s.LogShare(ShareRecord{Job: fmt.Sprint(i)})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	got, err := s.RecentShares(t.Context(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 || got[0].Job != "299" {
		t.Errorf("after Close: %d shares, want 300 ending with job 299", len(got))
	}
}

// BenchmarkLogShare measures share log throughput to disk: records queued
// with LogShare and committed by the writer, Flush included.
func BenchmarkLogShare(b *testing.B) {
	for _, keep := range []int{DefaultMaxShares, 10000} {
		b.Run(fmt.Sprintf("keep=%d", keep), func(b *testing.B) {
			const chunk = 2048
			s := openT(b, b.TempDir(), Options{MaxShares: keep, QueueSize: 2 * chunk})
			ctx := context.Background()
			r := ShareRecord{Time: time.Now(), Pool: "stratum+tcp://pool.example:3333", Job: "6a3f1",
				Difficulty: 65536, ShareDifficulty: 91234.5, Result: ResultAccepted}
			b.ResetTimer()
			for i := range b.N {
				s.LogShare(r)
				if i%chunk == chunk-1 {
					if err := s.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if d := s.DroppedShares(); d != 0 {
				b.Fatalf("%d records dropped", d)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkOpenFullLog measures Open on a database holding a full share
// log (DefaultMaxShares rows), dominated by the quick check.
func BenchmarkOpenFullLog(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := ShareRecord{Time: time.Now(), Pool: "stratum+tcp://pool.example:3333", Job: "6a3f1",
		Difficulty: 65536, ShareDifficulty: 91234.5, Result: ResultAccepted}
	for i := range DefaultMaxShares {
		s.LogShare(r)
		if i%2048 == 2047 {
			if err := s.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Open(context.Background(), dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
