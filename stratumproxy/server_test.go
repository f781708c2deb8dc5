package stratumproxy

import (
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// srvTestDiff makes a share cost about 4096 hashes.
const srvTestDiff = 1.0 / (1 << 20)

func TestServerFullSession(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: srvTestDiff})
	c := srvDial(t, addr)

	// configure: every requested extension answered; the mask is
	// requested & server mask.
	m := c.call(MethodConfigure, []string{"version-rolling", "minimum-difficulty", "info"},
		map[string]any{"version-rolling.mask": "ffffffff", "version-rolling.min-bit-count": 2,
			"minimum-difficulty.value": 0})
	var conf map[string]any
	if err := json.Unmarshal(m.Result, &conf); err != nil {
		t.Fatal(err)
	}
	wantConf := map[string]any{"version-rolling": true, "version-rolling.mask": "1fffe000",
		"minimum-difficulty": true, "info": false}
	if d := cmp.Diff(wantConf, conf); d != "" {
		t.Errorf("configure result (-want +got):\n%s", d)
	}

	m = c.call(MethodSubscribe, "srv-test/1")
	var subRes []json.RawMessage
	if err := json.Unmarshal(m.Result, &subRes); err != nil || len(subRes) != 3 {
		t.Fatalf("subscribe result %s", m.Result)
	}
	sub, err := DecodeSubscribe(m.Result)
	if err != nil {
		t.Fatal(err)
	}
	wantSubs := `[["mining.set_difficulty","` + hexString(sub.Extranonce1) + `"],["mining.notify","` +
		hexString(sub.Extranonce1) + `"]]`
	if string(subRes[0]) != wantSubs || len(sub.Extranonce1) != 4 || sub.Extranonce2Size != 4 ||
		sub.SessionID != hexString(sub.Extranonce1) {
		t.Fatalf("subscribe result %s", m.Result)
	}
	c.en1 = sub.Extranonce1

	srvWantAccept(t, DecodeReply(c.call(MethodAuthorize, "w.1", "x")))
	if d := c.nextDifficulty(); d != srvTestDiff {
		t.Errorf("difficulty %v, want %v", d, srvTestDiff)
	}
	job := c.nextNotify()
	if !job.Clean || job.Version != demoVersion || len(job.Branches) != demoBranches {
		t.Errorf("first job %+v", job)
	}

	en2 := []byte{0, 0, 0, 1}
	nonce := srvMine(t, job, c.en1, en2, job.Version, srvTestDiff, true)
	srvWantAccept(t, c.submit("w.1", job.JobID, en2, job.NTime, nonce))
	srvWantReject(t, c.submit("w.1", job.JobID, en2, job.NTime, nonce), 22, "duplicate share")

	low := srvMine(t, job, c.en1, en2, job.Version, srvTestDiff, false)
	srvWantReject(t, c.submit("w.1", job.JobID, en2, job.NTime, low), 23, "low difficulty share")
	srvWantReject(t, c.submit("w.1", "nosuchjob", en2, job.NTime, nonce), 21, "job not found")
	srvWantReject(t, c.submit("w.1", job.JobID, en2[:3], job.NTime, nonce), 20, "invalid extranonce2 size")
	srvWantReject(t, c.submit("w.1", job.JobID, en2, job.NTime-1, nonce), 20, "ntime out of range")
	future := uint32(time.Now().Unix()) + MaxNTimeAhead + 120
	srvWantReject(t, c.submit("w.1", job.JobID, en2, future, nonce), 20, "ntime out of range")
	srvWantReject(t, c.submit("w.1", job.JobID, en2, job.NTime, nonce, 0x00000001), 20, "invalid version mask")
	srvWantReject(t, c.submit("w.2", job.JobID, en2, job.NTime, nonce), 24, "unauthorized worker")

	// A share on a rolled version, bits inside the granted mask.
	const bits = 0x1234 << 13
	rolled := srvMine(t, job, c.en1, en2, job.Version|bits, srvTestDiff, true)
	srvWantAccept(t, c.submit("w.1", job.JobID, en2, job.NTime, rolled, bits))

	// A new block voids the job.
	s.NewBlock()
	next := c.nextNotify()
	if !next.Clean || next.JobID == job.JobID || next.PrevHash == job.PrevHash {
		t.Fatalf("new block job %+v", next)
	}
	en2b := []byte{0, 0, 0, 2}
	old := srvMine(t, job, c.en1, en2b, job.Version, srvTestDiff, true)
	srvWantReject(t, c.submit("w.1", job.JobID, en2b, job.NTime, old), 21, "stale")
	fresh := srvMine(t, next, c.en1, en2b, next.Version, srvTestDiff, true)
	srvWantAccept(t, c.submit("w.1", next.JobID, en2b, next.NTime, fresh))

	st := s.Stats()
	want := ServerStats{
		Connections: 1, Accepted: 3, AcceptedDifficulty: 3 * srvTestDiff,
		Rejected: map[string]uint64{"duplicate": 1, "low_difficulty": 1, "stale": 2, "other": 4, "unauthorized": 1},
		Workers:  map[string]uint64{"w.1": 3},
	}
	if d := cmp.Diff(want, st); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

