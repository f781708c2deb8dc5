package stratumproxy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnfw/kiln/mining"
)

// cliParams renders a message's params compactly for golden comparison.
func cliParams(m *Message) string { return string(m.Params) }

func TestClientHandshakeOrderAndParams(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "worker:secret"), func(c *ClientConfig) {
		c.SuggestDifficulty = 512
		c.ProtocolLog = true
	})
	pc := pool.accept(t)
	got := pc.handshake(cliHS{rolling: true, suggest: true})
	type req struct{ Method, Params string }
	var gotReqs []req
	for _, m := range got {
		gotReqs = append(gotReqs, req{m.Method, cliParams(m)})
	}
	want := []req{
		{MethodConfigure, `[["version-rolling"],{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2}]`},
		{MethodSubscribe, `["kiln/test"]`},
		{MethodAuthorize, `["worker","secret"]`},
		{MethodSuggestDifficulty, `[512]`}, // a whole difficulty goes out as an integer
		{MethodExtranonceSub, `[]`},
	}
	if diff := cmp.Diff(want, gotReqs); diff != "" {
		t.Errorf("handshake (-want +got):\n%s", diff)
	}
	ev := h.wait(t, EventAuthorized)
	if ev.VersionMask != 0x1fffe000 || ev.Difficulty != 1 || ev.Session != 1 || ev.Pool != 3 {
		t.Errorf("authorized event = %+v", ev)
	}

	pc.send(`{"id":null,"method":"mining.set_difficulty","params":[0.0009765625]}`)
	pc.send(cliNotifyB1)
	job := h.wait(t, EventJob).Job
	if job.ID != "b1" || !job.Clean || job.Version != 0x20000000 || job.NBits != 0x17034219 ||
		job.NTime != 0x66255d00 || len(job.Branches) != 2 {
		t.Errorf("job fields: %+v", job)
	}
	if hex.EncodeToString(job.Extranonce1) != "f000000f" || job.Extranonce2Size != 4 ||
		job.VersionMask != 0x1fffe000 || job.Difficulty != 0.0009765625 || job.Pool != 3 || job.Session == 0 {
		t.Errorf("job session context: %+v", job)
	}
	if got, want := job.ShareTarget.String(), "000003fffc000000000000000000000000000000000000000000000000000000"; got != want {
		t.Errorf("share target %s, want %s", got, want)
	}
	// End to end against the reference vector: the job builds the merkle
	// root of §8(b) for extranonce2 01000000.
	root := job.MerkleRoot([]byte{1, 0, 0, 0})
	if got, want := hex.EncodeToString(root[:]), "23d41409b9e41ca13f922a7d01a4dd990bd76c733aa76516db221eb3886a3d29"; got != want {
		t.Errorf("merkle root %s, want %s", got, want)
	}
	if job.Received.IsZero() {
		t.Error("job.Received not set")
	}

	logs := h.log.String()
	if strings.Contains(logs, "secret") {
		t.Errorf("the password reached the log:\n%s", logs)
	}
	for _, want := range []string{`dir=send`, `dir=recv`, `\"***\"`, `pool=stratum+tcp://127.0.0.1:`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestClientSessionResume(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := pool.accept(t)
	pc.handshake(cliHS{rolling: true, session: "sess42"})
	first := h.wait(t, EventAuthorized).Session
	pc.nc.Close()
	h.wait(t, EventDisconnected)

	pc = pool.accept(t)
	pc.reply(pc.expect(MethodConfigure), map[string]any{"version-rolling": true, "version-rolling.mask": "1fffe000"}, nil)
	m := pc.expect(MethodSubscribe)
	if got, want := cliParams(m), `["kiln/test","sess42"]`; got != want {
		t.Errorf("resume subscribe params %s, want %s", got, want)
	}
	pc.reply(m, nil, ErrorTriple(20, "unknown session"))
	m = pc.expect(MethodSubscribe)
	if got, want := cliParams(m), `["kiln/test"]`; got != want {
		t.Errorf("fresh subscribe params %s, want %s", got, want)
	}
	pc.reply(m, []any{[][]string{{"mining.notify", "sess43"}}, "0badcafe", 8}, nil)
	pc.reply(pc.expect(MethodAuthorize), true, nil)
	pc.expect(MethodExtranonceSub)
	if ev := h.wait(t, EventAuthorized); ev.Session <= first {
		t.Errorf("session %d after reconnect, want a new one after %d", ev.Session, first)
	}
	pc.send(cliNotify("r1", true))
	if job := h.wait(t, EventJob).Job; hex.EncodeToString(job.Extranonce1) != "0badcafe" || job.Extranonce2Size != 8 {
		t.Errorf("job after fresh subscribe: en1 %x size %d", job.Extranonce1, job.Extranonce2Size)
	}
}

func TestClientConfigureRefused(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := pool.accept(t)
	pc.handshake(cliHS{rolling: false})
	if ev := h.wait(t, EventAuthorized); ev.VersionMask != 0 {
		t.Errorf("mask %08x after a refused configure, want 0", ev.VersionMask)
	}
	pc.send(`{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}`) // not negotiated: ignored
	pc.send(cliNotify("n1", true))
	job := h.wait(t, EventJob).Job
	if job.VersionMask != 0 {
		t.Errorf("job mask %08x, want 0", job.VersionMask)
	}
	h.client.Submit(&mining.Share{Job: job, Extranonce2: []byte{0, 0, 0, 7}, NTime: 0x66255d01, Nonce: 0xdeadbeef, VersionBits: 0})
	m := pc.expect(MethodSubmit)
	if got, want := cliParams(m), `["w","n1","00000007","66255d01","deadbeef"]`; got != want {
		t.Errorf("submit params %s, want %s (no version bits)", got, want)
	}
}

func TestClientConfigureNoReply(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), func(c *ClientConfig) {
		c.ConfigureTimeout = 100 * time.Millisecond
	})
	pc := pool.accept(t)
	conf := pc.expect(MethodConfigure) // never answered in time
	start := time.Now()
	m := pc.expect(MethodSubscribe)
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("subscribe came %v after configure; the client should wait for its reply a while", waited)
	}
	pc.reply(m, []any{[]any{}, "f000000f", 4}, nil)
	pc.reply(pc.expect(MethodAuthorize), true, nil)
	pc.expect(MethodExtranonceSub)
	if ev := h.wait(t, EventAuthorized); ev.VersionMask != 0 {
		t.Errorf("mask %08x without a configure reply, want 0", ev.VersionMask)
	}
	// A late positive reply changes nothing and breaks nothing.
	pc.reply(conf, map[string]any{"version-rolling": true, "version-rolling.mask": "1fffe000"}, nil)
	pc.send(cliNotify("late", true))
	if job := h.wait(t, EventJob).Job; job.VersionMask != 0 {
		t.Errorf("late configure reply enabled rolling: mask %08x", job.VersionMask)
	}
}

