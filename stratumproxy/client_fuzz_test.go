package stratumproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/kilnfw/kiln/mining"
)

// FuzzClientLine feeds arbitrary pool lines to a connection's message
// handling: it must never panic, and whatever it accepts must leave the
// session state usable.
func FuzzClientLine(f *testing.F) {
	for _, s := range []string{
		cliNotifyB1,
		cliNotify("x", false),
		`{"id":null,"method":"mining.set_difficulty","params":[0.0009765625]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[1e308]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["aabbccdd",2]}`,
		`{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}`,
		`{"id":null,"method":"client.reconnect","params":["pool.example.com","3333",5]}`,
		`{"id":"v","method":"client.get_version","params":[]}`,
		`{"id":3,"method":"mining.ping","params":[]}`,
		`{"id":4,"method":"whatever","params":[1,{"a":[]}]}`,
		`{"id":null,"method":"client.show_message","params":["hello"]}`,
		`{"id":1,"result":true,"error":null}`,
		`{"id":"1","result":false,"error":[23,"low",null]}`,
		`{"id":1,"result":null,"error":{"code":22,"message":"dup"}}`,
		`{"id":1,"result":false,"error":null,"reject-reason":"Above target"}`,
		`{"id":2,"result":true,"error":null}`,
		`{"id":null,"method":"mining.notify","params":{"a":1}}`,
		`[1,2,3]`, `{"id":`, ``, "\r", `null`,
	} {
		f.Add([]byte(s))
	}
	c, err := NewClient(ClientConfig{URL: "stratum+tcp://w@pool.example.com:3333"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { _, _ = io.Copy(io.Discard, b) }()
		job := &mining.Job{ID: "j", Session: 1}
		cc := &clientConn{
			c: c, nc: a, session: 1, diff: 1, subscribed: true, authorized: true,
			en1: []byte{1, 2, 3, 4}, en2Size: 4, rolling: true, mask: VersionRollingMask,
			pending:  map[uint64]*clientPending{1: {share: &mining.Share{Job: job}, sent: time.Now()}},
			optional: map[uint64]string{2: MethodExtranonceSub},
		}
		ctx := context.Background()
		m, err := cc.handleLine(ctx, line)
		if err == nil && m != nil {
			cc.handleResponse(ctx, m)
		}
		if !(cc.diff > 0) || math.IsInf(cc.diff, 0) {
			t.Fatalf("difficulty %v after %q", cc.diff, line)
		}
		if cc.en2Size < 1 || cc.en2Size > MaxExtranonce2Size {
			t.Fatalf("extranonce2 size %d after %q", cc.en2Size, line)
		}
		if cc.mask&^VersionRollingMask != 0 {
			t.Fatalf("mask %08x outside ours after %q", cc.mask, line)
		}
		if cc.lastJob != nil {
			if _, err := mining.TargetFromDifficulty(cc.lastJob.Difficulty); err != nil {
				t.Fatalf("job with difficulty %v", cc.lastJob.Difficulty)
			}
		}
	})
}

// FuzzClientReadLine checks the bounded line reader on arbitrary streams:
// no line it returns exceeds the limit, and it never loops forever.
func FuzzClientReadLine(f *testing.F) {
	f.Add([]byte("{\"id\":1}\n{\"id\":2}\r\n"), 8)
	f.Add([]byte(strings.Repeat("x", 100)+"\n"), 16)
	f.Add([]byte("partial"), 64)
	f.Add([]byte("\n\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, limit int) {
		if limit < 1 || limit > 1<<16 {
			return
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for range len(data) + 1 {
			line, err := clientReadLine(r, limit)
			if err != nil {
				return
			}
			if len(clientTrimEOL(line)) > limit || line[len(line)-1] != '\n' {
				t.Fatalf("line %q exceeds %d or lacks its newline", line, limit)
			}
		}
		t.Fatal("reader did not finish")
	})
}

func TestClientReadLineErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		in   io.Reader
		want error
		text string
	}{
		{"clean close", strings.NewReader(""), io.EOF, "closed the connection"},
		{"close mid-line", strings.NewReader(`{"id"`), io.ErrUnexpectedEOF, "mid-line after 5 bytes"},
		{"reader fails at byte 5", io.MultiReader(strings.NewReader(`{"id"`), iotest.ErrReader(boom)), boom, "read"},
		{"too long with newline", strings.NewReader(strings.Repeat("x", 40) + "\n"), errClientLineTooLong, "more than 32"},
		{"too long without newline", strings.NewReader(strings.Repeat("x", 100)), errClientLineTooLong, "more than 32"},
	} {
		_, err := clientReadLine(bufio.NewReaderSize(tc.in, 16), 32)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %v mentioning %q", tc.name, err, tc.want, tc.text)
		}
	}
	line, err := clientReadLine(bufio.NewReaderSize(strings.NewReader(strings.Repeat("y", 32)+"\r\nnext"), 16), 32)
	if err != nil || len(line) != 34 {
		t.Errorf("a line of exactly the limit: %q, %v", line, err)
	}
}

func TestClientWriteFailure(t *testing.T) {
	c, err := NewClient(ClientConfig{URL: "h:1"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	b.Close()
	defer a.Close()
	cc := &clientConn{c: c, nc: a}
	if _, err := cc.request(MethodSubscribe, "x"); err == nil || !strings.Contains(err.Error(), "stratum: write") {
		t.Errorf("write to a closed peer: %v", err)
	}
}

func TestClientDifficultyParam(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{512, "512"}, {1, "1"}, {0.5, "0.5"}, {1e20, "100000000000000000000"}, {65536.25, "65536.25"}} {
		b, _ := json.Marshal(clientDifficultyParam(tc.in))
		if string(b) != tc.want {
			t.Errorf("%v encodes as %s, want %s", tc.in, b, tc.want)
		}
	}
}
