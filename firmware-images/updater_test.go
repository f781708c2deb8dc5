package firmware

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// healthTimeout is the test devices' health deadline; not a multiple of
// their 5 s check interval, so no check falls on the deadline itself.
const healthTimeout = 62 * time.Second

// device is a development board: directory slots and an updater.
type device struct {
	root  string
	slots *DirSlots
	up    *Updater
	key   SecretKey
}

// newDevice makes a device at root that has gone through two confirmed
// upgrades: slot a runs 1.1.0 (active), slot b holds 1.0.0 (previous).
func newDevice(t testing.TB, root string) *device {
	t.Helper()
	d := &device{root: root, key: testKey(t, 1)}
	var err error
	if d.slots, err = OpenDirSlots(root); err != nil {
		t.Fatal(err)
	}
	d.up = d.updater(t, "")
	for _, v := range []string{"1.0.0", "1.1.0"} {
		d.upgrade(t, buildImage(t, imageSpec{key: &d.key, version: v, payload: []byte("rootfs " + v)}))
	}
	d.up = d.updater(t, "1.1.0")
	return d
}

func (d *device) updater(t testing.TB, running string) *Updater {
	t.Helper()
	u, err := NewUpdater(Config{Slots: d.slots, Keys: []PublicKey{d.key.Public()}, Board: "sim", Arch: "amd64",
		Version: running, HealthTimeout: healthTimeout, HealthInterval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// upgrade installs img, boots it and confirms it.
func (d *device) upgrade(t testing.TB, img []byte) Slot {
	t.Helper()
	res, err := d.up.Install(context.Background(), bytes.NewReader(img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.up.Boot()
	if err != nil || !st.Trial || st.Booted != res.Slot {
		t.Fatalf("Boot after install = %+v, %v; want a trial of %s", st, err, res.Slot)
	}
	out, err := d.up.ConfirmHealthy(context.Background(), func(context.Context) error { return nil })
	if out != Confirmed || err != nil {
		t.Fatalf("ConfirmHealthy = %v, %v", out, err)
	}
	return res.Slot
}

func (d *device) state(t testing.TB) BootState {
	t.Helper()
	st, err := d.slots.State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestNewDevice(t *testing.T) {
	d := newDevice(t, t.TempDir())
	want := BootState{Active: SlotA, Previous: SlotB, Booted: SlotA}
	if diff := cmp.Diff(want, d.state(t)); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	snap := snapshot(t, d.root)
	if snap["a/rootfs.squashfs"] != "-rw-r--r-- rootfs 1.1.0" || snap["b/rootfs.squashfs"] != "-rw-r--r-- rootfs 1.0.0" {
		t.Errorf("slots hold %q and %q", snap["a/rootfs.squashfs"], snap["b/rootfs.squashfs"])
	}
	for _, s := range []Slot{SlotA, SlotB} {
		m, ok, err := d.slots.Manifest(s)
		if err != nil || !ok || m.Version != map[Slot]string{SlotA: "1.1.0", SlotB: "1.0.0"}[s] {
			t.Errorf("Manifest(%s) = %v, %v, %v", s, m.Version, ok, err)
		}
	}
}

// TestInstallRejects installs bad images; each must fail with its error
// and leave every byte under the slots root as it was.
func TestInstallRejects(t *testing.T) {
	d := newDevice(t, t.TempDir())
	key, other := d.key, testKey(t, 2)
	good := buildImage(t, imageSpec{key: &key, version: "1.2.0", payload: bytes.Repeat([]byte("new"), 1000)})
	bundle := buildImage(t, imageSpec{key: &key, version: "1.2.0", kind: KindBundle,
		payload: makeTar(t, tarEntry{name: "controller", body: "ELF", mode: 0o755})})
	tests := []struct {
		name string
		img  []byte
		want error
	}{
		{"unsigned", buildImage(t, imageSpec{version: "1.2.0"}), ErrUnsigned},
		{"untrusted key", buildImage(t, imageSpec{key: &other, version: "1.2.0"}), ErrBadSignature},
		{"manifest tampered", bytes.Replace(good, []byte(`"sim"`), []byte(`"sun"`), 1), ErrBadSignature},
		{"signature tampered", flipInSignature(t, good), ErrBadSignature},
		{"payload byte flipped", flipLast(good), ErrDigest},
		{"bundle byte flipped", flipMiddleOfPayload(t, bundle), ErrDigest},
		{"trailing data", append(bytes.Clone(good), "junk"...), ErrMalformed},
		{"wrong board", buildImage(t, imageSpec{key: &key, version: "1.2.0", boards: []string{"bitaxe-gamma"}}), ErrWrongBoard},
		{"downgrade", buildImage(t, imageSpec{key: &key, version: "1.0.0"}), ErrDowngrade},
		{"not an image", []byte("GET / HTTP/1.1\r\n\r\n"), ErrMalformed},
		{"truncated", good[:len(good)/2], ErrTruncated},
		{"unsafe bundle", signedRaw(t, &key, KindBundle, makeTar(t, tarEntry{name: "../x", body: "x"})), ErrMalformed},
	}
	before := snapshot(t, d.root)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.up.Install(t.Context(), bytes.NewReader(tc.img), Options{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Install: %v, want %v", err, tc.want)
			}
			t.Log(err)
			if diff := cmp.Diff(before, snapshot(t, d.root)); diff != "" {
				t.Errorf("the device changed (-before +after):\n%s", diff)
			}
		})
	}
	// The same device still takes a good image, and a downgrade when told.
	if _, err := d.up.Install(t.Context(), bytes.NewReader(good), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &key, version: "1.0.0"})),
		Options{AllowDowngrade: true}); err != nil {
		t.Fatalf("allowed downgrade: %v", err)
	}
}

// signedRaw makes a signed image around any payload, bypassing Build's
// checks.
func signedRaw(t *testing.T, key *SecretKey, kind Kind, payload []byte) []byte {
	t.Helper()
	m := Manifest{Format: 1, Product: "kiln", Version: "1.2.0", Boards: []string{"sim"}, Created: testCreated,
		Payload: PayloadInfo{Kind: kind, Size: int64(len(payload)), SHA256: sha256Hex(payload)}}
	mj, err := jsonMarshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return rawImage(t, string(mj), key, payload)
}

func flipMiddleOfPayload(t *testing.T, img []byte) []byte {
	m, s, p := sections(t, img)
	p = bytes.Clone(p)
	p[len(p)/3] ^= 0x20
	return append(appendHeader(nil, m, s), p...)
}

// TestInstallTruncatedEveryLength cuts an image at every length: each cut
// is ErrTruncated and the device is untouched.
func TestInstallTruncatedEveryLength(t *testing.T) {
	d := newDevice(t, t.TempDir())
	img := buildImage(t, imageSpec{key: &d.key, version: "1.2.0", payload: []byte("a small rootfs")})
	before := snapshot(t, d.root)
	for n := range len(img) {
		_, err := d.up.Install(t.Context(), bytes.NewReader(img[:n]), Options{})
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut to %d of %d bytes: %v, want ErrTruncated", n, len(img), err)
		}
		if n%50 == 0 || n > len(img)-20 {
			if diff := cmp.Diff(before, snapshot(t, d.root)); diff != "" {
				t.Fatalf("cut to %d bytes changed the device (-before +after):\n%s", n, diff)
			}
		}
	}
}

