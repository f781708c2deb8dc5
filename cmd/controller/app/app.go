// Package app is the controller program as a library: Run parses the
// command line and wires the mining core, the pools, the store and the web
// server together. Tests run the whole controller in-process through it.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
	"github.com/kilnfw/kiln/webui/cgminer"
	"github.com/kilnfw/kiln/webui/metrics"
)

// Run runs the controller with the given arguments (without the program
// name) until ctx ends. Subcommands: bench, proxy, demo-pool.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	proxyOnly := false
	if len(args) > 0 {
		switch args[0] {
		case "bench":
			return runBench(ctx, args[1:], stdout, stderr)
		case "demo-pool":
			return runDemoPool(ctx, args[1:], stdout, stderr)
		case "proxy":
			proxyOnly, args = true, args[1:]
		}
	}
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if proxyOnly {
		if o.stratumListen == "" {
			return errors.New("proxy: --listen ADDR is required")
		}
		o.board = "proxy"
	}
	if o.version {
		fmt.Fprintf(stdout, "kiln controller %s (%s, %s/%s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	level, _ := parseLevel(o.logLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return serve(ctx, o, log)
}

// serve runs the controller proper.
func serve(ctx context.Context, o *options, log *slog.Logger) error {
	var board boardPlan = proxyPlan{}
	if o.board != "proxy" {
		b, err := resolveBoard(o, log)
		if err != nil {
			return err
		}
		board = b
	}
	stratum, err := listenStratum(o.stratumListen)
	if err != nil {
		return err
	}
	if stratum != nil {
		defer stratum.Close()
		if stratumListening != nil {
			stratumListening(stratum.Addr().String())
		}
	}
	st, err := store.Open(ctx, o.data, log.With("pkg", "store"))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := adminPassword(ctx, st, os.Getenv("KILN_ADMIN_PASSWORD"), log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return fmt.Errorf("http: listen %s: %w", o.http, err)
	}
	defer ln.Close()
	var cg net.Listener
	if o.cgminerAPI != "" {
		if cg, err = net.Listen("tcp", o.cgminerAPI); err != nil {
			return fmt.Errorf("cgminer API: listen %s: %w", o.cgminerAPI, err)
		}
		defer cg.Close()
		if cgminerListening != nil {
			cgminerListening(cg.Addr().String())
		}
	}
	if listening != nil {
		listening(ln.Addr().String())
	}

	g, ctx := errgroup.WithContext(ctx)
	if err := applyPoolFlags(ctx, st, o, board); err != nil {
		return err
	}
	demo := demoStarter(ctx, o, board, g, log.With("pkg", "demopool"))
	c, err := newCore(ctx, coreConfig{board: board, store: st, opts: o, log: log, stratum: stratum, demo: demo})
	if err != nil {
		return err
	}
	if coreStarted != nil {
		coreStarted(c)
	}
	web := webui.New(webui.Config{
		Status: c, Control: c, Store: st, Version: Version, Log: log.With("pkg", "webui"),
		Metrics:       metrics.New(metrics.Config{Source: c, Version: Version, Log: log.With("pkg", "metrics")}),
		PublicMetrics: o.metricsPublic,
	})
	if cg != nil {
		api, err := cgminer.New(cgminer.Config{Backend: c, Allow: o.cgminerAllow, Version: Version, Log: log.With("pkg", "cgminer")})
		if err != nil {
			return err
		}
		log.Info("cgminer API listening", "addr", cg.Addr().String())
		g.Go(func() error { return api.Serve(ctx, cg) })
	}
	log.Info("web UI listening", "url", "http://"+ln.Addr().String()+"/")
	g.Go(func() error { return web.Serve(ctx, ln) })
	g.Go(func() error { return c.run(ctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("controller stopped")
	return err
}

// listening and stratumListening, when set (by tests), learn the web
// server's and the proxy's addresses.
var listening, stratumListening, cgminerListening func(addr string)

// coreStarted, when set (by tests), gets the mining core once it is built,
// for ground truth the APIs do not expose (the simulated chips' limits).
var coreStarted func(*core)
