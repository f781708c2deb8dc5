package firmware

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
)

// Bounds on a bundle, checked when it is built and again when it is
// extracted on the device.
const (
	maxBundleEntries = 10000
	maxBundlePath    = 1024
	// metaDir is the directory of each slot that holds the image's
	// manifest and signature; a bundle may not write into it.
	metaDir = ".kiln"
)

// bundleEntry is one checked tar entry: its cleaned name and what it is.
type bundleEntry struct {
	name string
	hdr  *tar.Header
	data io.Reader
}

// walkBundle reads a tar stream and calls fn for each entry after
// checking it: names are local paths (no absolute paths, no "..", nothing
// under .kiln), types are regular files, directories or symbolic links
// that stay inside the bundle, and the file sizes add up to at most limit.
func walkBundle(r io.Reader, limit int64, fn func(e bundleEntry) error) error {
	tr := tar.NewReader(r)
	var total int64
	count := 0
	links := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: bundle: %v", ErrMalformed, err)
		}
		if count++; count > maxBundleEntries {
			return fmt.Errorf("%w: bundle has more than %d entries", ErrMalformed, maxBundleEntries)
		}
		name, err := checkEntry(hdr)
		if err != nil {
			return err
		}
		if name == "" {
			continue // the archive's own top directory, "./"
		}
		if throughLink(name, links) {
			return fmt.Errorf("%w: bundle entry %.120q: path goes through a symbolic link", ErrMalformed, hdr.Name)
		}
		if hdr.Typeflag == tar.TypeSymlink {
			links[name] = true
		}
		if total += hdr.Size; total > limit {
			return fmt.Errorf("%w: bundle files add up to more than %d bytes", ErrMalformed, limit)
		}
		if err := fn(bundleEntry{name: name, hdr: hdr, data: tr}); err != nil {
			return err
		}
	}
	if count == 0 {
		return fmt.Errorf("%w: empty bundle", ErrMalformed)
	}
	return nil
}

// checkEntry returns the cleaned local name of an acceptable entry ("" for
// the top directory itself) or an error wrapping ErrMalformed.
func checkEntry(h *tar.Header) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: bundle entry %.120q: %s", ErrMalformed, h.Name, why)
	}
	raw := h.Name
	if len(raw) > maxBundlePath || strings.ContainsRune(raw, 0) || strings.Contains(raw, `\`) {
		return "", bad("unsafe name")
	}
	if strings.HasPrefix(raw, "/") {
		return "", bad("absolute path")
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", bad("path leaves the bundle")
		}
	}
	name := path.Clean(raw)
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return "", bad("not a directory")
		}
		return "", nil
	}
	if name == metaDir || strings.HasPrefix(name, metaDir+"/") {
		return "", bad("reserved name")
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		if !safeLink(name, h.Linkname) {
			return "", bad("symbolic link leaves the bundle")
		}
	default:
		return "", bad(fmt.Sprintf("unsupported entry type %q", h.Typeflag))
	}
	if h.Size < 0 || (h.Typeflag != tar.TypeReg && h.Size != 0) {
		return "", bad("bad size")
	}
	return name, nil
}

// safeLink reports whether a symbolic link at name (whose parents are
// real directories) pointing to target resolves inside the bundle. The
// kernel applies ".." after following links, so ".." may only lead the
// target: then it climbs real directories, and the rest only descends.
func safeLink(name, target string) bool {
	if target == "" || len(target) > maxBundlePath || strings.HasPrefix(target, "/") ||
		strings.ContainsRune(target, 0) || strings.Contains(target, `\`) {
		return false
	}
	leading := true
	for _, part := range strings.Split(target, "/") {
		if part != ".." {
			leading = false
		} else if !leading {
			return false
		}
	}
	p := path.Join(path.Dir(name), target)
	return p != ".." && !strings.HasPrefix(p, "../")
}

// throughLink reports whether a parent of name is a symbolic link made by
// an earlier entry.
func throughLink(name string, links map[string]bool) bool {
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		if links[dir] {
			return true
		}
	}
	return false
}

// checkBundle validates a bundle without writing anything.
func checkBundle(r io.Reader) error {
	return walkBundle(r, math.MaxInt64, func(e bundleEntry) error {
		_, err := io.Copy(io.Discard, e.data)
		return err
	})
}

// extractBundle writes a bundle into dir, which must exist and be empty,
// through an os.Root so no entry can land outside it, and syncs every
// file and directory it made.
func extractBundle(r io.Reader, dir string, limit int64) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("firmware: extract: %w", err)
	}
	defer root.Close()
	err = walkBundle(r, limit, func(e bundleEntry) error {
		return extractEntry(root, e)
	})
	if err != nil {
		return err
	}
	return syncTree(root)
}

func extractEntry(root *os.Root, e bundleEntry) error {
	if parent := path.Dir(e.name); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("%w: bundle entry %q: %v", ErrMalformed, e.name, err)
		}
	}
	var err error
	switch e.hdr.Typeflag {
	case tar.TypeDir:
		err = root.Mkdir(e.name, 0o755)
		if errors.Is(err, fs.ErrExist) {
			if fi, serr := root.Lstat(e.name); serr == nil && fi.IsDir() {
				err = nil
			}
		}
	case tar.TypeSymlink:
		err = root.Symlink(e.hdr.Linkname, e.name)
	default:
		err = writeEntry(root, e)
	}
	if err != nil {
		return fmt.Errorf("%w: bundle entry %q: %v", ErrMalformed, e.name, err)
	}
	return nil
}

// writeEntry creates a regular file; a name that exists already (a
// duplicate entry) is refused.
func writeEntry(root *os.Root, e bundleEntry) error {
	perm := os.FileMode(0o644)
	if e.hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, e.data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncTree fsyncs every directory under root, so the new names are on
// disk before the slot is switched.
func syncTree(root *os.Root) error {
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}
