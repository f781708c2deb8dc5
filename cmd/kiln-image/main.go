// Command kiln-image makes and checks Kiln firmware images: it generates
// minisign-compatible signing keys, builds and signs images, verifies and
// inspects them, and drives directory-based A/B slots. Run it without
// arguments for the list of subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kilnfw/kiln/cmd/kiln-image/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
