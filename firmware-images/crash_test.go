package firmware

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The child process of TestPowerLoss reads its orders from these; they are
// set only in the child.
const (
	crashDirEnv   = "KILN_FW_CRASH_DIR"
	crashImageEnv = "KILN_FW_CRASH_IMAGE"
	crashPointEnv = "KILN_FW_CRASH_POINT"
)

// crashPayloadSize is the payload the killed child is writing: large
// enough that the write is well under way when it dies.
const crashPayloadSize = 32 << 20

// TestHelperInstaller is the child process of TestPowerLoss: it installs
// an image and, at the named point, prints "at POINT" and waits to be
// killed. In a normal test run it returns at once.
func TestHelperInstaller(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return
	}
	if err := helperInstall(dir, os.Getenv(crashImageEnv), os.Getenv(crashPointEnv)); err != nil {
		t.Fatal(err)
	}
	t.Fatal("the install finished; the crash point was never reached")
}

func helperInstall(dir, image, point string) error {
	slots, err := OpenDirSlots(dir)
	if err != nil {
		return err
	}
	stop := func(step string) {
		fmt.Printf("at %s\n", step)
		time.Sleep(time.Minute) // killed long before this ends
		os.Exit(3)
	}
	slots.crashPoint = func(step string) {
		if step == point {
			stop(step)
		}
	}
	f, err := os.Open(image)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if point == "payload" {
		r = &stopAfter{r: f, n: crashPayloadSize / 2, stop: func() { stop(point) }}
	}
	k, err := keyFromSeed(1)
	if err != nil {
		return err
	}
	u, err := NewUpdater(Config{Slots: slots, Keys: []PublicKey{k.Public()}, Board: "sim", Version: "1.1.0"})
	if err != nil {
		return err
	}
	_, err = u.Install(context.Background(), r, Options{})
	return err
}

// stopAfter calls stop once n bytes have been read through it.
type stopAfter struct {
	r    io.Reader
	n    int
	stop func()
}

func (s *stopAfter) Read(b []byte) (int, error) {
	if s.n <= 0 {
		s.stop()
	}
	if len(b) > s.n {
		b = b[:s.n]
	}
	n, err := s.r.Read(b)
	s.n -= n
	return n, err
}

// TestPowerLoss kills an installing process with SIGKILL at each point a
// power cut could hit (mid-payload, after the new slot is synced, between
// the slot renames, and with the new state written but not renamed) and
// checks that the active slot and the state are intact, the next Boot
// runs the old slot, and a new install then works.
func TestPowerLoss(t *testing.T) {
	key := testKey(t, 1)
	payload := make([]byte, crashPayloadSize)
	rand.NewChaCha8([32]byte{42}).Read(payload)
	image := filepath.Join(t.TempDir(), "big.kimg")
	if err := os.WriteFile(image, buildImage(t, imageSpec{key: &key, version: "1.2.0", payload: payload}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, point := range []string{"payload", "slot-filled", "slot-moved-aside", "state-written"} {
		t.Run(point, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "slots")
			d := newDevice(t, root)
			before := snapshot(t, root)
			killAt(t, root, image, point)
			checkAfterCut(t, d, before, point)
			// The device takes the same image afterwards.
			if slot := d.upgrade(t, mustRead(t, image)); slot != SlotB {
				t.Fatalf("upgrade went to slot %s", slot)
			}
			if got := snapshot(t, root)["b/rootfs.squashfs"]; got != "-rw-r--r-- sha256:"+sha256Hex(payload) {
				t.Errorf("slot b after the upgrade: %s", got)
			}
		})
	}
}

// killAt runs the child installer until it reports reaching point, then
// kills it with SIGKILL.
func killAt(t *testing.T, root, image, point string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperInstaller$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+root, crashImageEnv+"="+image, crashPointEnv+"="+point)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if sc.Text() == "at "+point && !found {
				found = true
				reached <- true
			}
		}
		if !found {
			reached <- false
		}
	}()
	// finish kills the child (if alive), drains its output and reaps it.
	finish := func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
	}
	select {
	case ok := <-reached:
		if !ok {
			finish()
			t.Fatalf("child ended before %s: %v\n%s", point, cmd.ProcessState, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		finish()
		t.Fatalf("child did not reach %s in time\n%s", point, stderr.String())
	}
	finish()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", cmd.ProcessState, stderr.String())
	}
}

// checkAfterCut checks a device after the cut, then boots it.
func checkAfterCut(t *testing.T, d *device, before map[string]string, point string) {
	after := snapshot(t, d.root)
	// Proof that the cut hit where it was meant to.
	evidence := map[string]string{
		"payload": ".new-b/rootfs.squashfs", "slot-filled": ".new-b/.kiln/manifest.json",
		"slot-moved-aside": ".old-b/rootfs.squashfs", "state-written": "state.json.tmp",
	}[point]
	if after[evidence] == "" {
		t.Errorf("no %s after the cut", evidence)
	}
	if point == "payload" {
		fi, err := os.Stat(filepath.Join(d.root, evidence))
		if err != nil || fi.Size() == 0 || fi.Size() >= crashPayloadSize {
			t.Errorf("partial payload: %v, %v; want a part of %d bytes", fi.Size(), err, crashPayloadSize)
		}
	}
	for p, v := range before {
		if (p == "state.json" || p == "a" || strings.HasPrefix(p, "a/")) && after[p] != v {
			t.Errorf("%s changed: %q -> %q", p, v, after[p])
		}
	}
	slots, err := OpenDirSlots(d.root)
	if err != nil {
		t.Fatal(err)
	}
	st, err := slots.Boot()
	if err != nil || st != (BootState{Active: SlotA, Previous: SlotB, Booted: SlotA}) {
		t.Fatalf("Boot after the cut = %+v, %v", st, err)
	}
	// Boot cleared the leftovers; slot b holds its old image, nothing, or
	// (cut after the switch) the new one, never a mix.
	want := maps(before, func(p string) bool { return p != "b" && !strings.HasPrefix(p, "b/") })
	got := maps(snapshot(t, d.root), func(p string) bool { return p != "b" && !strings.HasPrefix(p, "b/") })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outside slot b (-before +after boot):\n%s", diff)
	}
	m, ok, err := slots.Manifest(SlotB)
	switch {
	case err != nil:
		t.Errorf("slot b: %v", err)
	case point == "slot-moved-aside" && ok:
		t.Errorf("slot b holds %s, want it empty", m.Version)
	case point == "state-written" && m.Version != "1.2.0":
		t.Errorf("slot b holds %q, want the new image", m.Version)
	case (point == "payload" || point == "slot-filled") && m.Version != "1.0.0":
		t.Errorf("slot b holds %q, want its old image", m.Version)
	}
}

func maps(m map[string]string, keep func(string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if keep(k) {
			out[k] = v
		}
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer collects a child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
