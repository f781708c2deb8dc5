package app

import (
	"testing"
	"time"
)

type proxyWorker struct {
	Worker      string  `json:"worker"`
	Connections int     `json:"connections"`
	Accepted    uint64  `json:"accepted"`
	Rejected    uint64  `json:"rejected"`
	Difficulty  float64 `json:"difficulty"`
}

// TestProxyServesAFarm: `controller proxy` in front of a pool, and a second
// controller mining through it as a farm's miner would. Shares that meet the
// pool's difficulty reach the pool unchanged and are accepted; the miner
// shows up in /api/v1/proxy/workers.
func TestProxyServesAFarm(t *testing.T) {
	pool := startTestPool(t, "")
	addr := make(chan string, 1)
	stratumListening = func(a string) { addr <- a }
	t.Cleanup(func() { stratumListening = nil })
	proxy := startController(t, "proxy", "--listen", "127.0.0.1:0", "--pool", pool.url(),
		"--downstream-difficulty", "0.0001", "--min-difficulty", "0.0001")
	proxyAddr := <-addr

	miner := startController(t, "--board", "cpu", "--threads", "1", "--pool", "stratum+tcp://farm.rig7:x@"+proxyAddr)
	waitFor(t, 60*time.Second, "the pool to accept 2 forwarded shares", func() bool { return pool.srv.Stats().Accepted >= 2 })
	if st := pool.srv.Stats(); len(st.Rejected) != 0 {
		t.Errorf("pool rejected forwarded shares: %v", st.Rejected)
	}
	if s := miner.summary(t); s.Rejected != 0 || s.Accepted < 2 {
		t.Errorf("miner summary = %+v, want its shares accepted by the proxy", s)
	}
	var workers []proxyWorker
	waitFor(t, 10*time.Second, "the worker in the API", func() bool {
		proxy.get(t, "/api/v1/proxy/workers", &workers)
		return len(workers) == 1 && workers[0].Accepted >= 2
	})
	w := workers[0]
	if w.Worker != "farm.rig7" || w.Connections != 1 || w.Rejected != 0 || w.Difficulty <= 0 {
		t.Errorf("worker = %+v", w)
	}
	if s := proxy.summary(t); s.ActivePool != "stratum+tcp://"+pool.addr || s.Accepted < 2 {
		t.Errorf("proxy summary = %+v, want its upstream pool active with accepted shares", s)
	}
}

// TestStratumListenBesideBoards: a controller mines itself and serves a
// downstream miner at once; its own shares (on the proxy's reserved
// extranonce prefix) and the miner's both reach the pool, none rejected.
func TestStratumListenBesideBoards(t *testing.T) {
	pool := startTestPool(t, "")
	addr := make(chan string, 1)
	stratumListening = func(a string) { addr <- a }
	t.Cleanup(func() { stratumListening = nil })
	host := startController(t, "--board", "cpu", "--threads", "1", "--pool", pool.url(),
		"--stratum-listen", "127.0.0.1:0", "--downstream-difficulty", "0.001", "--min-difficulty", "0.001")
	proxyAddr := <-addr
	miner := startController(t, "--board", "cpu", "--threads", "1", "--pool", "stratum+tcp://farm.rig8:x@"+proxyAddr)

	waitFor(t, 60*time.Second, "shares from both the host's CPU and the miner", func() bool {
		return host.summary(t).Accepted >= 2 && miner.summary(t).Accepted >= 2
	})
	var workers []proxyWorker
	host.get(t, "/api/v1/proxy/workers", &workers)
	if len(workers) != 1 || workers[0].Worker != "farm.rig8" || workers[0].Accepted < 2 {
		t.Errorf("workers = %+v", workers)
	}
	if st := pool.srv.Stats(); len(st.Rejected) != 0 || st.Accepted < 2 {
		t.Errorf("pool stats = %+v, want accepted shares and no rejects", st)
	}
	if s := host.summary(t); s.Rejected != 0 || s.HWErrors != 0 || s.Hashrate <= 0 {
		t.Errorf("host summary = %+v, want its own hashing and no rejects", s)
	}
}