func TestClientConfigureClosesConnection(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := pool.accept(t)
	pc.expect(MethodConfigure)
	pc.nc.Close() // a pool that does not know the method hangs up
	pc = pool.accept(t)
	pc.handshake(cliHS{noConfigure: true})
	second := h.wait(t, EventAuthorized).Session
	// Remembered for this pool: later connections skip configure too.
	pc.nc.Close()
	pc = pool.accept(t)
	pc.handshake(cliHS{noConfigure: true})
	if ev := h.wait(t, EventAuthorized); ev.VersionMask != 0 || ev.Session <= second {
		t.Errorf("third session: %+v", ev)
	}
}

// cliReady runs the default handshake on the next connection and waits
// for the client to report it authorized.
func cliReady(t *testing.T, pool *cliPool, h *cliHarness) *cliPoolConn {
	t.Helper()
	pc := pool.accept(t)
	pc.handshake(cliHS{rolling: true})
	h.wait(t, EventAuthorized)
	return pc
}

func TestClientDifficultyAppliesToNextNotify(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	pc.send(cliNotify("a", true))
	a := h.wait(t, EventJob).Job
	pc.send(`{"id":null,"method":"mining.set_difficulty","params":[2048]}`)
	if d := h.wait(t, EventDifficulty).Difficulty; d != 2048 {
		t.Errorf("difficulty event %v, want 2048", d)
	}
	pc.send(cliNotify("b", false))
	b := h.wait(t, EventJob).Job
	if a.Difficulty != 1 || a.ShareTarget != mining.MustTarget(1) {
		t.Errorf("job a: difficulty %v, want 1 (set before the change)", a.Difficulty)
	}
	if b.Difficulty != 2048 || b.ShareTarget != mining.MustTarget(2048) {
		t.Errorf("job b: difficulty %v, want 2048", b.Difficulty)
	}
}

