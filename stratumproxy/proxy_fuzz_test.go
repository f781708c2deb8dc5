package stratumproxy

import (
	"bytes"
	"testing"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// FuzzProxyLine feeds lines to one proxy connection after a golden
// handshake and checks that nothing panics, the connection's state stays
// sane and every forwarded share hashes to the same header upstream.
func FuzzProxyLine(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"method":"mining.subscribe","params":["cgminer/4.11"]}`,
		`{"id":2,"method":"mining.authorize","params":["alice","s3cret"]}`,
		`{"id":3,"method":"mining.authorize","params":["alice","wrong"]}`,
		`{"id":4,"method":"mining.submit","params":["alice","1","0000","66255d00","00000000"]}`,
		`{"id":5,"method":"mining.submit","params":["alice","1","00","66255d00","00000000","00002000"]}`,
		`{"id":6,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff"}]}`,
		`{"id":7,"method":"mining.suggest_difficulty","params":[0.5]}`,
		`{"id":8,"method":"mining.submit","params":["mallory","ff","0001","ffffffff","12345678"]}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	up := pxUpJob(f, NewDemoSource(), true, 8)
	f.Fuzz(func(t *testing.T, line []byte) {
		var bad bool
		p, err := NewProxy(ProxyConfig{
			Workers: map[string]string{"alice": "s3cret"}, StartDifficulty: math2m24,
			MinDifficulty: math2m24, SubmitRate: -1,
			Now: func() time.Time { return time.Unix(int64(up.NTime), 0) },
			Forward: func(s *mining.Share) {
				h := s.Job.Header(s.Job.MerkleRoot(s.Extranonce2), s.Version, s.NTime, s.Nonce)
				bad = bad || mining.Sha256d(h[:]) != s.Hash || len(s.Extranonce2) != 8
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		p.SetUpstreamJob(up)
		c := newSrvConn(p.srv, nil, 1, 1<<12)
		c.handleLine([]byte(`{"id":1,"method":"mining.subscribe","params":["f"]}`))
		c.handleLine([]byte(`{"id":2,"method":"mining.authorize","params":["alice","s3cret"]}`))
		for _, l := range bytes.Split(line, []byte("\n")) {
			c.handleLine(l)
		}
		if bad {
			t.Fatal("a forwarded share hashes differently upstream")
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.mask&^DefaultServerVersionMask != 0 || len(c.en1) != DefaultPrefixSize ||
			bytes.Equal(c.en1, []byte{0, 0}) || len(c.workers) > 1 {
			t.Fatalf("state: mask %08x en1 %x workers %v", c.mask, c.en1, c.workers)
		}
	})
}

// math2m24 is 2^-24, the fuzz miner's difficulty.
const math2m24 = 1.0 / (1 << 24)
