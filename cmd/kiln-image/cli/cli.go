// Package cli is the kiln-image command as a library: Main runs one
// subcommand with the given arguments and streams, so tests run the whole
// command in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Env is what a run of the command sees of the outside world.
type Env struct {
	// Stdout and Stderr receive the output and the diagnostics.
	Stdout, Stderr io.Writer
	// Getenv reads environment variables (KILN_SIGN_PASSWORD,
	// SOURCE_DATE_EPOCH); nil reads none.
	Getenv func(string) string
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// errUsage marks a bad command line; Main exits 2 on it.
var errUsage = errors.New("usage")

// PasswordEnv names the environment variable holding the secret key's
// password; unset or empty means a password-less key.
const PasswordEnv = "KILN_SIGN_PASSWORD"

type command struct {
	name, args, help string
	run              func(ctx context.Context, args []string, env Env) error
}

var commands = []command{
	{"keygen", "-p kiln.pub -s kiln.key [-f] [--kdf sensitive|interactive]",
		"make a minisign key pair (password from " + PasswordEnv + ", none if unset)", runKeygen},
	{"build", "--payload FILE --kind bundle|rootfs --version V --board B[,B] --key kiln.key -o out.kimg",
		"build and sign an image", runBuild},
	{"verify", "--pub kiln.pub [--board B --arch A --running V] IMAGE",
		"check an image's signature, board, version and payload", runVerify},
	{"inspect", "[--extract DIR] IMAGE", "show an image's manifest and signature; unpack its sections", runInspect},
	{"install", "--slots DIR --pub kiln.pub --board B [--running V] [--allow-downgrade] IMAGE",
		"install an image into the inactive directory slot", runInstall},
	{"boot", "--slots DIR", "count a trial boot or roll back; print the slot directory to run", runBoot},
	{"confirm", "--slots DIR", "confirm the running trial slot", runConfirm},
	{"status", "--slots DIR", "show the slot state and versions", runStatus},
}

// Main runs kiln-image with args (without the program name) and returns
// the exit status: 0 on success, 1 on failure, 2 on a bad command line.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], env)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 2
		case errors.Is(err, errUsage):
			fmt.Fprintf(env.Stderr, "kiln-image %s: %v\nusage: kiln-image %s %s\n", c.name, err, c.name, c.args)
			return 2
		}
		fmt.Fprintf(env.Stderr, "kiln-image %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(env.Stderr, "kiln-image: unknown command %q\n", args[0])
	usage(env.Stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: kiln-image COMMAND [flags]")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.help)
	}
}

// newFlags returns a flag set that reports to stderr and does not exit.
func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("kiln-image "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses args (flags may follow positional arguments) and checks
// that exactly npos positional arguments remain.
func parse(fs *flag.FlagSet, args []string, npos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != npos {
		return nil, fmt.Errorf("%w: want %d argument(s), got %d", errUsage, npos, len(pos))
	}
	return pos, nil
}

// listFlag collects repeated or comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// writeFileAtomic writes a file through a temporary name in the same
// directory, so a failed run never leaves a partial file under the real
// name; exclusive refuses to replace an existing file.
func writeFileAtomic(path string, perm os.FileMode, exclusive bool, fill func(io.Writer) error) error {
	if exclusive {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists (use -f to replace it)", path)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	err = f.Chmod(perm)
	if err == nil {
		err = fill(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
