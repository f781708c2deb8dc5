package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestEventsPagesNewestFirst(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		e := Event{Time: base.Add(time.Duration(i) * time.Second), Level: LevelInfo, Source: "test", Kind: "test", Message: fmt.Sprint(i)}
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.Events(ctx, 0, 2)
	if err != nil || len(page) != 2 || page[0].Message != "4" || page[1].Message != "3" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	if !page[0].Time.Equal(base.Add(4 * time.Second)) {
		t.Errorf("time = %v", page[0].Time)
	}
	page, err = s.Events(ctx, page[1].ID, 10)
	if err != nil || len(page) != 3 || page[0].Message != "2" || page[2].Message != "0" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	if err := s.AddEvent(ctx, Event{Level: "loud", Source: "x", Kind: "x"}); err == nil {
		t.Error("unknown level accepted")
	}
	if err := s.AddEvent(ctx, Event{Level: LevelWarn, Source: "x"}); err == nil {
		t.Error("empty kind accepted")
	}
}

func TestEventsTrimmed(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO events (id, time_ns, level, source, kind, message) VALUES (?, 0, 'info', 's', 'old', '')`,
		1); err != nil {
		t.Fatal(err)
	}
	// Jump the IDs past the cap: the next multiple of 100 trims the old row.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO events (id, time_ns, level, source, kind, message) VALUES (?, 0, 'info', 's', 'x', '')`,
		maxEvents+99); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, Event{Level: LevelInfo, Source: "s", Kind: "new"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Events(ctx, 0, maxEvents+10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if e.Kind == "old" {
			t.Errorf("event %d beyond the cap was kept", e.ID)
		}
	}
	if len(all) != 2 {
		t.Errorf("%d events left, want 2", len(all))
	}
}

func TestHistoryBuckets(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for i := range 6 {
		smp := Sample{Time: base.Add(time.Duration(i) * time.Minute), HashrateHS: float64(100 * (i + 1)),
			Accepted: uint64(i), TemperatureC: float64(50 + i)}
		if err := s.AddSample(ctx, smp); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.History(ctx, base, base.Add(time.Hour), 0)
	if err != nil || len(all) != 6 || all[0].HashrateHS != 100 || all[5].Accepted != 5 {
		t.Fatalf("History = %+v, %v", all, err)
	}
	b, err := s.History(ctx, base, base.Add(time.Hour), 3*time.Minute)
	if err != nil || len(b) != 2 {
		t.Fatalf("bucketed = %+v, %v", b, err)
	}
	if b[0].HashrateHS != 200 || b[1].HashrateHS != 500 || b[1].TemperatureC != 55 || !b[1].Time.Equal(base.Add(5*time.Minute)) {
		t.Errorf("buckets = %+v", b)
	}
	// Samples past the retention go when a new one arrives.
	late := base.Add(historyRetention + 2*time.Minute)
	if err := s.AddSample(ctx, Sample{Time: late, HashrateHS: 1}); err != nil {
		t.Fatal(err)
	}
	all, err = s.History(ctx, base, late, 0)
	if err != nil || len(all) != 5 || all[0].Time.Before(base.Add(2*time.Minute)) {
		t.Errorf("after retention: %+v, %v", all, err)
	}
}

func TestTokens(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a, err := s.AddToken(ctx, "grafana", "secret-a", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddToken(ctx, "fleet", "secret-b", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddToken(ctx, "dup", "secret-a", now); err == nil {
		t.Error("a second token with the same secret was stored")
	}
	got, err := s.CheckToken(ctx, "secret-a", now.Add(time.Minute))
	if err != nil || got.ID != a.ID || got.Name != "grafana" {
		t.Fatalf("CheckToken = %+v, %v", got, err)
	}
	if _, err := s.CheckToken(ctx, "nope", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown secret: %v", err)
	}
	list, err := s.Tokens(ctx)
	if err != nil || len(list) != 2 || !list[0].LastUsed.Equal(now.Add(time.Minute)) || !list[1].LastUsed.IsZero() {
		t.Fatalf("Tokens = %+v, %v", list, err)
	}
	if err := s.DeleteToken(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckToken(ctx, "secret-a", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked token still accepted: %v", err)
	}
	if err := s.DeleteToken(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}