func TestClientSetExtranonce(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	pc.send(`{"id":null,"method":"mining.set_extranonce","params":["aabbccdd",2]}`)
	pc.send(cliNotify("e1", false))
	j := h.wait(t, EventJob).Job
	if hex.EncodeToString(j.Extranonce1) != "aabbccdd" || j.Extranonce2Size != 2 || !j.Clean {
		t.Errorf("after set_extranonce: en1 %x size %d clean %v, want aabbccdd 2 true", j.Extranonce1, j.Extranonce2Size, j.Clean)
	}
	pc.send(cliNotify("e2", false))
	if j := h.wait(t, EventJob).Job; j.Clean || hex.EncodeToString(j.Extranonce1) != "aabbccdd" {
		t.Errorf("next job: clean %v en1 %x, want false aabbccdd", j.Clean, j.Extranonce1)
	}
}

func TestClientSetVersionMask(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	for _, tc := range []struct{ sent, want string }{
		{"00ffe000", "00ffe000"},
		{"ffffffff", "1fffe000"}, // never more than we asked for
	} {
		pc.send(`{"id":null,"method":"mining.set_version_mask","params":["` + tc.sent + `"]}`)
		pc.send(cliNotify("v"+tc.sent, false))
		if got := Hex32(h.wait(t, EventJob).Job.VersionMask); got != tc.want {
			t.Errorf("set_version_mask %s: job mask %s, want %s", tc.sent, got, tc.want)
		}
	}
}

func TestClientReconnectRequest(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	other := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)

	pc.send(`{"id":null,"method":"client.reconnect","params":[]}`)
	pc.expectClosed()
	pc = cliReady(t, pool, h) // same pool again

	_, port, _ := strings.Cut(other.addr(), ":")
	pc.send(`{"id":null,"method":"client.reconnect","params":["127.0.0.1","` + port + `",0]}`)
	pc.expectClosed()
	cliReady(t, other, h).nc.Close() // followed: same host, new port

	// After the redirected connection ends, the configured pool is used;
	// a foreign host is never followed.
	pc = cliReady(t, pool, h)
	pc.send(`{"id":null,"method":"client.reconnect","params":["evil.example.org",3333,0]}`)
	pc.expectClosed()
	cliReady(t, pool, h)
}

func TestClientReconnectTarget(t *testing.T) {
	c, err := NewClient(ClientConfig{URL: "stratum+tcp://w@pool.example.com:3333"})
	if err != nil {
		t.Fatal(err)
	}
	cc := &clientConn{c: c}
	for _, tc := range []struct {
		name string
		in   Reconnect
		addr string
		wait time.Duration
	}{
		{"same pool", Reconnect{}, "", 0},
		{"same domain", Reconnect{Host: "eu.example.com", Port: "4444", WaitS: 5}, "eu.example.com:4444", 5 * time.Second},
		{"same domain, same port", Reconnect{Host: "us.example.com"}, "us.example.com:3333", 0},
		{"new port", Reconnect{Port: "4444"}, "pool.example.com:4444", 0},
		{"foreign domain", Reconnect{Host: "pool.evil.net", Port: "1"}, "", 0},
		{"wait capped", Reconnect{WaitS: 3600}, "", MaxReconnectWait},
	} {
		var rc *clientReconnect
		if !errors.As(cc.reconnectTarget(tc.in), &rc) {
			t.Fatalf("%s: not a reconnect error", tc.name)
		}
		if rc.addr != tc.addr || rc.wait != tc.wait {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", tc.name, rc.addr, rc.wait, tc.addr, tc.wait)
		}
	}
}

