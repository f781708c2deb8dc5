package stratumproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// srvFuzzSeeds are golden lines for the server fuzzers.
var srvFuzzSeeds = []string{
	srvConfigureC, srvSubscribe, srvAuthorize, srvSuggest, srvExtranonce,
	srvSubmitA, srvSubmitB, srvSubmitC, srvNotifyB,
	`{"id":1,"method":"mining.configure","params":[["version-rolling","minimum-difficulty","x"],{"version-rolling.mask":"ffffffff","minimum-difficulty.value":1e-6}]}`,
	`{"id":2,"method":"mining.subscribe","params":["kiln/0.1","00000001"]}`,
	`{"id":3,"method":"mining.authorize","params":["worker.1"]}`,
	`{"id":4,"method":"mining.suggest_difficulty","params":[0.0001]}`,
	`{"id":5,"method":"mining.ping","params":[]}`,
	`{"id":6,"method":"mining.submit","params":["worker.1","1","00000000","ffffffff","00000000","ffffffff"]}`,
	`{"id":"s","method":"mining.unknown","params":null}`,
	`{"id":7,"result":true,"error":null}`,
	"not json",
	`{"id":1,"method":"mining.subscribe","params":{}}`,
}

// srvFuzzServer is a server that is never served: lines go straight to a
// connection's handler.
func srvFuzzServer(t testing.TB) *Server {
	s, err := NewServer(ServerConfig{
		Difficulty: srvTestDiff, MinDifficulty: 1e-9, JobInterval: -1, BlockInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// srvCheckConn checks the invariants of a connection's state.
func srvCheckConn(c *srvConn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg := c.s.cfg
	switch {
	case c.subscribed && (len(c.en1) != cfg.Extranonce1Size || c.sid != hexString(c.en1)):
		return fmt.Errorf("subscribed with extranonce1 %x, session %q", c.en1, c.sid)
	case !c.subscribed && (c.en1 != nil || c.sid != ""):
		return fmt.Errorf("extranonce1 %x without subscribe", c.en1)
	case c.active && (!c.subscribed || len(c.workers) == 0):
		return fmt.Errorf("active without subscribe and authorize")
	case len(c.workers) > srvMaxWorkers:
		return fmt.Errorf("%d workers", len(c.workers))
	case !(c.diff > 0) || math.IsInf(c.diff, 0):
		return fmt.Errorf("difficulty %v", c.diff)
	case c.diff < cfg.Difficulty && c.diff < cfg.MinDifficulty:
		return fmt.Errorf("difficulty %v below the floor", c.diff)
	case c.mask&^cfg.VersionMask != 0:
		return fmt.Errorf("mask %08x beyond %08x", c.mask, cfg.VersionMask)
	case len(c.jobDiff) > 2*srvJobWindow+1:
		return fmt.Errorf("%d job difficulties kept", len(c.jobDiff))
	}
	return nil
}

// srvDrain empties a connection's queue, checking every line is one JSON
// object ending in a newline.
func srvDrain(c *srvConn) error {
	for {
		select {
		case line := <-c.out:
			if len(line) == 0 || line[len(line)-1] != '\n' || !json.Valid(line) {
				return fmt.Errorf("bad line queued: %q", line)
			}
		default:
			return nil
		}
	}
}

func FuzzServerLine(f *testing.F) {
	for _, l := range srvFuzzSeeds {
		f.Add([]byte(l), false)
		f.Add([]byte(l), true)
	}
	f.Add([]byte(srvSubscribe+"\n"+srvAuthorize+"\n"+srvSubmitB), false)
	s := srvFuzzServer(f)
	handshake := []string{srvConfigureC, srvSubscribe, srvAuthorize}
	f.Fuzz(func(t *testing.T, input []byte, shaken bool) {
		c := newSrvConn(s, nil, 1, 1<<12)
		defer s.unregister(c)
		if shaken {
			for _, l := range handshake {
				if !c.handleLine([]byte(l)) {
					t.Fatalf("handshake line refused: %s", l)
				}
			}
		}
		for _, line := range bytes.Split(input, []byte("\n")) {
			if len(line) > MaxLineServer {
				break // the reader disconnects before handling it
			}
			keep := c.handleLine(line)
			if err := srvDrain(c); err != nil {
				t.Fatal(err)
			}
			if err := srvCheckConn(c); err != nil {
				t.Fatalf("after %q: %v", line, err)
			}
			if !keep {
				break
			}
		}
	})
}

func FuzzDecodeSubmit(f *testing.F) {
	for _, l := range srvFuzzSeeds {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseMessage(line)
		if err != nil {
			return
		}
		s, err := DecodeSubmit(m)
		if err != nil {
			return
		}
		m2, err := ParseMessage(EncodeSubmit(1, s))
		if err != nil {
			t.Fatalf("re-encoded submit does not parse: %v", err)
		}
		s2, err := DecodeSubmit(m2)
		if err != nil {
			t.Fatalf("re-encoded submit does not decode: %v", err)
		}
		if d := cmp.Diff(s, s2); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}

func FuzzDecodeNotify(f *testing.F) {
	for _, l := range []string{srvNotifyA, srvNotifyB, srvSubmitB,
		`{"id":null,"method":"mining.notify","params":["j","` + string(bytes.Repeat([]byte("0"), 64)) +
			`","","",[],"00000000","00000000","00000000",false,"extra",true]}`} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseMessage(line)
		if err != nil {
			return
		}
		n, err := DecodeNotify(m)
		if err != nil {
			return
		}
		m2, err := ParseMessage(EncodeNotify(n))
		if err != nil {
			t.Fatalf("re-encoded notify does not parse: %v", err)
		}
		n2, err := DecodeNotify(m2)
		if err != nil {
			t.Fatalf("re-encoded notify does not decode: %v", err)
		}
		if d := cmp.Diff(n, n2); d != "" {
			t.Errorf("round trip (-first +second):\n%s", d)
		}
	})
}
