package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWorkerStatsAccumulateAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)

	s := openT(t, dir, Options{})
	if err := s.AddWorkerStats(ctx, []WorkerDelta{
		{Worker: "farm.rig1", Accepted: 3, Rejected: 1, RejectedByReason: map[string]uint64{"duplicate": 1},
			AcceptedDifficulty: 3 * 1024, Difficulty: 1024, LastShare: t2},
		{Worker: "farm.rig2", Stale: 2},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openT(t, dir, Options{})
	if err := s.AddWorkerStats(ctx, []WorkerDelta{
		{Worker: "farm.rig1", Accepted: 2, Rejected: 2, RejectedByReason: map[string]uint64{"duplicate": 1, "stale": 1},
			AcceptedDifficulty: 2 * 2048, Difficulty: 2048, LastShare: t1}, // an earlier time must not win
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].FirstSeen.IsZero() {
			t.Errorf("%s: no first-seen time", got[i].Worker)
		}
		got[i].FirstSeen = time.Time{}
	}
	want := []WorkerRecord{
		{Worker: "farm.rig1", Accepted: 5, Rejected: 3, RejectedByReason: map[string]uint64{"duplicate": 2, "stale": 1},
			AcceptedDifficulty: 3*1024 + 2*2048, Difficulty: 2048, LastShare: t2},
		{Worker: "farm.rig2", Stale: 2, RejectedByReason: map[string]uint64{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workers (-want +got):\n%s", diff)
	}
	if err := s.AddWorkerStats(ctx, []WorkerDelta{{Worker: ""}}); err == nil {
		t.Error("an empty worker name was accepted")
	}
}
