package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/kilnfw/kiln/mining"
	"github.com/kilnfw/kiln/stratumproxy"
)

// runDemoPool serves the embedded demo pool on its own: a local pool to
// point miners (or a second controller) at, for trials and browser tests.
func runDemoPool(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controller demo-pool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:3333", "address to serve Stratum on")
	diff := fs.Float64("difficulty", 0.001, "share difficulty")
	every := fs.Duration("job-interval", 30*time.Second, "how often a new job is sent")
	algo := mining.SHA256d
	fs.Func("algo", "proof-of-work algorithm: sha256d or scrypt (default sha256d)", func(s string) error {
		a, err := mining.ParseAlgorithm(s)
		algo = a
		return err
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("pkg", "demopool")
	srv, err := stratumproxy.NewServer(stratumproxy.ServerConfig{Algo: algo, Difficulty: *diff, JobInterval: *every, Log: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("demo-pool: %w", err)
	}
	fmt.Fprintf(stdout, "demo pool on stratum+tcp://%s (%s, difficulty %g)\n", ln.Addr(), algo, *diff)
	err = srv.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
