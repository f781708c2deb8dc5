package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
)

// applyPoolFlags saves the pools given with --pool, which replace the saved
// list; without --pool the saved list stays as it is.
func applyPoolFlags(ctx context.Context, st *store.Store, o *options, board boardPlan) error {
	if len(o.pools) == 0 {
		return nil
	}
	if err := checkAlgorithm(board, o.algo); err != nil {
		return fmt.Errorf("--algo: %w", err)
	}
	saved := make([]store.Pool, len(o.pools))
	for i, raw := range o.pools {
		p, err := splitPoolURL(raw)
		if err != nil {
			return err
		}
		saved[i] = store.Pool{Priority: i, URL: p.URL, User: p.User, Password: p.Password, Enabled: true,
			Algo: string(o.algo)}
	}
	return st.ReplacePools(ctx, saved)
}

// demoStarter returns a function that starts the embedded demo pool on a
// loopback port the first time it is called (when no pool is enabled) and
// returns its entry every time.
func demoStarter(ctx context.Context, o *options, board boardPlan, g *errgroup.Group, log *slog.Logger) func() (stratumproxy.PoolConfig, error) {
	var mu sync.Mutex
	var demo *stratumproxy.PoolConfig
	return func() (stratumproxy.PoolConfig, error) {
		mu.Lock()
		defer mu.Unlock()
		if demo != nil {
			return *demo, nil
		}
		p, err := startDemoPool(ctx, o, board, g, log)
		if err != nil {
			return p, err
		}
		demo = &p
		return p, nil
	}
}

// splitPoolURL separates the USER:PASS@ part of a pool URL, which travels in
// mining.authorize rather than in the connection.
func splitPoolURL(raw string) (stratumproxy.PoolConfig, error) {
	u, err := stratumproxy.ParsePoolURL(raw)
	if err != nil {
		return stratumproxy.PoolConfig{}, fmt.Errorf("--pool: %w", err)
	}
	p := stratumproxy.PoolConfig{User: u.User, Password: u.Password}
	u.User, u.Password = "", ""
	p.URL = u.String()
	return p, nil
}

// startDemoPool serves the embedded demo pool on a loopback port and returns
// its pool entry.
func startDemoPool(ctx context.Context, o *options, board boardPlan, g *errgroup.Group, log *slog.Logger) (stratumproxy.PoolConfig, error) {
	algo := o.demoAlgo.Canonical()
	if err := checkAlgorithm(board, algo); err != nil {
		return stratumproxy.PoolConfig{}, fmt.Errorf("demo pool: %w", err)
	}
	diff := o.demoDifficulty
	if diff <= 0 {
		diff = demoDifficultyFor(algo, algoHashrate(board, algo))
	}
	srv, err := stratumproxy.NewServer(stratumproxy.ServerConfig{
		Algo:        algo,
		Difficulty:  diff,
		JobInterval: o.demoJobEvery,
		ProtocolLog: o.protocolLog,
		Log:         log,
	})
	if err != nil {
		return stratumproxy.PoolConfig{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return stratumproxy.PoolConfig{}, fmt.Errorf("demo pool: %w", err)
	}
	g.Go(func() error { return srv.Serve(ctx, ln) })
	url := "stratum+tcp://" + ln.Addr().String()
	log.Info("no pool configured: mining to the embedded demo pool", "url", url, "algo", algo, "difficulty", diff)
	return stratumproxy.PoolConfig{URL: url, User: "kiln-demo", Password: "x", Algo: algo}, nil
}
