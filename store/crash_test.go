package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv names the data directory of TestHelperWriter's child process;
// it is set only in that child.
const helperEnv = "KILN_STORE_CRASH_HELPER_DIR"

// What the child commits before it says "ready".
const (
	preSettings = 20
	preCounts   = 50
	preShares   = 500
)

// TestHelperWriter is the child process of TestCrashSafety; in a normal
// test run it has nothing to do and returns at once.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	if err := helperWriter(context.Background(), dir, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// helperWriter commits a known state, prints "ready", then keeps writing
// (printing "writing" once well under way) until it is killed or 10
// seconds pass.
func helperWriter(ctx context.Context, dir string, out io.Writer) error {
	s, err := Open(ctx, dir, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	for i := range preSettings {
		if err := s.SetSetting(ctx, fmt.Sprintf("pre-%d", i), fmt.Sprintf("value-%d", i)); err != nil {
			return err
		}
	}
	for range preCounts {
		if err := s.AddCounters(ctx, map[string]int64{"a": 1, "b": 1}); err != nil {
			return err
		}
	}
	if err := s.AddCounters(ctx, map[string]int64{"accepted": 1000}); err != nil {
		return err
	}
	for i := range preShares {
		s.LogShare(ShareRecord{Pool: "stratum+tcp://pool.example:3333", Job: fmt.Sprintf("pre-%d", i), Result: ResultAccepted})
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	stopAt := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(stopAt); i++ {
		if err := s.SetSetting(ctx, fmt.Sprintf("post-%d", i), "x"); err != nil {
			return err
		}
		if err := s.AddCounters(ctx, map[string]int64{"a": 1, "b": 1}); err != nil {
			return err
		}
		s.LogShare(ShareRecord{Job: fmt.Sprintf("post-%d", i), Result: ResultStale})
		if i == 20 {
			fmt.Fprintln(out, "writing")
		}
	}
	return nil
}

// TestCrashSafety kills a process in the middle of writing and checks that
// everything it committed is there, whole, when the store is reopened.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	var stderr logBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(2 * time.Minute)
	for _, want := range []string{"ready", "writing"} {
		if err := waitLine(lines, want, timeout); err != nil {
			cmd.Process.Kill()
			for range lines {
			}
			cmd.Wait()
			t.Fatalf("%v; child stderr:\n%s", err, stderr.String())
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for range lines { // ends at EOF, now that the child is dead
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed mid-write: %v; stderr:\n%s", cmd.ProcessState, stderr.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName+"-wal")); err != nil || fi.Size() == 0 {
		t.Errorf("no write-ahead log left by the killed child (%v); the crash did not test recovery", err)
	}
	checkAfterCrash(t, dir)
}

func waitLine(lines <-chan string, want string, timeout <-chan time.Time) error {
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("child exited before printing %q", want)
			}
			if l == want {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("child did not print %q in time", want)
		}
	}
}

func checkAfterCrash(t *testing.T, dir string) {
	ctx := t.Context()
	s := openT(t, dir, Options{})
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range preSettings {
		k := fmt.Sprintf("pre-%d", i)
		if v, ok, err := s.Setting(ctx, k); err != nil || !ok || v != fmt.Sprintf("value-%d", i) {
			t.Errorf("Setting(%q) = %q, %v, %v", k, v, ok, err)
		}
	}
	post := postSettings(t, s)
	counters, err := s.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each post-crash iteration sets post-i, then adds to a and b in one
	// transaction: a and b move together, and trail post-i by at most one.
	a, b := counters["a"], counters["b"]
	if a != b || counters["accepted"] != 1000 {
		t.Errorf("counters %v: want a == b and accepted == 1000", counters)
	}
	if extra := a - preCounts; extra != int64(post) && extra != int64(post)-1 {
		t.Errorf("a = %d after %d post settings, want %d or %d", a, post, preCounts+post, preCounts+post-1)
	}
	shares, err := s.RecentShares(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range shares {
		if strings.HasPrefix(r.Job, "pre-") {
			seen[r.Job] = true
		}
	}
	if len(seen) != preShares {
		t.Errorf("%d of the %d shares flushed before the crash survived", len(seen), preShares)
	}
}

// postSettings returns how many post-N settings survived, checking they
// are exactly post-0 to post-(n-1): synchronous writes land in order.
func postSettings(t *testing.T, s *Store) int {
	rows, err := s.db.QueryContext(t.Context(), "SELECT key FROM settings WHERE key LIKE 'post-%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var idx []int
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(k, "post-"))
		if err != nil {
			t.Fatalf("unexpected setting %q", k)
		}
		idx = append(idx, n)
	}
	sort.Ints(idx)
	for i, n := range idx {
		if n != i {
			t.Fatalf("post settings have a gap: %v", idx)
		}
	}
	if len(idx) <= 20 {
		t.Errorf("only %d post settings; the child printed \"writing\" after 21", len(idx))
	}
	return len(idx)
}
