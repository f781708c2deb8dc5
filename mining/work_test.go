package mining

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"
)

// tinyJob is a job whose search space is small enough to enumerate: 4
// versions (2 mask bits) × 256 extranonce2 values per ntime second.
func tinyJob(t testing.TB, received time.Time) *Job {
	j := jobB(t)
	j.VersionMask = 0x00006000
	j.Extranonce2Size = 1
	j.Received = received
	return j
}

func TestSpaceSlotsAreDistinct(t *testing.T) {
	j := tinyJob(t, time.Unix(1000, 0))
	s := SpaceOf(j)
	if s.Versions != 4 || s.Extranonce2s != 256 {
		t.Fatalf("space = %+v, want 4 versions × 256 en2", s)
	}
	seen := map[string]uint64{}
	for k := uint64(0); k < 3*4*256; k++ {
		w := NewWork(j, k)
		key := hex.EncodeToString(w.Extranonce2) + Hex32(w.Version) + Hex32(w.NTime)
		if prev, ok := seen[key]; ok {
			t.Fatalf("slots %d and %d both give %s", prev, k, key)
		}
		seen[key] = k
		if w.Version&^j.VersionMask != j.Version&^j.VersionMask {
			t.Fatalf("slot %d rolled bits outside the mask: %08x", k, w.Version)
		}
		if w.NTime < j.NTime || w.NTime > j.NTime+2 {
			t.Fatalf("slot %d ntime %d outside [%d, %d]", k, w.NTime, j.NTime, j.NTime+2)
		}
	}
}

// Hex32 is a local helper so the test reads like the wire form.
func Hex32(v uint32) string {
	return hex.EncodeToString([]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// TestDispatcherNoOverlapNoGap proves the split: many units drawing work
// concurrently receive every slot 0..n-1 exactly once.
func TestDispatcherNoOverlapNoGap(t *testing.T) {
	now := time.Unix(5000, 0)
	d := NewDispatcher(func() time.Time { return now })
	j := tinyJob(t, now.Add(-time.Hour)) // ntime may roll freely
	d.SetJob(j)

	const units, perUnit = 8, 300
	slots := make([][]*Work, units)
	var wg sync.WaitGroup
	for u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perUnit {
				w, err := d.Next(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				slots[u] = append(slots[u], w)
			}
		}()
	}
	wg.Wait()
	got := make(map[uint64]int)
	headers := make(map[[76]byte]bool)
	for u := range slots {
		for _, w := range slots[u] {
			got[w.Slot]++
			var h [76]byte
			copy(h[:], w.Header[:76])
			if headers[h] {
				t.Fatalf("two units hash the same header (slot %d)", w.Slot)
			}
			headers[h] = true
		}
	}
	for k := uint64(0); k < units*perUnit; k++ {
		if got[k] != 1 {
			t.Fatalf("slot %d handed out %d times, want exactly once", k, got[k])
		}
	}
	if len(got) != units*perUnit {
		t.Fatalf("%d distinct slots, want %d", len(got), units*perUnit)
	}
}

func TestDispatcherNTimeNeverAheadOfWallTime(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(5000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := NewDispatcher(clock)
	j := tinyJob(t, now)
	d.SetJob(j)
	perSecond := int(SpaceOf(j).Versions * SpaceOf(j).Extranonce2s)
	for range perSecond {
		w, err := d.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if w.NTime != j.NTime {
			t.Fatalf("ntime rolled to %d before any time passed", w.NTime)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with the space used up and no time passed = %v, want to block", err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	w, err := d.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w.NTime != j.NTime+1 {
		t.Fatalf("ntime = %d, want job ntime + 1", w.NTime)
	}
}

func TestDispatcherExpiryAndStaleness(t *testing.T) {
	d := NewDispatcher(nil)
	j1 := tinyJob(t, time.Now())
	d.SetJob(j1)
	w1, _ := d.Next(context.Background())

	j2 := tinyJob(t, time.Now())
	j2.Clean = false
	d.SetJob(j2)
	if !w1.Expired() || w1.Stale() {
		t.Fatalf("after a non-clean job: expired=%v stale=%v, want true,false", w1.Expired(), w1.Stale())
	}
	w2, _ := d.Next(context.Background())
	if w2.Job != j2 || w2.Slot != 0 {
		t.Fatalf("new job must restart at slot 0 of that job, got slot %d", w2.Slot)
	}

	j3 := tinyJob(t, time.Now())
	j3.Clean = false
	j3.Pool = 1 // another pool: its shares cannot go to the old one
	d.SetJob(j3)
	if !w2.Stale() {
		t.Fatal("work from the previous pool must be stale after a pool switch")
	}
	w3, _ := d.Next(context.Background())
	d.Clear()
	if !w3.Stale() {
		t.Fatal("Clear must make current work stale")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := d.Next(ctx); err == nil {
		t.Fatal("Next after Clear returned work")
	}
}

func TestDispatcherWakesOnNewJob(t *testing.T) {
	d := NewDispatcher(nil)
	got := make(chan *Work)
	go func() {
		w, _ := d.Next(context.Background())
		got <- w
	}()
	j := tinyJob(t, time.Now())
	d.SetJob(j)
	if w := <-got; w.Job != j {
		t.Fatal("waiting unit did not receive the new job")
	}
}

func TestDispatcherUnitsRollVersion(t *testing.T) {
	d := NewDispatcher(nil, UnitsRollVersion())
	j := tinyJob(t, time.Now().Add(-time.Hour))
	j.Version = 0x20000004
	d.SetJob(j)
	seen := map[string]bool{}
	for range 256 {
		w, err := d.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if w.Version != 0x20000004 {
			t.Fatalf("work version %08x, want the base version for units that roll it", w.Version)
		}
		key := hex.EncodeToString(w.Extranonce2) + Hex32(w.NTime)
		if seen[key] {
			t.Fatalf("slot %d repeats extranonce2/ntime %s", w.Slot, key)
		}
		seen[key] = true
	}
}

func TestDispatcherNextNIsConsecutive(t *testing.T) {
	d := NewDispatcher(nil)
	j := tinyJob(t, time.Now()) // 4 versions per extranonce2
	d.SetJob(j)
	if _, err := d.Next(context.Background()); err != nil { // misalign on purpose
		t.Fatal(err)
	}
	ws, err := d.NextN(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if w.Slot != uint64(1+i) {
			t.Errorf("work %d has slot %d, want %d", i, w.Slot, 1+i)
		}
	}
	if w, _ := d.Next(context.Background()); w.Slot != 5 {
		t.Errorf("after NextN(4) the next slot is %d, want 5", w.Slot)
	}
}

func TestDispatcherChanged(t *testing.T) {
	d := NewDispatcher(nil)
	ch := d.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before any job")
	default:
	}
	d.SetJob(tinyJob(t, time.Now()))
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by SetJob")
	}
	ch = d.Changed()
	d.Clear()
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Clear")
	}
}
