package cgminer

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/webui"
)

// statusOf returns the first STATUS record of a JSON reply.
func statusOf(t *testing.T, reply string) map[string]any {
	t.Helper()
	st, ok := decodeReply(t, reply)["STATUS"].([]any)
	if !ok || len(st) != 1 {
		t.Fatalf("no STATUS array in %s", reply)
	}
	return st[0].(map[string]any)
}

// wantStatus fails unless a JSON reply's STATUS has sev and code.
func wantStatus(t *testing.T, reply, sev string, code int) map[string]any {
	t.Helper()
	st := statusOf(t, reply)
	if st["STATUS"] != sev || st["Code"] != float64(code) {
		t.Errorf("STATUS %v, want %s code %d", st, sev, code)
	}
	return st
}

func TestJoinedJSON(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	out := query(t, addr, `{"command":"summary+devs+pools+summary++addpool+check+bogus","parameter":"x"}`)
	m := decodeReply(t, out)
	if m["id"] != 1.0 {
		t.Errorf("outer id = %v, want 1", m["id"])
	}
	if len(m) != 7 {
		t.Errorf("reply has keys %v, want summary, devs, pools, addpool, check, bogus, id", keys(m))
	}
	if i, j, k := strings.Index(out, `"summary"`), strings.Index(out, `"devs"`), strings.Index(out, `"pools"`); !(i < j && j < k) {
		t.Errorf("commands out of order in %s", out)
	}
	part := func(name string) map[string]any {
		arr, ok := m[name].([]any)
		if !ok || len(arr) != 1 {
			t.Fatalf("%q = %v, want a one-element array", name, m[name])
		}
		return arr[0].(map[string]any)
	}
	tc := readCases()[2]
	checkJSONReply(t, part("summary"), tc)
	if recs, _ := part("pools")["POOLS"].([]any); len(recs) != 3 {
		t.Errorf("joined pools has %d records, want 3", len(recs))
	}
	for name, code := range map[string]int{"addpool": codeAccessDenied, "check": codeAccessDenied, "bogus": codeInvalidCommand} {
		st := part(name)["STATUS"].([]any)[0].(map[string]any)
		if st["STATUS"] != "E" || st["Code"] != float64(code) {
			t.Errorf("joined %s: STATUS %v, want E code %d", name, st, code)
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestJoinedText(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	out := query(t, addr, "version+pools")
	recs := parseText(t, out)
	var heads []string
	for _, r := range recs {
		heads = append(heads, r[0].name)
	}
	want := []string{"CMD", "STATUS", "VERSION", "CMD", "STATUS", "POOL", "POOL", "POOL"}
	if strings.Join(heads, " ") != strings.Join(want, " ") {
		t.Errorf("record heads %v, want %v in %q", heads, want, out)
	}
	if !strings.HasPrefix(out, "CMD=version|STATUS=S,") || !strings.Contains(out, "|CMD=pools|STATUS=S,") {
		t.Errorf("joined text reply %q lacks CMD= markers", out)
	}
}

func TestRequestErrors(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	for _, tc := range []struct {
		name, req string
		code      int
	}{
		{"unknown JSON command", `{"command":"bogus"}`, codeInvalidCommand},
		{"command not a string", `{"command":5}`, codeInvalidCommand},
		{"bad JSON ended by NUL", "{\"command\":\x00", codeInvalidJSON},
		{"trailing garbage", `{"command":"summary"}}` + "\x00", codeInvalidJSON},
		{"missing command", `{"parameter":"1"}`, codeMissingCommand},
		{"command key is case-sensitive", `{"Command":"summary"}`, codeMissingCommand},
		{"joined names all empty", `{"command":"++"}`, codeInvalidCommand},
		{"privileged quit", `{"command":"quit"}`, codeAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := wantStatus(t, query(t, addr, tc.req), "E", tc.code)
			if _, has := st["Description"]; has == (tc.code == codeInvalidCommand) {
				t.Errorf("Description present = %v for code %d", has, tc.code)
			}
		})
	}
	if out := query(t, addr, "bogus|1"); out != "STATUS=E,When=1700000000,Code=14,Msg=Invalid command|" {
		t.Errorf("text unknown command = %q", out)
	}
	if out := query(t, addr, "quit"); !strings.HasPrefix(out, "STATUS=E,When=1700000000,Code=45,Msg=Access denied to 'quit' command,") {
		t.Errorf("text quit = %q, want code 45", out)
	}
}

// TestBadJSONAtEOF: a client that half-closes after an incomplete JSON
// request gets code 23 at once.
func TestBadJSONAtEOF(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(`{"command":`)); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, strings.TrimSuffix(string(out), "\x00"), "E", codeInvalidJSON)
}

// TestOversizedRequest: a request past the read limit gets an answer (not
// a reset) for what was read.
func TestOversizedRequest(t *testing.T) {
	addr := startServer(t, newServer(t, newFixture(), ""))
	out := query(t, addr, "summary"+strings.Repeat("x", 3*maxRequest))
	if !strings.HasPrefix(out, "STATUS=E,When=1700000000,Code=14,") {
		t.Errorf("oversized request answered %q, want code 14", out)
	}
}