func TestUpgradeConfirmed(t *testing.T) {
	d := newDevice(t, t.TempDir())
	bundle := makeTar(t,
		tarEntry{name: "controller", body: "ELF 1.2.0", mode: 0o755},
		tarEntry{name: "www/index.html", body: "<html>"})
	img := buildImage(t, imageSpec{key: &d.key, version: "1.2.0", kind: KindBundle, payload: bundle})
	res, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != SlotB || !res.RebootRequired || res.Manifest.Version != "1.2.0" {
		t.Errorf("Install = %+v", res)
	}
	if got, want := d.state(t), (BootState{Active: SlotA, Pending: SlotB, Tries: 1, Previous: SlotB, Booted: SlotA}); got != want {
		t.Errorf("after install: %+v, want %+v", got, want)
	}
	snap := snapshot(t, d.root)
	if snap["b/controller"] != "-rwxr-xr-x ELF 1.2.0" || snap["b/www/index.html"] != "-rw-r--r-- <html>" ||
		snap["b/rootfs.squashfs"] != "" || snap["a/rootfs.squashfs"] != "-rw-r--r-- rootfs 1.1.0" {
		t.Errorf("slots after a bundle install: %v", snap)
	}
	if m, ok, err := d.slots.Manifest(SlotB); err != nil || !ok || m.Version != "1.2.0" {
		t.Errorf("slot b manifest: %+v, %v, %v", m, ok, err)
	}
	if snap["b/.kiln/manifest.json.minisig"] == "" {
		t.Error("slot b keeps no signature")
	}
	st, err := d.up.Boot()
	if err != nil || st != (BootState{Active: SlotA, Pending: SlotB, Tries: 0, Previous: SlotB, Booted: SlotB, Trial: true}) {
		t.Fatalf("Boot = %+v, %v", st, err)
	}
	if _, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{}); !errors.Is(err, ErrBusy) {
		t.Errorf("install during a trial: %v, want ErrBusy", err)
	}
	calls := 0
	out, err := d.up.ConfirmHealthy(t.Context(), func(context.Context) error { calls++; return nil })
	if out != Confirmed || err != nil || calls != 1 {
		t.Fatalf("ConfirmHealthy = %v, %v after %d checks", out, err, calls)
	}
	if got, want := d.state(t), (BootState{Active: SlotB, Previous: SlotA, Booted: SlotB}); got != want {
		t.Errorf("after confirm: %+v, want %+v", got, want)
	}
	// Later boots stay on the new slot, and a confirmed slot needs no check.
	if st, err := d.up.Boot(); err != nil || st.Booted != SlotB || st.Trial {
		t.Errorf("next Boot = %+v, %v", st, err)
	}
	out, err = d.up.ConfirmHealthy(t.Context(), func(context.Context) error { t.Error("health checked again"); return nil })
	if out != NotTrial || err != nil {
		t.Errorf("ConfirmHealthy on a confirmed slot = %v, %v", out, err)
	}
}

func TestUpgradeUnhealthyRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDevice(t, t.TempDir())
		img := buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})
		if _, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.up.Boot(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		calls := 0
		sick := errors.New("mining not started")
		out, err := d.up.ConfirmHealthy(t.Context(), func(context.Context) error { calls++; return sick })
		if out != RolledBack || !errors.Is(err, sick) {
			t.Fatalf("ConfirmHealthy = %v, %v; want RolledBack wrapping the health error", out, err)
		}
		if took := time.Since(start); took != healthTimeout || calls != 13 {
			t.Errorf("gave up after %v and %d checks, want %v and 13 (at 0, 5, ... 60 s)", took, calls, healthTimeout)
		}
		if got, want := d.state(t), (BootState{Active: SlotA, Previous: SlotB, Booted: SlotB, RolledBack: SlotB}); got != want {
			t.Errorf("after rollback: %+v, want %+v", got, want)
		}
		// Until the reboot, the running (abandoned) slot's fallback is safe.
		if _, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{}); !errors.Is(err, ErrBusy) {
			t.Errorf("install before the reboot: %v, want ErrBusy", err)
		}
		st, err := d.up.Boot()
		if err != nil || st != (BootState{Active: SlotA, Previous: SlotB, Booted: SlotA, RolledBack: SlotB}) {
			t.Fatalf("Boot after rollback = %+v, %v", st, err)
		}
	})
}

func TestHealthPassesLate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDevice(t, t.TempDir())
		if _, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})), Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.up.Boot(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := d.up.ConfirmHealthy(t.Context(), func(context.Context) error {
			if time.Since(start) < 30*time.Second {
				return errors.New("starting")
			}
			return nil
		})
		if out != Confirmed || err != nil || time.Since(start) != 30*time.Second {
			t.Fatalf("ConfirmHealthy = %v, %v after %v", out, err, time.Since(start))
		}
	})
}

func TestTrialNeverConfirmedRollsBackAtBoot(t *testing.T) {
	d := newDevice(t, t.TempDir())
	if _, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})), Options{}); err != nil {
		t.Fatal(err)
	}
	if st, err := d.up.Boot(); err != nil || !st.Trial {
		t.Fatalf("first Boot = %+v, %v", st, err)
	}
	// The new system hangs or crashes before confirming; the next start
	// falls back by itself.
	st, err := d.up.Boot()
	if err != nil || st != (BootState{Active: SlotA, Previous: SlotB, Booted: SlotA, RolledBack: SlotB}) {
		t.Fatalf("second Boot = %+v, %v", st, err)
	}
	snap := snapshot(t, d.root)
	if snap["a/rootfs.squashfs"] != "-rw-r--r-- rootfs 1.1.0" {
		t.Errorf("active slot holds %q", snap["a/rootfs.squashfs"])
	}
	// An install now goes to the abandoned slot again.
	res, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.1"})), Options{})
	if err != nil || res.Slot != SlotB {
		t.Fatalf("Install after rollback = %+v, %v", res, err)
	}
}