// TestServerJobRotation checks a clean=false job keeps earlier jobs of the
// block valid, and that old jobs leave the window.
func TestServerJobRotation(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: srvTestDiff})
	c := srvDial(t, addr)
	_, first := c.handshake("w")
	for range srvJobWindow - 1 {
		if err := s.rotate(false); err != nil {
			t.Fatal(err)
		}
		if n := c.nextNotify(); n.Clean || n.PrevHash != first.PrevHash {
			t.Fatalf("update job %+v", n)
		}
	}
	en2 := []byte{9, 9, 9, 9}
	nonce := srvMine(t, first, c.en1, en2, first.Version, srvTestDiff, true)
	srvWantAccept(t, c.submit("w", first.JobID, en2, first.NTime, nonce))

	if err := s.rotate(false); err != nil {
		t.Fatal(err)
	}
	c.nextNotify()
	en2 = []byte{9, 9, 9, 8}
	nonce = srvMine(t, first, c.en1, en2, first.Version, srvTestDiff, true)
	srvWantReject(t, c.submit("w", first.JobID, en2, first.NTime, nonce), 21, "job not found")
}

func TestServerOrderAndMisc(t *testing.T) {
	srvLeakCheck(t)
	_, addr := srvStart(t, ServerConfig{
		Difficulty: srvTestDiff,
		Authorize:  func(user, pass string) bool { return pass == "good" },
	})
	c := srvDial(t, addr)
	srvWantReject(t, c.submit("w", "1", []byte{0, 0, 0, 0}, 0, 0), 25, "not subscribed")
	if r := DecodeReply(c.call(MethodPing)); string(r.Result) != `"pong"` {
		t.Errorf("ping: %+v", r)
	}
	srvWantReject(t, DecodeReply(c.call("mining.get_transactions", "1")), 20, "unknown method")
	c.send(`{"id":null,"method":"mining.nonsense","params":[]}`) // no reply to a notification
	if r := DecodeReply(c.call(MethodExtranonceSub)); string(r.Result) != "true" {
		t.Errorf("extranonce.subscribe: %+v", r)
	}
	c.call(MethodSubscribe)
	srvWantReject(t, c.submit("w", "1", []byte{0, 0, 0, 0}, 0, 0), 24, "unauthorized worker")
	if r := DecodeReply(c.call(MethodAuthorize, "w", "bad")); string(r.Result) != "false" {
		t.Errorf("authorize with a bad password: %+v", r)
	}
	if r := DecodeReply(c.call(MethodAuthorize, "", "good")); string(r.Result) != "false" {
		t.Errorf("authorize with no user: %+v", r)
	}
	if len(c.queue) != 0 {
		t.Errorf("notifications before authorize: %d", len(c.queue))
	}
	srvWantAccept(t, DecodeReply(c.call(MethodAuthorize, "w", "good")))
	c.nextDifficulty()
	job := c.nextNotify()

	// Without configure, version bits are refused.
	en2 := []byte{1, 2, 3, 4}
	nonce := srvMine(t, job, c.en1, en2, job.Version|1<<13, srvTestDiff, true)
	srvWantReject(t, c.submit("w", job.JobID, en2, job.NTime, nonce, 1<<13), 20, "invalid version mask")
}

