package store

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPoolsOrderAndIDs(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Pools(ctx); err != nil || len(got) != 0 {
		t.Fatalf("fresh Pools() = %v, %v; want empty", got, err)
	}
	in := []Pool{
		{Priority: 2, URL: "stratum+tcp://c.example:3333", User: "w.c", Password: "x", Enabled: true},
		{Priority: 0, URL: "stratum+tcp://a.example:3333", User: "w.a", Password: "p@ss:word", Enabled: true},
		{Priority: 1, URL: "stratum+tcp://b1.example:3333", User: "w.b1", Enabled: false},
		{Priority: 1, URL: "stratum+tcp://b2.example:3333", User: "w.b2", Enabled: true, Algo: "scrypt"},
	}
	if err := s.ReplacePools(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{})
	got, err := s.Pools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Equal priorities keep insertion order through the ID tie-break.
	want := []Pool{in[1], in[2], in[3], in[0]}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Pool{}, "ID")); diff != "" {
		t.Errorf("Pools (-want +got):\n%s", diff)
	}
	ids := map[int64]bool{}
	for _, p := range got {
		if p.ID <= 0 || ids[p.ID] {
			t.Errorf("pool %s: ID %d not positive and unique", p.URL, p.ID)
		}
		ids[p.ID] = true
	}

	// Replacing keeps given IDs and drops pools not in the new list.
	next := []Pool{got[3], {Priority: 5, URL: "stratum+tcp://d.example:3333", Enabled: true}}
	next[0].Priority = 9
	if err := s.ReplacePools(ctx, next); err != nil {
		t.Fatal(err)
	}
	got2, err := s.Pools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got2) != 2 || got2[0].URL != next[1].URL || got2[1] != next[0] {
		t.Errorf("after second replace: %+v", got2)
	}
	if err := s.ReplacePools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Pools(ctx); err != nil || len(got) != 0 {
		t.Errorf("after replacing with nil: %v, %v", got, err)
	}
}

// TestReplacePoolsFailureKeepsOldList fails the transaction part-way (in
// validation and in SQLite itself) and checks the old list is untouched.
func TestReplacePoolsFailureKeepsOldList(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	old := []Pool{
		{ID: 10, Priority: 0, URL: "stratum+tcp://a.example:3333", Enabled: true},
		{ID: 11, Priority: 1, URL: "stratum+tcp://b.example:3333", Enabled: true},
	}
	if err := s.ReplacePools(ctx, old); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]Pool{
		"empty URL":   {{URL: "stratum+tcp://n.example:1"}, {URL: ""}},
		"negative ID": {{ID: -3, URL: "stratum+tcp://n.example:1"}},
		// Passes validation; the primary key fails the second insert,
		// after the delete and the first insert ran.
		"duplicate ID": {{ID: 7, URL: "stratum+tcp://n.example:1"}, {ID: 7, URL: "stratum+tcp://m.example:2"}},
	}
	for name, pools := range bad {
		if err := s.ReplacePools(ctx, pools); err == nil {
			t.Errorf("%s: ReplacePools succeeded", name)
		}
		got, err := s.Pools(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(old, got); diff != "" {
			t.Errorf("%s: list changed (-want +got):\n%s", name, diff)
		}
	}
}

// TestReplacePoolsReadersSeeWholeLists swaps between two lists while
// readers run; every read must be one list or the other, never a mix.
func TestReplacePoolsReadersSeeWholeLists(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	ctx := t.Context()
	a := []Pool{{URL: "a0"}, {URL: "a1"}, {URL: "a2"}}
	b := []Pool{{URL: "b0"}, {URL: "b1"}, {URL: "b2"}, {URL: "b3"}, {URL: "b4"}}
	if err := s.ReplacePools(ctx, a); err != nil {
		t.Fatal(err)
	}
	urls := func(ps []Pool) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.URL)
		}
		return out
	}
	valid := func(got []string) bool {
		return cmp.Equal(got, urls(a)) || cmp.Equal(got, urls(b))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for range 2 {
		wg.Go(func() {
			for i := 0; i < 10000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.Pools(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if !valid(urls(got)) {
					t.Errorf("reader saw a partial list: %v", urls(got))
					return
				}
			}
		})
	}
	for i := range 100 {
		next := a
		if i%2 == 0 {
			next = b
		}
		if err := s.ReplacePools(ctx, next); err != nil {
			t.Fatal(err)
		}
	}
}
