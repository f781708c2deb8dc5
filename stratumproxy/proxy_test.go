package stratumproxy

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// pxPool runs a demo pool whose stop ends it early (idempotent; also run
// at cleanup).
func pxPool(t *testing.T, cfg ServerConfig) (*Server, string, func()) {
	t.Helper()
	cfg.JobInterval, cfg.BlockInterval = -1, -1
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := srvServeLoopback(t, s.Serve)
	return s, addr, stop
}

// pxManager runs a Manager over urls feeding p, until the test ends.
func pxManager(t *testing.T, p *Proxy, m **Manager, urls ...string) {
	t.Helper()
	cfg := ManagerConfig{
		OnJob: p.SetUpstreamJob, OnIdle: p.UpstreamIdle,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
	}
	for _, u := range urls {
		cfg.Pools = append(cfg.Pools, PoolConfig{URL: "stratum+tcp://proxyacct:x@" + u})
	}
	mg, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	*m = mg
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mg.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("manager Run did not return")
		}
	})
}

// headerHash is the hash of a downstream share as the miner computed it.
func headerHash(n Notify, en1, en2 []byte, version, nonce uint32) [32]byte {
	j := mining.Job{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branches: n.Branches,
		NBits: n.NBits, Extranonce1: en1}
	h := j.Header(j.MerkleRoot(en2), version, n.NTime, nonce)
	return mining.Sha256d(h[:])
}

func TestProxyForwardsToUpstreamPool(t *testing.T) {
	srvLeakCheck(t)
	// An upstream extranonce2 of 8 leaves 4 bytes of padding.
	pool, paddr, _ := pxPool(t, ServerConfig{Difficulty: pxUpDiff, Extranonce2Size: 8})
	fwd := make(chan *mining.Share, 8)
	var m *Manager
	cfg := pxConfig()
	cfg.Forward = func(s *mining.Share) {
		fwd <- s
		m.Submit(s)
	}
	p, addr := pxStart(t, cfg)
	pxManager(t, p, &m, paddr)

	mc := srvDial(t, addr)
	d, n := mc.handshake("rig1")
	if d != pxDownDiff || len(mc.en1) != DefaultPrefixSize || mc.en2Size != DefaultProxyExtranonce2Size {
		t.Fatalf("difficulty %v en1 %x en2 size %d", d, mc.en1, mc.en2Size)
	}
	en2 := []byte{0x12, 0x34}
	nonce := pxMine(t, n, mc.en1, en2, n.Version, pxUpDiff, 0)
	srvWantAccept(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce))
	s := <-fwd
	want := headerHash(n, mc.en1, en2, n.Version, nonce)
	up := s.Job.Header(s.Job.MerkleRoot(s.Extranonce2), s.Version, s.NTime, s.Nonce)
	if got := mining.Sha256d(up[:]); got != want || s.Hash != want {
		t.Fatalf("upstream header hash %x, share hash %x, downstream %x", got, s.Hash, want)
	}
	if !bytes.Equal(s.Extranonce2, append(append(append([]byte{}, mc.en1...), en2...), 0, 0, 0, 0)) {
		t.Errorf("upstream extranonce2 %x", s.Extranonce2)
	}
	pxWait(t, "the pool to accept the share", func() bool { return pool.Stats().Accepted == 1 })

	// A share that meets only the miner's difficulty stays downstream.
	nonce = pxMine(t, n, mc.en1, en2, n.Version, pxDownDiff, pxUpDiff)
	srvWantAccept(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce))
	pxWait(t, "the proxy to count it", func() bool { return p.Stats().Accepted == 2 })
	if st := p.Stats(); st.Forwarded != 1 || len(fwd) != 0 {
		t.Errorf("forwarded %d, queued %d; want 1, 0", st.Forwarded, len(fwd))
	}
	if st := pool.Stats(); st.Accepted != 1 || len(st.Rejected) != 0 {
		t.Errorf("pool accepted %d rejected %v", st.Accepted, st.Rejected)
	}
	ws := p.Workers()
	if len(ws) != 1 || ws[0].Worker != "rig1" || ws[0].Accepted != 2 || ws[0].Connections != 1 ||
		ws[0].Difficulty != pxDownDiff || !(ws[0].HashrateHS > 0) {
		t.Errorf("workers %+v", ws)
	}
}

func TestProxyRejectCodes(t *testing.T) {
	srvLeakCheck(t)
	var mu sync.Mutex
	var outcomes []WorkerShare
	cfg := pxConfig()
	cfg.OnShare = func(w WorkerShare) {
		mu.Lock()
		defer mu.Unlock()
		outcomes = append(outcomes, w)
	}
	p, addr := pxStart(t, cfg)
	src := NewDemoSource()
	p.SetUpstreamJob(pxUpJob(t, src, true, 8))
	mc := srvDial(t, addr)
	_, n := mc.handshake("rig1")
	en2 := []byte{0, 1}

	nonce := pxMine(t, n, mc.en1, en2, n.Version, pxDownDiff, 0)
	srvWantAccept(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce))
	srvWantReject(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce), 22, "")
	low := pxMine(t, n, mc.en1, en2, n.Version, pxDownDiff/64, pxDownDiff)
	srvWantReject(t, mc.submit("rig1", n.JobID, en2, n.NTime, low), 23, "")
	srvWantReject(t, mc.submit("rig1", n.JobID, en2, n.NTime-1, nonce), 20, "ntime out of range")
	srvWantReject(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce, 0x00002000), 20, "invalid version mask")

	p.SetUpstreamJob(pxUpJob(t, src, true, 8))
	if n2 := mc.nextNotify(); !n2.Clean || n2.JobID == n.JobID {
		t.Fatalf("after an upstream clean job got %+v", n2)
	}
	srvWantReject(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce+1), 21, "")

	mu.Lock()
	defer mu.Unlock()
	if len(outcomes) != 6 || !outcomes[0].Accepted || outcomes[5].Accepted || !outcomes[5].Stale {
		t.Fatalf("outcomes %+v", outcomes)
	}
	ws := p.Workers()
	if len(ws) != 1 || ws[0].Rejected != 5 || ws[0].Stale != 1 {
		t.Errorf("workers %+v", ws)
	}
}