func TestConfirmInterrupted(t *testing.T) {
	d := newDevice(t, t.TempDir())
	if _, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.up.Boot(); err != nil {
		t.Fatal(err)
	}
	before := d.state(t)
	ctx, cancel := context.WithCancel(t.Context())
	out, err := d.up.ConfirmHealthy(ctx, func(context.Context) error { cancel(); return errors.New("shutting down") })
	if out != Interrupted || !errors.Is(err, context.Canceled) {
		t.Fatalf("ConfirmHealthy = %v, %v", out, err)
	}
	if after := d.state(t); after != before {
		t.Errorf("state changed: %+v -> %+v", before, after)
	}
}

func TestInstallCanceled(t *testing.T) {
	d := newDevice(t, t.TempDir())
	before := snapshot(t, d.root)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := d.up.Install(ctx, bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Install: %v", err)
	}
	if diff := cmp.Diff(before, snapshot(t, d.root)); diff != "" {
		t.Errorf("the device changed (-before +after):\n%s", diff)
	}
}

func TestFreshSlotsAndCorruptState(t *testing.T) {
	root := t.TempDir()
	s, err := OpenDirSlots(root)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.Boot(); err != nil || st != (BootState{Active: SlotA, Booted: SlotA}) {
		t.Errorf("fresh Boot = %+v, %v", st, err)
	}
	if err := s.MarkPending(SlotB, 1); err == nil {
		t.Error("MarkPending of an empty slot succeeded")
	}
	if err := s.Write(SlotA, Payload{Kind: KindRootfs}); err == nil {
		t.Error("writing the running slot succeeded")
	}
	for _, text := range []string{"", "{", `{"active":"c"}`, `{"active":"a","pending":"a"}`,
		`{"active":"a","extra":1}`, `{"active":"a","trial":true}`} {
		if err := os.WriteFile(filepath.Join(root, stateFile), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Boot(); err == nil {
			t.Errorf("state %q was accepted", text)
		}
	}
}

func TestNewUpdaterChecks(t *testing.T) {
	s, err := OpenDirSlots(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	k := testKey(t, 1).Public()
	for _, c := range []Config{{}, {Slots: s}, {Slots: s, Keys: []PublicKey{k}}, {Slots: s, Keys: []PublicKey{k}, Board: "sim", Tries: 99}} {
		if _, err := NewUpdater(c); err == nil {
			t.Errorf("NewUpdater(%+v) accepted", c)
		}
	}
}

func TestPendingSlotLostRollsBackAtBoot(t *testing.T) {
	d := newDevice(t, t.TempDir())
	if _, err := d.up.Install(t.Context(), bytes.NewReader(buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})), Options{}); err != nil {
		t.Fatal(err)
	}
	// A cut while the pending slot was being replaced left it empty.
	if err := os.RemoveAll(d.slots.Dir(SlotB)); err != nil {
		t.Fatal(err)
	}
	st, err := d.up.Boot()
	if err != nil || st != (BootState{Active: SlotA, Previous: SlotB, Booted: SlotA, RolledBack: SlotB}) {
		t.Fatalf("Boot = %+v, %v; want the active slot", st, err)
	}
	if fi, err := os.Stat(d.slots.Dir(SlotB)); err != nil || !fi.IsDir() {
		t.Errorf("slot b not recreated: %v", err)
	}
}

func TestConcurrentInstallIsBusy(t *testing.T) {
	d := newDevice(t, t.TempDir())
	img := buildImage(t, imageSpec{key: &d.key, version: "1.2.0"})
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		_, err := d.up.Install(t.Context(), pr, Options{})
		first <- err
	}()
	// Once the first install has read the header it holds the updater.
	if _, err := pw.Write(img[:HeaderSize]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{}); !errors.Is(err, ErrBusy) {
		t.Errorf("second install: %v, want ErrBusy", err)
	}
	pw.CloseWithError(errors.New("client went away"))
	if err := <-first; err == nil || !strings.Contains(err.Error(), "client went away") {
		t.Errorf("first install: %v", err)
	}
	if _, err := d.up.Install(t.Context(), bytes.NewReader(img), Options{}); err != nil {
		t.Errorf("install after the first ended: %v", err)
	}
}
