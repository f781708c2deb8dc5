// Command stratum-load opens many Stratum V1 connections to a pool server
// (Kiln's proxy or demo pool), submits real shares and reports connection,
// share, job fan-out and memory figures. Run with -h for the flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kilnfw/kiln/cmd/stratum-load/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := load.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
