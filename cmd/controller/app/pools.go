package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"golang.org/x/sync/errgroup"

	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/stratumproxy"
)

// poolList returns the pools to mine on, in priority order: those given with
// --pool (which replace the saved list), else the saved list, else the
// embedded demo pool, started here on loopback.
func poolList(ctx context.Context, st *store.Store, o *options, board boardPlan, g *errgroup.Group, log *slog.Logger) ([]stratumproxy.PoolConfig, error) {
	if len(o.pools) > 0 {
		saved := make([]store.Pool, len(o.pools))
		for i, raw := range o.pools {
			p, err := splitPoolURL(raw)
			if err != nil {
				return nil, err
			}
			saved[i] = store.Pool{Priority: i, URL: p.URL, User: p.User, Password: p.Password, Enabled: true}
		}
		if err := st.ReplacePools(ctx, saved); err != nil {
			return nil, err
		}
	}
	saved, err := st.Pools(ctx)
	if err != nil {
		return nil, err
	}
	var pools []stratumproxy.PoolConfig
	for _, p := range saved {
		if p.Enabled {
			pools = append(pools, stratumproxy.PoolConfig{URL: p.URL, User: p.User, Password: p.Password})
		}
	}
	if len(pools) > 0 {
		return pools, nil
	}
	demo, err := startDemoPool(ctx, o, board, g, log.With("pkg", "demopool"))
	if err != nil {
		return nil, err
	}
	return []stratumproxy.PoolConfig{demo}, nil
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
	diff := o.demoDifficulty
	if diff <= 0 {
		diff = demoDifficultyFor(board.expectedHashrate())
	}
	srv, err := stratumproxy.NewServer(stratumproxy.ServerConfig{
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
	log.Info("no pool configured: mining to the embedded demo pool", "url", url, "difficulty", diff)
	return stratumproxy.PoolConfig{URL: url, User: "kiln-demo", Password: "x"}, nil
}