func TestServerSuggestDifficulty(t *testing.T) {
	srvLeakCheck(t)
	const high = 1.0 / 256
	s, addr := srvStart(t, ServerConfig{Difficulty: srvTestDiff, MinDifficulty: 1.0 / (1 << 22)})
	c := srvDial(t, addr)
	_, job := c.handshake("w")

	// Below the floor: refused, nothing sent.
	if r := DecodeReply(c.call(MethodSuggestDifficulty, 1.0/(1<<23))); string(r.Result) != "false" {
		t.Errorf("suggest below floor: %+v", r)
	}
	if r := DecodeReply(c.call(MethodSuggestDifficulty, high)); string(r.Result) != "true" {
		t.Errorf("suggest: %+v", r)
	}
	if d := c.nextDifficulty(); d != high {
		t.Fatalf("difficulty %v, want %v", d, high)
	}
	again := c.nextNotify()
	if again.JobID != job.JobID || again.Clean {
		t.Fatalf("re-sent job %+v", again)
	}
	if len(c.queue) != 0 {
		t.Fatalf("unexpected notifications %d", len(c.queue))
	}

	// The job was first sent at the low difficulty, so it is still judged
	// at it.
	en2 := []byte{0, 0, 0, 7}
	nonce := srvMineBetween(t, job, c.en1, en2, srvTestDiff, high)
	srvWantAccept(t, c.submit("w", job.JobID, en2, job.NTime, nonce))

	// A job sent after the change is judged at the new difficulty.
	if err := s.rotate(false); err != nil {
		t.Fatal(err)
	}
	next := c.nextNotify()
	nonce = srvMineBetween(t, next, c.en1, en2, srvTestDiff, high)
	srvWantReject(t, c.submit("w", next.JobID, en2, next.NTime, nonce), 23, "low difficulty share")
	if got := s.Stats().AcceptedDifficulty; got != srvTestDiff {
		t.Errorf("accepted difficulty %v, want %v", got, srvTestDiff)
	}
}

// srvMineBetween finds a nonce whose hash meets lo but not hi.
func srvMineBetween(t *testing.T, n Notify, en1, en2 []byte, lo, hi float64) uint32 {
	t.Helper()
	for range 64 {
		nonce := srvMine(t, n, en1, en2, n.Version, lo, true)
		j := srvJobFromNotify(t, string(EncodeNotify(n)), hexString(en1), 0, lo)
		j.Extranonce1 = en1
		sh, err := ValidateShare(j, Submit{Extranonce2: en2, NTime: n.NTime, Nonce: nonce}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if sh.Difficulty < hi {
			return nonce
		}
		en2 = []byte{en2[0] + 1, en2[1], en2[2], en2[3]}
	}
	t.Fatal("no share between the difficulties")
	return 0
}

func TestServerSessionResume(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{Difficulty: srvTestDiff})
	a := srvDial(t, addr)
	a.handshake("w")
	sid := hexString(a.en1)
	_ = a.nc.Close()
	srvWaitConns(t, s, 0)

	b := srvDial(t, addr)
	sub, err := DecodeSubscribe(b.call(MethodSubscribe, "srv-test/1", sid).Result)
	if err != nil {
		t.Fatal(err)
	}
	if hexString(sub.Extranonce1) != sid || sub.SessionID != sid {
		t.Errorf("resumed %x, want %s", sub.Extranonce1, sid)
	}
	// The live session cannot be taken by another connection.
	c := srvDial(t, addr)
	sub, err = DecodeSubscribe(c.call(MethodSubscribe, "srv-test/1", sid).Result)
	if err != nil {
		t.Fatal(err)
	}
	if hexString(sub.Extranonce1) == sid {
		t.Errorf("two connections share extranonce1 %s", sid)
	}
	// A second subscribe answers the same.
	sub2, err := DecodeSubscribe(c.call(MethodSubscribe, "srv-test/1").Result)
	if err != nil || !cmp.Equal(sub, sub2) {
		t.Errorf("re-subscribe %+v, want %+v (%v)", sub2, sub, err)
	}
}

func TestServerBroadcastAndDropAll(t *testing.T) {
	srvLeakCheck(t)
	s, addr := srvStart(t, ServerConfig{})
	c := srvDial(t, addr)
	c.call(MethodSubscribe)
	line := Notification(MethodReconnect)
	s.Broadcast(line[:len(line)-1]) // the newline is added
	if m := c.read(); m.Method != MethodReconnect {
		t.Errorf("got %s, want %s", m.Method, MethodReconnect)
	}
	s.DropAll()
	c.expectClosed()
	srvWaitConns(t, s, 0)
}

func TestServerServeTwice(t *testing.T) {
	srvLeakCheck(t)
	s, _ := srvStart(t, ServerConfig{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		if serving {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server not serving")
		}
		time.Sleep(time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(t.Context(), ln); err == nil {
		t.Error("second Serve returned nil")
	}
}
