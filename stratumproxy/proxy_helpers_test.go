package stratumproxy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// Test difficulties: the upstream wants about 65,000 hashes a share, the
// downstream miner about 256, so a test finds either in milliseconds.
var (
	pxUpDiff   = math.Exp2(-16)
	pxDownDiff = math.Exp2(-24)
)

// pxConfig is a passthrough proxy config at the test difficulties with
// vardiff out of the way.
func pxConfig() ProxyConfig {
	return ProxyConfig{
		Passthrough: true, StartDifficulty: pxDownDiff, MinDifficulty: pxDownDiff,
		RetargetInterval: time.Hour, RetargetShares: 1 << 30,
	}
}

// pxStart serves a proxy on a loopback port until the test ends.
func pxStart(t *testing.T, cfg ProxyConfig) (*Proxy, string) {
	t.Helper()
	return pxStartB(t, cfg)
}

// pxStartB is pxStart for tests and benchmarks.
func pxStartB(t testing.TB, cfg ProxyConfig) (*Proxy, string) {
	t.Helper()
	p, err := NewProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := srvServeLoopback(t, p.Serve)
	return p, addr
}

// pxUpJob is a synthetic upstream job: a demo template with a 4-byte
// extranonce1 and en2Size bytes of extranonce2 at pxUpDiff.
func pxUpJob(t testing.TB, src *DemoSource, newBlock bool, en2Size int) *mining.Job {
	t.Helper()
	n, err := src.Job(JobRequest{Now: time.Now(), NewBlock: newBlock, ExtranonceSize: 4 + en2Size})
	if err != nil {
		t.Fatal(err)
	}
	return &mining.Job{
		ID: n.JobID, PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2,
		Branches: n.Branches, Version: n.Version, NBits: n.NBits, NTime: n.NTime,
		Clean: n.Clean, Extranonce1: []byte{0xf0, 0x0d, 0xca, 0xfe}, Extranonce2Size: en2Size,
		VersionMask: DefaultServerVersionMask, Difficulty: pxUpDiff,
		ShareTarget: mining.MustTarget(pxUpDiff), Pool: 0, Session: 1,
	}
}

// pxMine finds a nonce whose hash meets diff meets and, when miss > 0,
// misses difficulty miss.
func pxMine(t *testing.T, n Notify, en1, en2 []byte, version uint32, meets, miss float64) uint32 {
	t.Helper()
	j := mining.Job{PrevHash: n.PrevHash, Coinb1: n.Coinb1, Coinb2: n.Coinb2, Branches: n.Branches,
		NBits: n.NBits, Extranonce1: en1}
	root := j.MerkleRoot(en2)
	lo, hi := mining.MustTarget(meets), mining.Target{}
	if miss > 0 {
		hi = mining.MustTarget(miss)
	}
	for nonce := range uint32(1 << 24) {
		h := j.Header(root, version, n.NTime, nonce)
		hash := mining.Sha256d(h[:])
		if lo.Meets(&hash) && (miss == 0 || !hi.Meets(&hash)) {
			return nonce
		}
	}
	t.Fatalf("no nonce found at difficulty %v", meets)
	return 0
}

// pxWait polls a network-driven condition, bounded.
func pxWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// pxLogHas reports whether the captured log contains every part.
func pxLogHas(l *cliLog, parts ...string) bool {
	s := l.String()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
