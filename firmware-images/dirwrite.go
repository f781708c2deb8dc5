package firmware

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write streams p into slot beside the slots, checks it, syncs it and
// renames it into place. The running and the active slot are refused.
func (d *DirSlots) Write(slot Slot, p Payload) error {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	st, err := d.State()
	if err != nil {
		return err
	}
	if !slot.Valid() || slot == st.running() || slot == st.Active {
		return fmt.Errorf("firmware: write slot %q: it is the running or active slot", slot)
	}
	if err := d.cleanup(slot); err != nil {
		return err
	}
	newDir := d.newDir(slot)
	if err := d.fill(newDir, p); err != nil {
		os.RemoveAll(newDir)
		os.Remove(d.payloadFile(slot))
		return err
	}
	d.crash("slot-filled")
	return d.swap(slot)
}

// Temporary names beside the slots.
func (d *DirSlots) newDir(s Slot) string { return filepath.Join(d.root, ".new-"+string(s)) }
func (d *DirSlots) oldDir(s Slot) string { return filepath.Join(d.root, ".old-"+string(s)) }
func (d *DirSlots) payloadFile(s Slot) string {
	return filepath.Join(d.root, ".new-"+string(s)+".payload")
}

// cleanup removes what an interrupted write of slot left behind and makes
// sure the slot directory exists (empty after a cut mid-swap).
func (d *DirSlots) cleanup(s Slot) error {
	for _, p := range []string{d.newDir(s), d.oldDir(s), d.payloadFile(s)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("firmware: clean slot %s: %w", s, err)
		}
	}
	if err := os.MkdirAll(d.Dir(s), 0o755); err != nil {
		return fmt.Errorf("firmware: clean slot %s: %w", s, err)
	}
	return nil
}

// fill writes the new slot contents into dir: the payload (a squashfs
// file, or a bundle extracted only after its digest checked out) and the
// manifest with its signature, all synced.
func (d *DirSlots) fill(dir string, p Payload) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("firmware: write slot: %w", err)
	}
	switch p.Kind {
	case KindRootfs:
		if err := copyToFile(filepath.Join(dir, rootfsFile), p.Data, p.Size); err != nil {
			return err
		}
	case KindBundle:
		tarPath := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+".payload")
		if err := copyToFile(tarPath, p.Data, p.Size); err != nil {
			return err
		}
		if err := extractFile(tarPath, dir, p.Size); err != nil {
			return err
		}
		if err := os.Remove(tarPath); err != nil {
			return fmt.Errorf("firmware: write slot: %w", err)
		}
	default:
		return fmt.Errorf("%w: payload kind %q", ErrMalformed, p.Kind)
	}
	meta := filepath.Join(dir, metaDir)
	if err := os.Mkdir(meta, 0o755); err != nil {
		return fmt.Errorf("firmware: write slot: %w", err)
	}
	for name, b := range map[string][]byte{manifestFile: p.Manifest, sigFile: p.Signature} {
		if err := writeFileSync(filepath.Join(meta, name), b); err != nil {
			return fmt.Errorf("firmware: write slot: %w", err)
		}
	}
	for _, dir := range []string{meta, dir} {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("firmware: write slot: %w", err)
		}
	}
	return nil
}

// copyToFile copies r, which must end after exactly size bytes with
// io.EOF, into a new synced file.
func copyToFile(path string, r io.Reader, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("firmware: write slot: %w", err)
	}
	src := &readErr{r: r}
	n, err := io.Copy(f, src)
	if src.err != nil && src.err != io.EOF {
		f.Close()
		return src.err // the payload's verdict, already explained
	}
	if err == nil && n != size {
		err = fmt.Errorf("%w: payload is %d bytes, the manifest says %d", ErrTruncated, n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("firmware: write slot: %w", err)
	}
	return nil
}

func extractFile(tarPath, dir string, limit int64) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return fmt.Errorf("firmware: write slot: %w", err)
	}
	defer f.Close()
	return extractBundle(f, dir, limit)
}

// swap moves the filled directory into place: the old slot aside, the new
// one in, the directory synced, the old one removed. A cut between the two
// renames leaves the slot missing, which cleanup turns into an empty slot.
func (d *DirSlots) swap(s Slot) error {
	if err := os.Rename(d.Dir(s), d.oldDir(s)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("firmware: switch slot %s: %w", s, err)
	}
	d.crash("slot-moved-aside")
	if err := os.Rename(d.newDir(s), d.Dir(s)); err != nil {
		return fmt.Errorf("firmware: switch slot %s: %w", s, err)
	}
	if err := syncDir(d.root); err != nil {
		return fmt.Errorf("firmware: switch slot %s: %w", s, err)
	}
	if err := os.RemoveAll(d.oldDir(s)); err != nil {
		return fmt.Errorf("firmware: switch slot %s: %w", s, err)
	}
	return nil
}

// readErr remembers the error its reader returned, to tell a bad payload
// from a failing disk.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil {
		r.err = err
	}
	return n, err
}