func TestClientServerRequests(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	for _, tc := range []struct{ name, send, id, result, errVal string }{
		{"get_version", `{"id":"v1","method":"client.get_version","params":[]}`, `"v1"`, `"kiln/test"`, `null`},
		{"ping", `{"id":7,"method":"mining.ping","params":[]}`, `7`, `"pong"`, `null`},
		{"unknown method", `{"id":8,"method":"mining.frobnicate","params":[]}`, `8`, `null`, `[20,"unsupported method",null]`},
	} {
		pc.send(tc.send)
		m := pc.read()
		if string(m.ID) != tc.id || string(m.Result) != tc.result || string(m.Error) != tc.errVal {
			t.Errorf("%s: reply id %s result %s error %s, want %s %s %s",
				tc.name, m.ID, m.Result, m.Error, tc.id, tc.result, tc.errVal)
		}
	}
	// Notifications get no reply: the next line is the answer to the ping.
	pc.send(`{"id":null,"method":"client.show_message","params":["maintenance at noon"]}`)
	pc.send(`{"id":null,"method":"mining.frobnicate","params":[]}`)
	pc.send(`{"id":9,"method":"mining.ping","params":[]}`)
	if m := pc.read(); string(m.ID) != "9" {
		t.Errorf("got %s %s, want the reply to ping 9", m.ID, m.Method)
	}
	if !strings.Contains(h.log.String(), "maintenance at noon") {
		t.Error("show_message was not logged")
	}
}

// cliShare is a share of job with the §8(c) values.
func cliShare(job *mining.Job) *mining.Share {
	return &mining.Share{Job: job, Extranonce2: []byte{1, 0, 0, 0}, NTime: 0x66255d00, Nonce: 0x0022ade0,
		Version: 0x22468000, VersionBits: 0x02468000}
}

func TestClientSubmitWithVersionBits(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "worker.1:x"), nil)
	pc := cliReady(t, pool, h)
	pc.send(cliNotifyB1)
	job := h.wait(t, EventJob).Job
	h.client.Submit(cliShare(job))
	m := pc.expect(MethodSubmit)
	if got, want := cliParams(m), `["worker.1","b1","01000000","66255d00","0022ade0","02468000"]`; got != want {
		t.Errorf("submit params %s, want %s", got, want)
	}
	pc.reply(m, true, nil)
	r := h.wait(t, EventShare).Share
	if !r.Accepted || r.Err != nil || r.Latency <= 0 || r.Pool != 3 || r.URL != pool.url("stratum+tcp", "") {
		t.Errorf("share result %+v", r)
	}
}

func TestClientRejectShapes(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	pc.send(cliNotifyB1)
	job := h.wait(t, EventJob).Job
	for _, tc := range []struct {
		name, reply string // %s is the request id
		want        error  // nil: accepted
		msg         string
	}{
		{"accepted", `{"id":%s,"result":true,"error":null}`, nil, ""},
		{"accepted, id echoed as string", `{"id":"%s","result":true,"error":null}`, nil, ""},
		{"error triple", `{"id":%s,"result":null,"error":[23,"Low difficulty share",null]}`, ErrLowDifficulty, "Low difficulty share"},
		{"error triple, job not found", `{"id":%s,"result":false,"error":[21,"Job not found",""]}`, ErrStale, "Job not found"},
		{"bare string", `{"id":%s,"result":false,"error":"Stale"}`, ErrStale, "Stale"},
		{"JSON-RPC 2.0 object", `{"id":%s,"result":null,"error":{"code":22,"message":"duplicate share"}}`, ErrDuplicate, "duplicate share"},
		{"ckpool reject-reason", `{"id":%s,"result":false,"error":null,"reject-reason":"Above target"}`, ErrLowDifficulty, "Above target"},
		{"false without reason", `{"id":%s,"result":false,"error":null}`, ErrOther, "rejected"},
		{"null result", `{"id":%s,"result":null,"error":null}`, ErrOther, "empty result"},
	} {
		h.client.Submit(cliShare(job))
		m := pc.expect(MethodSubmit)
		pc.send(fmt.Sprintf(tc.reply, m.ID))
		r := h.wait(t, EventShare).Share
		if tc.want == nil {
			if !r.Accepted || r.Err != nil {
				t.Errorf("%s: %+v, want accepted", tc.name, r)
			}
			continue
		}
		var re *RejectError
		if r.Accepted || !errors.Is(r.Err, tc.want) || !errors.As(r.Err, &re) || re.Message != tc.msg {
			t.Errorf("%s: accepted %v err %v, want %v with message %q", tc.name, r.Accepted, r.Err, tc.want, tc.msg)
		}
	}
}

