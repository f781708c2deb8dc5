package firmware

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DirSlots keeps the two slots as directories under a root, for
// development machines and tests (and boards whose bootloader is a shell
// script):
//
//	ROOT/state.json            the BootState, replaced atomically
//	ROOT/a/, ROOT/b/           the slots
//	ROOT/<slot>/.kiln/         manifest.json and manifest.json.minisig
//	ROOT/<slot>/rootfs.squashfs   a rootfs payload, or
//	ROOT/<slot>/...            a bundle's files
//
// A slot is written beside the slots (ROOT/.new-<slot>), synced, and then
// renamed into place, so a power cut leaves the old contents or an empty
// slot, never a mix; state.json goes through a temporary file, fsync and
// rename. Leftovers of an interrupted write are removed at the next Boot
// or Write.
type DirSlots struct {
	root string

	mu      sync.Mutex // guards state.json
	writeMu sync.Mutex // one Write at a time

	// crashPoint, when set by tests, is called at the steps a power cut
	// could interrupt.
	crashPoint func(step string)
}

// Names inside a DirSlots root and a slot.
const (
	stateFile    = "state.json"
	rootfsFile   = "rootfs.squashfs"
	manifestFile = "manifest.json"
	sigFile      = "manifest.json.minisig"
	maxStateSize = 4 << 10
)

// OpenDirSlots opens (creating when needed) slots under root. A new root
// starts with slot a active and both slots empty.
func OpenDirSlots(root string) (*DirSlots, error) {
	d := &DirSlots{root: root}
	for _, s := range []Slot{SlotA, SlotB} {
		if err := os.MkdirAll(d.Dir(s), 0o755); err != nil {
			return nil, fmt.Errorf("firmware: open slots: %w", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, stateFile)); errors.Is(err, fs.ErrNotExist) {
		if err := d.save(BootState{Active: SlotA}); err != nil {
			return nil, err
		}
	}
	if _, err := d.State(); err != nil {
		return nil, err
	}
	return d, nil
}

// Dir returns the directory of a slot.
func (d *DirSlots) Dir(s Slot) string { return filepath.Join(d.root, string(s)) }

// State returns the boot state.
func (d *DirSlots) State() (BootState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.load()
}

func (d *DirSlots) load() (BootState, error) {
	path := filepath.Join(d.root, stateFile)
	f, err := os.Open(path)
	if err != nil {
		return BootState{}, fmt.Errorf("firmware: slot state: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return BootState{}, fmt.Errorf("firmware: slot state: %w", err)
	}
	var st BootState
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if len(b) > maxStateSize {
		err = errors.New("too large")
	} else if err = dec.Decode(&st); err == nil {
		err = st.check()
	}
	if err != nil {
		return BootState{}, fmt.Errorf("firmware: slot state %s is corrupt: %v", path, err)
	}
	return st, nil
}

// save replaces state.json atomically: temporary file, fsync, rename,
// fsync of the directory.
func (d *DirSlots) save(st BootState) error {
	if err := st.check(); err != nil {
		return fmt.Errorf("firmware: save slot state: %v", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("firmware: save slot state: %w", err)
	}
	path := filepath.Join(d.root, stateFile)
	if err := writeFileSync(path+".tmp", append(b, '\n')); err != nil {
		return fmt.Errorf("firmware: save slot state: %w", err)
	}
	d.crash("state-written")
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("firmware: save slot state: %w", err)
	}
	if err := syncDir(d.root); err != nil {
		return fmt.Errorf("firmware: save slot state: %w", err)
	}
	return nil
}

// update loads the state, applies fn and saves the result.
func (d *DirSlots) update(fn func(*BootState) error) (BootState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.load()
	if err != nil {
		return BootState{}, err
	}
	if err := fn(&st); err != nil {
		return BootState{}, err
	}
	return st, d.save(st)
}

// MarkPending makes the next boots try slot, which must hold an image.
func (d *DirSlots) MarkPending(slot Slot, tries int) error {
	if _, err := os.Stat(filepath.Join(d.Dir(slot), metaDir, manifestFile)); err != nil {
		return fmt.Errorf("firmware: mark %q pending: slot holds no image: %w", slot, err)
	}
	_, err := d.update(func(st *BootState) error {
		switch {
		case !slot.Valid() || slot == st.running() || slot == st.Active:
			return fmt.Errorf("firmware: mark %q pending: it is the running or active slot", slot)
		case tries < 1 || tries > maxTries:
			return fmt.Errorf("firmware: mark %q pending: %d tries, want 1 to %d", slot, tries, maxTries)
		}
		st.Pending, st.Tries, st.RolledBack = slot, tries, ""
		return nil
	})
	return err
}

// Confirm makes slot, running on a trial boot, the active slot.
func (d *DirSlots) Confirm(slot Slot) error {
	_, err := d.update(func(st *BootState) error {
		if !st.Trial || st.Booted != slot {
			return fmt.Errorf("firmware: confirm %q: not on a trial boot of it (booted %q, pending %q)", slot, st.Booted, st.Pending)
		}
		st.Previous, st.Active = st.Active, slot
		st.Pending, st.Tries, st.Trial = "", 0, false
		return nil
	})
	return err
}

// Abandon drops the pending slot; the next boot runs the active one.
func (d *DirSlots) Abandon() error {
	_, err := d.update(func(st *BootState) error {
		if st.Pending != "" {
			st.RolledBack = st.Pending
		}
		st.Pending, st.Tries, st.Trial = "", 0, false
		return nil
	})
	return err
}

// Boot counts a trial boot of the pending slot, or falls back to the
// active slot when the pending one has no tries left (or no longer holds
// an image, after a cut while it was being replaced), and removes what an
// interrupted write left behind.
func (d *DirSlots) Boot() (BootState, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	for _, s := range []Slot{SlotA, SlotB} {
		if err := d.cleanup(s); err != nil {
			return BootState{}, err
		}
	}
	if err := os.Remove(filepath.Join(d.root, stateFile+".tmp")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return BootState{}, fmt.Errorf("firmware: boot: %w", err)
	}
	pendingOK := func(s Slot) bool {
		_, err := os.Stat(filepath.Join(d.Dir(s), metaDir, manifestFile))
		return err == nil
	}
	return d.update(func(st *BootState) error {
		switch {
		case st.Pending != "" && st.Tries > 0 && pendingOK(st.Pending):
			st.Tries--
			st.Booted, st.Trial = st.Pending, true
		case st.Pending != "":
			st.RolledBack = st.Pending
			st.Pending, st.Tries, st.Booted, st.Trial = "", 0, st.Active, false
		default:
			st.Booted, st.Trial = st.Active, false
		}
		return nil
	})
}

// Manifest returns the manifest of the image in slot; ok is false when the
// slot is empty.
func (d *DirSlots) Manifest(slot Slot) (m Manifest, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(d.Dir(slot), metaDir, manifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, false, nil
	}
	if err != nil {
		return Manifest{}, false, fmt.Errorf("firmware: slot %s manifest: %w", slot, err)
	}
	m, err = parseManifest(b, 1<<62)
	if err != nil {
		return Manifest{}, false, fmt.Errorf("firmware: slot %s manifest: %w", slot, err)
	}
	return m, true, nil
}

func (d *DirSlots) crash(step string) {
	if d.crashPoint != nil {
		d.crashPoint(step)
	}
}

// writeFileSync writes a new file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a directory, making renames and new names in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
