package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	firmware "github.com/kilnfw/kiln/firmware-images"
)

func slotsFlag(name string, env Env) (*flag.FlagSet, *string) {
	fs := newFlags(name, env)
	return fs, fs.String("slots", "", "root `directory` of the A/B slots")
}

func openSlots(dir string) (*firmware.DirSlots, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: --slots is required", errUsage)
	}
	return firmware.OpenDirSlots(dir)
}

func runInstall(ctx context.Context, args []string, env Env) error {
	fs, dir := slotsFlag("install", env)
	var pubs listFlag
	fs.Var(&pubs, "pub", "trusted minisign public key `file` (repeat for several)")
	board := fs.String("board", "", "this device's board name")
	arch := fs.String("arch", runtime.GOARCH, "this device's architecture")
	running := fs.String("running", "", "running firmware version (the downgrade floor)")
	downgrade := fs.Bool("allow-downgrade", false, "install an image older than --running")
	tries := fs.Int("tries", 1, "trial boots before falling back")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	keys, err := loadPublicKeys(pubs)
	if err != nil {
		return err
	}
	slots, err := openSlots(*dir)
	if err != nil {
		return err
	}
	u, err := firmware.NewUpdater(firmware.Config{Slots: slots, Keys: keys, Board: *board, Arch: *arch,
		Version: *running, Tries: *tries})
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := u.Install(ctx, f, firmware.Options{AllowDowngrade: *downgrade})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "installed kiln %s into slot %s (%s); reboot to try it\n",
		res.Manifest.Version, res.Slot, slots.Dir(res.Slot))
	return nil
}

func runBoot(_ context.Context, args []string, env Env) error {
	fs, dir := slotsFlag("boot", env)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	slots, err := openSlots(*dir)
	if err != nil {
		return err
	}
	st, err := slots.Boot()
	if err != nil {
		return err
	}
	if st.RolledBack != "" && !st.Trial {
		fmt.Fprintf(env.Stderr, "kiln-image boot: slot %s was never confirmed; back on slot %s\n", st.RolledBack, st.Booted)
	}
	fmt.Fprintln(env.Stdout, slots.Dir(st.Booted))
	return nil
}

func runConfirm(_ context.Context, args []string, env Env) error {
	fs, dir := slotsFlag("confirm", env)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	slots, err := openSlots(*dir)
	if err != nil {
		return err
	}
	st, err := slots.State()
	if err != nil {
		return err
	}
	if err := slots.Confirm(st.Booted); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "slot %s confirmed\n", st.Booted)
	return nil
}

func runStatus(_ context.Context, args []string, env Env) error {
	fs, dir := slotsFlag("status", env)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	slots, err := openSlots(*dir)
	if err != nil {
		return err
	}
	st, err := slots.State()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "active %s, booted %s, trial %v, pending %q (tries %d), previous %q, rolled back %q\n",
		st.Active, st.Booted, st.Trial, st.Pending, st.Tries, st.Previous, st.RolledBack)
	for _, s := range []firmware.Slot{firmware.SlotA, firmware.SlotB} {
		m, ok, err := slots.Manifest(s)
		switch {
		case err != nil:
			fmt.Fprintf(env.Stdout, "slot %s: %v\n", s, err)
		case !ok:
			fmt.Fprintf(env.Stdout, "slot %s: empty\n", s)
		default:
			fmt.Fprintf(env.Stdout, "slot %s: kiln %s (%s, built %s)\n", s, m.Version, m.Payload.Kind, m.Created.Format("2006-01-02 15:04:05Z"))
		}
	}
	return nil
}