func TestClientSubmitTimeout(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), func(c *ClientConfig) {
		c.SubmitTimeout = 100 * time.Millisecond
	})
	pc := cliReady(t, pool, h)
	pc.send(cliNotifyB1)
	job := h.wait(t, EventJob).Job
	h.client.Submit(cliShare(job))
	m := pc.expect(MethodSubmit) // never answered
	r := h.wait(t, EventShare).Share
	if r.Accepted || !errors.Is(r.Err, ErrSubmitTimeout) || mgrRejectLabel(r.Err) != "timeout" || r.Latency < 100*time.Millisecond {
		t.Errorf("unanswered submit: %+v", r)
	}
	// The late reply is ignored, not counted twice.
	pc.reply(m, true, nil)
	pc.send(`{"id":1,"method":"mining.ping","params":[]}`)
	pc.read()
	select {
	case ev := <-h.events:
		if ev.Kind == EventShare {
			t.Errorf("late reply produced another share result: %+v", ev.Share)
		}
	default:
	}
	// A submit in flight when the connection ends is settled at once.
	h.client.Submit(cliShare(job))
	pc.expect(MethodSubmit)
	pc.nc.Close()
	r = h.wait(t, EventShare).Share
	if r.Accepted || !errors.Is(r.Err, ErrConnectionLost) || mgrRejectLabel(r.Err) != "connection_lost" {
		t.Errorf("submit cut off by a disconnect: %+v", r)
	}
}

func TestClientStaleAfterReconnect(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := cliReady(t, pool, h)
	pc.send(cliNotifyB1)
	old := h.wait(t, EventJob).Job
	pc.nc.Close()
	h.wait(t, EventDisconnected)
	pc = cliReady(t, pool, h)
	pc.send(cliNotifyB1)
	current := h.wait(t, EventJob).Job

	foreign := *old
	foreign.Session, foreign.Pool = current.Session, 0 // right session number, another pool
	for _, job := range []*mining.Job{old, &foreign} {
		h.client.Submit(cliShare(job))
		r := h.wait(t, EventShare).Share
		if r.Accepted || !errors.Is(r.Err, mining.ErrStale) || r.Latency != 0 {
			t.Errorf("share of session %d pool %d: %+v, want stale", job.Session, job.Pool, r)
		}
	}
	// Nothing was sent: the next line the pool sees answers its ping.
	pc.send(`{"id":77,"method":"mining.ping","params":[]}`)
	if m := pc.read(); m.Method != "" || string(m.ID) != "77" {
		t.Errorf("pool received %s %s, want the ping reply", m.Method, m.Params)
	}
}

