package stratumproxy

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func TestServerBadInput(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: srvTestDiff})

	t.Run("line too long", func(t *testing.T) {
		c := srvDial(t, addr)
		c.send(strings.Repeat("a", MaxLineServer+10))
		if lines := c.expectClosed(); len(lines) != 0 {
			t.Errorf("got %q before close", lines)
		}
	})
	t.Run("long line within limit", func(t *testing.T) {
		c := srvDial(t, addr)
		pad := strings.Repeat("x", MaxLineServer-100)
		c.send(`{"id":1,"method":"mining.ping","params":["` + pad + `"]}`)
		if r := DecodeReply(c.read()); string(r.Result) != `"pong"` {
			t.Errorf("reply %+v", r)
		}
	})
	t.Run("invalid JSON", func(t *testing.T) {
		for _, line := range []string{"not json", `{"id":1,"method":`, `[1,2,3]`, `"mining.subscribe"`} {
			c := srvDial(t, addr)
			c.send(line)
			lines := c.expectClosed()
			if len(lines) != 1 {
				t.Fatalf("%q: got %q, want one error line", line, lines)
			}
			// A reply with a null id: decode it by hand.
			var m Message
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
				t.Fatal(err)
			}
			if r := DecodeReply(&m); r.OK || r.Code != 20 {
				t.Errorf("%q: reply %+v", line, r)
			}
		}
	})
	t.Run("wrong types keep the connection", func(t *testing.T) {
		c := srvDial(t, addr)
		for i, line := range []string{
			`{"id":1,"method":"mining.subscribe","params":{"a":1}}`,
			`{"id":2,"method":7,"params":[]}`,
			`{"id":3,"method":"mining.configure","params":["version-rolling"]}`,
			`{"id":4,"method":"mining.authorize","params":[1,2]}`,
			`{"id":5,"method":"mining.suggest_difficulty","params":["high"]}`,
			`{"id":6,"method":"mining.suggest_difficulty","params":[-1]}`,
		} {
			c.send(line)
			r := DecodeReply(c.read())
			if r.OK || r.Code != 20 {
				t.Errorf("line %d: reply %+v, want error 20", i+1, r)
			}
		}
		c.send(`{}`) // nothing to answer: no id
		c.send(`{"id":null,"method":"mining.submit","params":{}}`)
		c.handshake("w")
		for i, params := range [][]any{
			{1, 2, 3, 4, 5},
			{"w", "1", "zz", "00000000", "00000000"},
			{"w", "1", "00000000", "0000", "00000000"},
			{"w", "1", "00000000", "00000000"},
			{"w", "1", "00000000", "00000000", "00000000", "1", "2"},
		} {
			srvWantReject(t, DecodeReply(c.call(MethodSubmit, params...)), 20, "")
			_ = i
		}
		if r := DecodeReply(c.call(MethodPing)); string(r.Result) != `"pong"` {
			t.Errorf("connection broken after bad params: %+v", r)
		}
		if got := s.Stats().Rejected["other"]; got != 5 {
			t.Errorf("rejected other = %d, want 5", got)
		}
	})
	t.Run("CRLF and blank lines", func(t *testing.T) {
		c := srvDial(t, addr)
		_, _ = io.WriteString(c.nc, "\r\n\n"+`{"id":1,"method":"mining.ping","params":[]}`+"\r\n")
		if r := DecodeReply(c.read()); string(r.Result) != `"pong"` {
			t.Errorf("reply %+v", r)
		}
	})
}

func TestServerMaxConns(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{MaxConns: 2})
	a, b := srvDial(t, addr), srvDial(t, addr)
	a.call(MethodPing)
	b.call(MethodPing)
	c := srvDial(t, addr)
	c.expectClosed()
	if n := s.Stats().Connections; n != 2 {
		t.Errorf("connections = %d, want 2", n)
	}
	// A slot frees when a miner leaves.
	_ = a.nc.Close()
	srvWaitConns(t, s, 1)
	d := srvDial(t, addr)
	d.call(MethodPing)
}

func TestServerHandshakeTimeout(t *testing.T) {
	srvLeakCheck(t)
	_, addr := srvStart(t, ServerConfig{HandshakeTimeout: 200 * time.Millisecond})
	authed := srvDial(t, addr)
	authed.handshake("w")
	start := time.Now()
	lazy := srvDial(t, addr)
	lazy.call(MethodSubscribe)
	lazy.expectClosed()
	if time.Since(start) < 150*time.Millisecond {
		t.Errorf("dropped after %v, before the timeout", time.Since(start))
	}
	// The authorized miner, connected earlier, is still served.
	if r := DecodeReply(authed.call(MethodPing)); string(r.Result) != `"pong"` {
		t.Errorf("authorized connection: %+v", r)
	}
}

func TestServerIdleTimeout(t *testing.T) {
	srvLeakCheck(t)
	_, addr := srvStart(t, ServerConfig{IdleTimeout: 200 * time.Millisecond})
	c := srvDial(t, addr)
	c.handshake("w")
	c.expectClosed()
}

// TestServerSlowReader checks a miner that stops reading is dropped and
// does not stall the broadcaster.
func TestServerSlowReader(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{})
	stalled := srvDial(t, addr)
	stalled.call(MethodPing)
	big := []byte(`{"id":null,"method":"client.show_message","params":["` +
		strings.Repeat("z", 1<<16) + `"]}`)
	for i := 0; i < 10000 && s.Stats().Connections > 0; i++ {
		s.Broadcast(big) // never blocks
	}
	srvWaitConns(t, s, 0)
}
