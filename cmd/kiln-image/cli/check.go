package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	firmware "github.com/kilnfw/kiln/firmware-images"
)

func runVerify(ctx context.Context, args []string, env Env) error {
	fs := newFlags("verify", env)
	var pubs listFlag
	fs.Var(&pubs, "pub", "trusted minisign public key `file` (repeat for several)")
	board := fs.String("board", "", "require the image to support this board")
	arch := fs.String("arch", runtime.GOARCH, "architecture for any-ARCH board entries")
	running := fs.String("running", "", "refuse images older than this version")
	maxPayload := fs.Int64("max-payload", firmware.DefaultMaxPayload, "largest payload accepted, in bytes")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	keys, err := loadPublicKeys(pubs)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := firmware.ReadImage(f, *maxPayload)
	if err != nil {
		return err
	}
	if err := img.Verify(firmware.Policy{Keys: keys, Board: *board, Arch: *arch, Running: *running}); err != nil {
		return err
	}
	payload, err := img.Payload(ctx)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, payload); err != nil {
		return err
	}
	m := img.Manifest
	info, _ := img.SignatureInfo()
	fmt.Fprintf(env.Stdout, "%s: OK: kiln %s for %v, %s payload of %d bytes, signed by key %s\n",
		pos[0], m.Version, m.Boards, m.Payload.Kind, m.Payload.Size, info.KeyID)
	return nil
}

func runInspect(ctx context.Context, args []string, env Env) error {
	fs := newFlags("inspect", env)
	extract := fs.String("extract", "", "write manifest.json, manifest.json.minisig and payload into this `directory`")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := firmware.ReadImage(f, 1<<62)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s", img.ManifestJSON)
	if info, err := img.SignatureInfo(); err != nil {
		fmt.Fprintf(env.Stdout, "signature: %v\n", err)
	} else {
		fmt.Fprintf(env.Stdout, "signature: key %s, trusted comment %q (not verified; use verify)\n", info.KeyID, info.TrustedComment)
	}
	payload, err := img.UntrustedPayload(ctx)
	if err != nil {
		return err
	}
	if *extract == "" {
		_, err = io.Copy(io.Discard, payload)
	} else {
		err = extractSections(*extract, img, payload)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "payload: size and sha256 match the manifest")
	return nil
}

func extractSections(dir string, img *firmware.Image, payload io.Reader) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{{"manifest.json", img.ManifestJSON}, {"manifest.json.minisig", img.Signature}}
	for _, f := range files {
		if f.name == "manifest.json.minisig" && len(f.data) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, "payload"), 0o644, false, func(w io.Writer) error {
		_, err := io.Copy(w, payload)
		return err
	})
}