func TestAccess(t *testing.T) {
	t.Run("default list: loopback is privileged", func(t *testing.T) {
		addr := startServer(t, newServer(t, newFixture(), ""))
		wantStatus(t, query(t, addr, `{"command":"privileged"}`), "S", codeAccessOK)
		if out := query(t, addr, "check|addpool"); !strings.Contains(out, "CHECK,Exists=Y,Access=Y|") {
			t.Errorf("check|addpool from loopback = %q, want Access=Y", out)
		}
	})
	t.Run("read-only loopback is refused writes", func(t *testing.T) {
		f := newFixture()
		addr := startServer(t, newServer(t, f, "R:127.0.0.1"))
		wantStatus(t, query(t, addr, `{"command":"privileged"}`), "E", codeAccessDenied)
		for _, cmd := range []string{"switchpool|1", "addpool|a,b,c", "removepool|1", "restart", "save"} {
			if out := query(t, addr, cmd); !strings.HasPrefix(out, "STATUS=E,When=1700000000,Code=45,") {
				t.Errorf("%s from a read-only address = %q, want code 45", cmd, out)
			}
		}
		if out := query(t, addr, "check|addpool"); !strings.Contains(out, "CHECK,Exists=Y,Access=N|") {
			t.Errorf("check|addpool read-only = %q, want Access=N", out)
		}
		wantStatus(t, query(t, addr, `{"command":"summary"}`), "S", codeSummary)
		if f.sets != 0 {
			t.Errorf("a refused command changed the pools %d times", f.sets)
		}
	})
	t.Run("address not listed is disconnected", func(t *testing.T) {
		addr := startServer(t, newServer(t, newFixture(), "R:10.0.0.0/8,W:192.168.0/16"))
		for _, req := range []string{"summary", `{"command":"version"}`} {
			if out := rawQuery(t, addr, req); len(out) != 0 {
				t.Errorf("unlisted address got %q, want no reply", out)
			}
		}
	})
	t.Run("everyone privileged", func(t *testing.T) {
		addr := startServer(t, newServer(t, newFixture(), "W:0/0"))
		wantStatus(t, query(t, addr, `{"command":"privileged"}`), "S", codeAccessOK)
	})
}

func TestRestart(t *testing.T) {
	f := newFixture()
	f.restarts = make(chan struct{}, 2)
	addr := startServer(t, newServer(t, f, ""))
	for _, tc := range []struct{ req, want string }{
		{"restart", "RESTART"},
		{`{"command":"restart"}`, `{"STATUS":"RESTART","id":1}`},
	} {
		if out := query(t, addr, tc.req); out != tc.want {
			t.Errorf("%s answered %q, want %q", tc.req, out, tc.want)
		}
		select {
		case <-f.restarts:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not restart mining", tc.req)
		}
	}
}

func TestConnectionLimit(t *testing.T) {
	s := newServer(t, newFixture(), "")
	s.maxConns = 2
	addr := startServer(t, s)
	var idle []net.Conn
	for range s.maxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	if out := rawQuery(t, addr, "summary"); len(out) != 0 {
		t.Errorf("connection over the limit got %q, want to be closed", out)
	}
	for _, c := range idle {
		c.Close()
	}
	// The slots free once the server sees the idle clients go.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if out := rawQuery(t, addr, "version"); len(out) > 0 {
			break
		}
		if time.Now().After(deadline) || i > 1000 {
			t.Fatal("server did not serve again after the idle connections closed")
		}
	}
}

// panicky is a backend whose Summary panics.
type panicky struct{ *fakeBackend }

func (panicky) Summary() webui.Summary { panic("summary exploded") }

func TestBackendPanicCostsOneRequest(t *testing.T) {
	addr := startServer(t, newServer(t, panicky{newFixture()}, ""))
	if out := rawQuery(t, addr, "summary"); len(out) != 0 {
		t.Errorf("panicking request answered %q, want a closed connection", out)
	}
	wantStatus(t, query(t, addr, `{"command":"pools"}`), "S", codePools)
}

func TestServeReportsListenerFailure(t *testing.T) {
	s := newServer(t, newFixture(), "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	ln.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve = %v, want a closed listener error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return when its listener closed")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a backend succeeded")
	}
	_, err := New(Config{Backend: newFixture(), Allow: "W:127.0.0.1,A:10.0.0.0/8"})
	if err == nil || !strings.Contains(err.Error(), `"A:10.0.0.0/8"`) {
		t.Errorf("New with a group entry: err = %v, want one naming the entry", err)
	}
}

// TestReadRequest feeds readRequest through a synchronous pipe, so each
// write arrives as its own read.
func TestReadRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"text, one read", []string{"summary"}, "summary"},
		{"text ends at newline", []string{"pools\r\nmore"}, "pools\r"},
		{"NUL ends a request", []string{"devs\x00junk"}, "devs"},
		{"JSON in pieces", []string{`{"command":`, `"summary"}`}, `{"command":"summary"}`},
		{"JSON across lines", []string{"{\n\"command\":\n", "\"pools\"\n}\n"}, "{\n\"command\":\n\"pools\"\n}\n"},
		{"JSON then NUL", []string{"{\"command\"\x00"}, `{"command"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, newFixture(), "")
			client, server := net.Pipe()
			defer client.Close()
			defer server.Close()
			go func() {
				for _, w := range tc.writes {
					if _, err := client.Write([]byte(w)); err != nil {
						return
					}
				}
			}()
			got, err := s.readRequest(server)
			if err != nil || string(got) != tc.want {
				t.Errorf("readRequest = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("silent client times out", func(t *testing.T) {
		s := newServer(t, newFixture(), "")
		s.readTimeout = 20 * time.Millisecond
		client, server := net.Pipe()
		defer client.Close()
		defer server.Close()
		got, err := s.readRequest(server)
		var ne net.Error
		if len(got) != 0 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("readRequest = %q, %v; want nothing and a timeout", got, err)
		}
	})
}