func TestProxyUpstreamFailover(t *testing.T) {
	srvLeakCheck(t)
	primary, aaddr, stopA := pxPool(t, ServerConfig{Difficulty: pxUpDiff})
	backup, baddr, _ := pxPool(t, ServerConfig{Difficulty: pxUpDiff, Extranonce2Size: 8})
	var m *Manager
	cfg := pxConfig()
	cfg.Forward = func(s *mining.Share) { m.Submit(s) }
	p, addr := pxStart(t, cfg)
	pxManager(t, p, &m, aaddr, baddr)
	pxWait(t, "the primary to be active", func() bool { i, _ := m.Active(); return i == 0 })

	mc := srvDial(t, addr)
	_, n := mc.handshake("rig1")
	en1 := append([]byte{}, mc.en1...)
	en2 := []byte{7, 7}
	nonce := pxMine(t, n, mc.en1, en2, n.Version, pxUpDiff, 0)
	srvWantAccept(t, mc.submit("rig1", n.JobID, en2, n.NTime, nonce))
	pxWait(t, "the primary to accept", func() bool { return primary.Stats().Accepted == 1 })

	stopA()
	var n2 Notify
	for range 10 { // the primary's own last job may still be in flight
		if n2 = mc.nextNotify(); n2.Clean && n2.JobID != n.JobID {
			break
		}
	}
	if !n2.Clean {
		t.Fatal("no clean job after the failover")
	}
	pxWait(t, "the backup to be active", func() bool { i, _ := m.Active(); return i == 1 })
	nonce = pxMine(t, n2, en1, en2, n2.Version, pxUpDiff, 0)
	srvWantAccept(t, mc.submit("rig1", n2.JobID, en2, n2.NTime, nonce))
	pxWait(t, "the backup to accept", func() bool { return backup.Stats().Accepted == 1 })
	if st := backup.Stats(); len(st.Rejected) != 0 {
		t.Errorf("backup rejected %v", st.Rejected)
	}
	if !bytes.Equal(mc.en1, en1) || mc.en2Size != DefaultProxyExtranonce2Size {
		t.Errorf("extranonce changed: %x/%d", mc.en1, mc.en2Size)
	}
}

func TestProxyLocalJob(t *testing.T) {
	p, err := NewProxy(pxConfig())
	if err != nil {
		t.Fatal(err)
	}
	up := pxUpJob(t, NewDemoSource(), true, 8)
	local := p.LocalJob(up)
	if local.Extranonce2Size != 6 || !bytes.Equal(local.Extranonce1, []byte{0xf0, 0x0d, 0xca, 0xfe, 0, 0}) {
		t.Fatalf("local job en1 %x en2 size %d", local.Extranonce1, local.Extranonce2Size)
	}
	en2 := []byte{1, 2, 3, 4, 5, 6}
	version := up.Version | 0x4000
	h := local.Header(local.MerkleRoot(en2), version, up.NTime, 99)
	ls := &mining.Share{Job: local, Extranonce2: en2, NTime: up.NTime, Nonce: 99, Version: version,
		Hash: mining.Sha256d(h[:])}
	us := p.UpstreamShare(ls)
	if us == nil || us.Job != up || len(us.Extranonce2) != 8 || us.VersionBits != version&up.VersionMask {
		t.Fatalf("upstream share %+v", us)
	}
	uh := up.Header(up.MerkleRoot(us.Extranonce2), us.Version, us.NTime, us.Nonce)
	if mining.Sha256d(uh[:]) != ls.Hash {
		t.Error("upstream header hash differs from the local one")
	}
	if p.UpstreamShare(&mining.Share{Job: up}) != nil {
		t.Error("a share of a job LocalJob did not make was mapped")
	}
}

func TestProxyUpstreamTooSmall(t *testing.T) {
	srvLeakCheck(t)
	log := &cliLog{}
	cfg := pxConfig()
	cfg.Log = log.logger()
	p, addr := pxStart(t, cfg)
	src := NewDemoSource()
	p.SetUpstreamJob(pxUpJob(t, src, true, 8))
	mc := srvDial(t, addr)
	mc.handshake("rig1")
	p.SetUpstreamJob(pxUpJob(t, src, true, 3)) // 3 < prefix 2 + en2 2
	mc.expectClosed()
	if !pxLogHas(log, "upstream extranonce2 too small") {
		t.Errorf("log: %s", log)
	}
}