func TestClientBadInputReconnects(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	notify := func(f func(p []string) []string) string {
		p := []string{`"j"`, `"` + strings.Repeat("00", 32) + `"`, `"01"`, `"02"`, `[]`, `"20000000"`, `"1d00ffff"`, `"66255d00"`, `true`}
		return `{"id":null,"method":"mining.notify","params":[` + strings.Join(f(p), ",") + `]}` + "\n"
	}
	for _, tc := range []struct {
		name, input string
		closeWrite  bool
		want        string // in the disconnect error
	}{
		{"bad JSON", `{"id":null,"method":` + "\n", false, "malformed"},
		{"not an object", "[1,2,3]\n", false, "malformed"},
		{"params not an array", `{"id":null,"method":"mining.notify","params":{"a":1}}` + "\n", false, "not an array"},
		{"difficulty not a number", `{"id":null,"method":"mining.set_difficulty","params":["high"]}` + "\n", false, "not a number"},
		{"difficulty zero", `{"id":null,"method":"mining.set_difficulty","params":[0]}` + "\n", false, "out of range"},
		{"notify too short", notify(func(p []string) []string { return p[:5] }), false, "want 9"},
		{"notify wrong type", notify(func(p []string) []string { p[5] = "536870912"; return p }), false, "not a string"},
		{"notify bad hex", notify(func(p []string) []string { p[2] = `"zz"`; return p }), false, "bad hex"},
		{"notify short prevhash", notify(func(p []string) []string { p[1] = `"00"`; return p }), false, "prevhash"},
		{"set_extranonce bad size", `{"id":null,"method":"mining.set_extranonce","params":["00",99]}` + "\n", false, "extranonce2 size"},
		{"over-long line", strings.Repeat("x", MaxLineClient+100) + "\n", false, "line too long"},
		{"over-long line, no newline", strings.Repeat("x", MaxLineClient+64<<10), false, "line too long"},
		{"closed mid-line", `{"id":null,"meth`, true, "mid-line"},
	} {
		t.Log(tc.name)
		pc := cliReady(t, pool, h)
		// The client may hang up while a long line is still being written.
		_ = pc.nc.SetWriteDeadline(time.Now().Add(cliWait))
		_, _ = pc.nc.Write([]byte(tc.input))
		if tc.closeWrite {
			pc.nc.(interface{ CloseWrite() error }).CloseWrite()
		}
		pc.expectClosed()
		ev := h.wait(t, EventDisconnected)
		if ev.Err == nil || !strings.Contains(ev.Err.Error(), tc.want) {
			t.Errorf("%s: disconnect error %v, want it to mention %q", tc.name, ev.Err, tc.want)
		}
	}
	cliReady(t, pool, h) // still reconnecting after all of that
	logs := h.log.String()
	if n := strings.Count(logs, `msg="pool connection failed"`); n < 13 {
		t.Errorf("%d failure log lines, want one per bad input (13):\n%s", n, logs)
	}
	if !strings.Contains(logs, "pool=stratum+tcp://127.0.0.1:") {
		t.Error("failure log lines lack the pool key")
	}
}

func TestClientIdleTimeout(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), func(c *ClientConfig) {
		c.IdleTimeout = 200 * time.Millisecond
	})
	pc := cliReady(t, pool, h)
	start := time.Now()
	pc.expectClosed() // the pool says nothing more
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("dropped after %v, before the idle timeout", el)
	}
	if ev := h.wait(t, EventDisconnected); !strings.Contains(ev.Err.Error(), "no line from the pool") {
		t.Errorf("disconnect error %v", ev.Err)
	}
	cliReady(t, pool, h)
}

func TestClientAuthRefused(t *testing.T) {
	cliNoLeaks(t)
	pool := newCliPool(t, nil)
	h := newCliHarness(t, pool.url("stratum+tcp", "w:x"), nil)
	pc := pool.accept(t)
	pc.reply(pc.expect(MethodConfigure), nil, ErrorTriple(20, "no"))
	pc.reply(pc.expect(MethodSubscribe), []any{[]any{}, "00", 4}, nil)
	pc.reply(pc.expect(MethodAuthorize), false, ErrorTriple(24, "unauthorized worker"))
	pc.expectClosed()
	ev := h.wait(t, EventDisconnected)
	if !errors.Is(ev.Err, ErrAuthRefused) {
		t.Errorf("disconnect error %v, want ErrAuthRefused", ev.Err)
	}
	cliReady(t, pool, h) // retried after a backoff
}
