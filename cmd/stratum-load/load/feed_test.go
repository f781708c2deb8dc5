package load

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/stratumproxy"
)

// feedStream is what a connection reads after its handshake: a difficulty,
// the job it joins on, a broadcast job, a ping (answered into a closed
// pipe) and the same job again.
var feedStream = `{"id":null,"method":"mining.set_difficulty","params":[2]}` + "\n" +
	notifyLine("j1", true) + notifyLine("j2", false) +
	`{"id":9,"method":"mining.ping","params":[]}` + "\r\n" +
	notifyLine("j2", false)

// notifyLine is a mining.notify line for job id.
func notifyLine(id string, clean bool) string {
	return fmt.Sprintf(`{"id":null,"method":"mining.notify","params":["%s","%s","01","02",[],"20000000","1d00ffff","66255d00",%v]}`+"\n",
		id, zeros(64), clean)
}

// feedConn is a connection with nothing behind it, for driving feed.
func feedConn(t testing.TB) *conn {
	a, b := net.Pipe()
	b.Close()
	t.Cleanup(func() { a.Close() })
	r := &runner{tally: tally{sentBy: map[string]uint64{}, byKind: map[string]map[string]uint64{}}}
	return newConn(r, a, time.Now())
}

// TestFeedSplitsLines feeds the stream cut at every byte: each cut gives
// the same lines, and nothing is left over at the end.
func TestFeedSplitsLines(t *testing.T) {
	data := []byte(feedStream)
	for cut := range len(data) + 1 {
		c := feedConn(t)
		now := time.Now()
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			if err := c.feed(part, now); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		if n := c.r.tally.notifies.Load(); n != 3 || len(c.arrivals) != 1 || c.arrivals[0].job != "j2" ||
			c.joined.IsZero() || len(c.carry) != 0 || c.r.tally.malformed.Load() != 0 {
			t.Fatalf("cut %d: notifies %d arrivals %v carry %q malformed %d", cut, n, c.arrivals, c.carry,
				c.r.tally.malformed.Load())
		}
	}
}

func TestFeedLineTooLong(t *testing.T) {
	long := []byte(strings.Repeat("x", stratumproxy.MaxLineClient+1))
	tests := []struct {
		name   string
		chunks [][]byte
	}{
		{"one read, no newline", [][]byte{long}},
		{"one read, newline", [][]byte{append(append([]byte{}, long...), '\n')}},
		{"carried over reads", [][]byte{long[:100], long[100:]}},
		{"carried, newline in the last read", [][]byte{long[:100], append(append([]byte{}, long[100:]...), '\n')}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := feedConn(t)
			var err error
			for _, ch := range tc.chunks {
				if err = c.feed(ch, time.Now()); err != nil {
					break
				}
			}
			if !errors.Is(err, errLineTooLong) {
				t.Errorf("feed = %v, want errLineTooLong", err)
			}
		})
	}
	c := feedConn(t)
	if err := c.feed(long[:stratumproxy.MaxLineClient-1], time.Now()); err != nil {
		t.Errorf("a partial line under the limit: %v", err)
	}
}

// FuzzFeed cuts arbitrary server bytes at an arbitrary point: nothing
// panics, and the cut changes neither the lines handled nor the error.
func FuzzFeed(f *testing.F) {
	f.Add([]byte(feedStream), uint16(10))
	f.Add([]byte(notifyLine("a", true)+"partial"), uint16(3))
	f.Add([]byte("\n\n\r\nnot json\n"), uint16(1))
	f.Add([]byte(`{"id":null,"method":"mining.notify","params":["a\"b"]}`+"\n"), uint16(40))
	f.Fuzz(func(t *testing.T, data []byte, at uint16) {
		cut := int(at) % (len(data) + 1)
		whole, split := feedConn(t), feedConn(t)
		now := time.Now()
		errWhole := whole.feed(data, now)
		errSplit := split.feed(data[:cut], now)
		if errSplit == nil {
			errSplit = split.feed(data[cut:], now)
		}
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("whole: %v, split at %d: %v", errWhole, cut, errSplit)
		}
		if errWhole != nil {
			return
		}
		w, s := &whole.r.tally, &split.r.tally
		if w.notifies.Load() != s.notifies.Load() || w.malformed.Load() != s.malformed.Load() ||
			string(whole.carry) != string(split.carry) {
			t.Fatalf("split at %d: notifies %d/%d malformed %d/%d carry %q/%q", cut,
				w.notifies.Load(), s.notifies.Load(), w.malformed.Load(), s.malformed.Load(), whole.carry, split.carry)
		}
	})
}
