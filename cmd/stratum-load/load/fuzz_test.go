package load

import (
	"net"
	"testing"
	"time"
)

// FuzzHandleLine feeds arbitrary server lines to a connection: nothing may
// panic, and whatever is accepted leaves the state usable for a share.
func FuzzHandleLine(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`,
		`{"id":2,"result":[[["mining.notify","01"]],"f000000f",4],"error":null}`,
		`{"id":3,"result":true,"error":null}`,
		`{"id":null,"method":"mining.set_difficulty","params":[0.5]}`,
		`{"id":null,"method":"mining.notify","params":["b1","` + zeros(64) + `","01","02",[],"20000000","1d00ffff","66255d00",true]}`,
		`{"id":7,"method":"mining.ping","params":[]}`,
		`{"id":4,"result":null,"error":[23,"low difficulty share",null]}`,
		`{"id":null,"method":"mining.set_extranonce","params":["aa",2]}`,
		`not json`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		a, b := net.Pipe()
		b.Close()
		defer a.Close()
		r := &runner{tally: tally{sentBy: map[string]uint64{}, byKind: map[string]map[string]uint64{}}}
		c := newConn(r, a, time.Now())
		for _, k := range []string{kindConfigure, kindSubscribe, kindAuthorize, kindValid} {
			c.request(k, func(uint64) []byte { return nil })
		}
		now := time.Now()
		c.handleLine([]byte(`{"id":2,"result":[[["mining.notify","01"]],"f000000f",4],"error":null}`), now)
		c.handleLine(line, now)
		if w := c.nextWork(); w != nil {
			w.missNonce(0)
		}
	})
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}
