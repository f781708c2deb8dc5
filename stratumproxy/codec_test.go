package stratumproxy

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden lines from ../shared/docs/stratum-v1.md §8.
const (
	codecNotifyB      = `{"id":null,"method":"mining.notify","params":["b1","2728a05456b7a8d7165a2701c5a37902c1e48d760002a7c40000000000000000","02000000010000000000000000000000000000000000000000000000000000000000000000ffffffff1b0340d10c0d2f7374726174756d2d7265662f08","ffffffff02205fa0120000000016001411111111111111111111111111111111111111110000000000000000266a24aa21a9ed222222222222222222222222222222222222222222222222222222222222222200000000",["4ab8e84b32323522906c4bdc3c6923ad88a8da0168bcbd5eb9d3d3235f799684","c5a8bad06c730e237ea5b57219e709ae760c91d12f0129cdb8221ad8d1035150"],"20000000","17034219","66255d00",true]}`
	codecSubmitRolled = `{"id":9,"method":"mining.submit","params":["worker.1","b1","01000000","66255d00","0022ade0","02468000"]}`
	codecConfigureRes = `{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000"},"error":null}`
	codecSubscribeRes = `{"id":2,"result":[[["mining.notify","ae6812eb"]],"f000000f",4],"error":null}`
)

func TestCodecParseMessageKinds(t *testing.T) {
	cases := []struct {
		name           string
		line           string
		request, notif bool
		wantErr        bool
	}{
		{"notification", codecNotifyB, true, true, false},
		{"request", codecSubmitRolled, true, false, false},
		{"response", codecConfigureRes, false, false, false},
		{"crlf", codecConfigureRes + "\r", false, false, false},
		{"string id request", `{"id":"a","method":"mining.ping","params":[]}`, true, false, false},
		{"params not array", `{"id":1,"method":"mining.submit","params":{"a":1}}`, false, false, true},
		{"not json", `{"id":1,`, false, false, true},
		{"not an object", `[1,2,3]`, false, false, true},
		{"neither", `{"id":null}`, false, false, true},
		{"empty", ``, false, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseMessage([]byte(c.line))
			if c.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.IsRequest() != c.request || m.IsNotification() != c.notif {
				t.Errorf("request=%v notification=%v, want %v %v", m.IsRequest(), m.IsNotification(), c.request, c.notif)
			}
		})
	}
}

func TestCodecNotifyRoundTrip(t *testing.T) {
	m, err := ParseMessage([]byte(codecNotifyB))
	if err != nil {
		t.Fatal(err)
	}
	n, err := DecodeNotify(m)
	if err != nil {
		t.Fatal(err)
	}
	// Internal prevhash is the wire form with each 4-byte word reversed.
	if got, want := hex.EncodeToString(n.PrevHash[:]), "54a02827d7a8b75601275a160279a3c5768de4c1c4a702000000000000000000"; got != want {
		t.Errorf("prevhash = %s, want %s", got, want)
	}
	if n.JobID != "b1" || n.Version != 0x20000000 || n.NBits != 0x17034219 || n.NTime != 0x66255d00 || !n.Clean || len(n.Branches) != 2 {
		t.Errorf("notify = %+v", n)
	}
	again, err := ParseMessage(EncodeNotify(n))
	if err != nil {
		t.Fatal(err)
	}
	n2, err := DecodeNotify(again)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(n, n2); diff != "" {
		t.Errorf("re-encoded notify differs (-first +second):\n%s", diff)
	}
}

func TestCodecNotifyRejectsBadFields(t *testing.T) {
	var params []any
	m, _ := ParseMessage([]byte(codecNotifyB))
	if err := json.Unmarshal(m.Params, &params); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(p []any){
		"short prevhash":    func(p []any) { p[1] = "abcd" },
		"bad hex coinb1":    func(p []any) { p[2] = "zz" },
		"odd coinb2":        func(p []any) { p[3] = "abc" },
		"branch not string": func(p []any) { p[4] = []any{1} },
		"short branch":      func(p []any) { p[4] = []any{"00"} },
		"version 7 digits":  func(p []any) { p[5] = "2000000" },
		"nbits not hex":     func(p []any) { p[6] = "1703421g" },
		"ntime a number":    func(p []any) { p[7] = 123 },
		"clean not bool":    func(p []any) { p[8] = "yes" },
		"empty job id":      func(p []any) { p[0] = "" },
		"too few params":    func(p []any) {},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := append([]any(nil), params...)
			mutate(p)
			if name == "too few params" {
				p = p[:8]
			}
			line := Notification(MethodNotify, p...)
			m, err := ParseMessage(line)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeNotify(m); !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodeNotify = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestCodecSubmitRoundTrip(t *testing.T) {
	m, err := ParseMessage([]byte(codecSubmitRolled))
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSubmit(m)
	if err != nil {
		t.Fatal(err)
	}
	want := Submit{Worker: "worker.1", JobID: "b1", Extranonce2: []byte{1, 0, 0, 0}, NTime: 0x66255d00,
		Nonce: 0x0022ade0, VersionBits: 0x02468000, HasVersion: true}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("submit (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(string(EncodeSubmit(9, s))); got != codecSubmitRolled {
		t.Errorf("EncodeSubmit:\n got %s\nwant %s", got, codecSubmitRolled)
	}
	s.HasVersion = false
	if got := string(EncodeSubmit(8, s)); strings.Contains(got, "02468000") {
		t.Errorf("version bits sent without rolling: %s", got)
	}
}

func TestCodecSubscribeAndConfigure(t *testing.T) {
	cases := []struct {
		name   string
		result string
		want   Subscription
		bad    bool
	}{
		{"ckpool style", `[[["mining.notify","ae6812eb"]],"f000000f",4]`, Subscription{"ae6812eb", []byte{0xf0, 0, 0, 0x0f}, 4}, false},
		{"nomp style", `[[["mining.set_difficulty","1"],["mining.notify","2"]],"08000002",4]`, Subscription{"2", []byte{8, 0, 0, 2}, 4}, false},
		{"one bare pair", `[["mining.notify","s1"],"00",8]`, Subscription{"s1", []byte{0}, 8}, false},
		{"garbage subscriptions", `[42,"00",2]`, Subscription{"", []byte{0}, 2}, false},
		{"too short", `[[],"00"]`, Subscription{}, true},
		{"size zero", `[[],"00",0]`, Subscription{}, true},
		{"size huge", `[[],"00",64]`, Subscription{}, true},
		{"size fractional", `[[],"00",2.5]`, Subscription{}, true},
		{"en1 bad hex", `[[],"0g",4]`, Subscription{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSubscribe(json.RawMessage(c.result))
			if c.bad {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	m, _ := ParseMessage([]byte(codecConfigureRes))
	if mask, ok := DecodeConfigure(m.Result); !ok || mask != 0x1fffe000 {
		t.Errorf("configure = %08x %v", mask, ok)
	}
	for _, res := range []string{`{"version-rolling":false}`, `{"version-rolling":"error text"}`, `null`, `{"version-rolling":true,"version-rolling.mask":"00000000"}`} {
		if _, ok := DecodeConfigure(json.RawMessage(res)); ok {
			t.Errorf("DecodeConfigure(%s) granted rolling", res)
		}
	}
}

func TestCodecReplyShapes(t *testing.T) {
	cases := []struct {
		line   string
		ok     bool
		kind   error
		reason string
	}{
		{`{"id":6,"result":true,"error":null}`, true, nil, ""},
		{`{"id":6,"result":null,"error":[21,"Job not found",null]}`, false, ErrStale, "Job not found"},
		{`{"id":6,"result":false,"error":[23,"Low difficulty share",""]}`, false, ErrLowDifficulty, "Low difficulty share"},
		{`{"id":12,"result":false,"error":null,"reject-reason":"Above target"}`, false, ErrLowDifficulty, "Above target"},
		{`{"id":12,"result":false,"error":null,"reject-reason":"Stale"}`, false, ErrStale, "Stale"},
		{`{"id":13,"result":false,"error":"Stale"}`, false, ErrStale, "Stale"},
		{`{"id":14,"result":null,"error":{"code":22,"message":"duplicate share"}}`, false, ErrDuplicate, "duplicate share"},
		{`{"id":15,"result":false,"error":null,"reject-reason":"Invalid version mask"}`, false, ErrOther, "Invalid version mask"},
		{`{"id":16,"result":null,"error":null}`, false, ErrOther, "empty result"},
	}
	for _, c := range cases {
		m, err := ParseMessage([]byte(c.line))
		if err != nil {
			t.Fatal(err)
		}
		r := DecodeReply(m)
		if r.OK != c.ok {
			t.Errorf("%s: OK = %v", c.line, r.OK)
			continue
		}
		if c.ok {
			continue
		}
		rej := ClassifyReject(r.Code, r.Reason)
		if !errors.Is(rej, c.kind) || rej.Message != c.reason {
			t.Errorf("%s: classified %v (%q), want %v (%q)", c.line, rej.Kind, rej.Message, c.kind, c.reason)
		}
	}
	if Code(Reject(ErrDuplicate, "x")) != 22 || ReasonOf(Reject(ErrStale, "")) != "stale" || Code(errors.New("x")) != 20 {
		t.Error("code/reason mapping broken")
	}
}

func TestCodecReconnectAndMisc(t *testing.T) {
	cases := []struct {
		line string
		want Reconnect
		bad  bool
	}{
		{`{"id":null,"method":"client.reconnect","params":[]}`, Reconnect{}, false},
		{`{"id":null,"method":"client.reconnect","params":["pool.example.com","3334",5]}`, Reconnect{"pool.example.com", "3334", 5}, false},
		{`{"id":null,"method":"client.reconnect","params":["pool.example.com",3334,0]}`, Reconnect{"pool.example.com", "3334", 0}, false},
		{`{"id":null,"method":"client.reconnect","params":["h","x",0]}`, Reconnect{}, true},
	}
	for _, c := range cases {
		m, _ := ParseMessage([]byte(c.line))
		got, err := DecodeReconnect(m)
		if c.bad != (err != nil) {
			t.Errorf("%s: err = %v", c.line, err)
			continue
		}
		if !c.bad && got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.line, got, c.want)
		}
	}
	for _, line := range []string{
		`{"id":null,"method":"mining.set_difficulty","params":[0]}`,
		`{"id":null,"method":"mining.set_difficulty","params":["8"]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[]}`,
		`{"id":null,"method":"mining.set_difficulty","params":[-2]}`,
	} {
		m, _ := ParseMessage([]byte(line))
		if _, err := DecodeDifficulty(m); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", line, err)
		}
	}
	for line, want := range map[string]float64{`[1024]`: 1024, `[1024.0]`: 1024, `[0.5]`: 0.5} {
		m := &Message{Method: MethodSetDifficulty, Params: json.RawMessage(line)}
		if d, err := DecodeDifficulty(m); err != nil || d != want {
			t.Errorf("difficulty %s = %v, %v", line, d, err)
		}
	}
	m := &Message{Method: MethodSetExtranonce, Params: json.RawMessage(`["08000002",4]`)}
	if en1, size, err := DecodeSetExtranonce(m); err != nil || hex.EncodeToString(en1) != "08000002" || size != 4 {
		t.Errorf("set_extranonce = %x %d %v", en1, size, err)
	}
	m = &Message{Method: MethodSetVersionMask, Params: json.RawMessage(`["1fffe000"]`)}
	if mask, err := DecodeVersionMask(m); err != nil || mask != 0x1fffe000 {
		t.Errorf("set_version_mask = %08x %v", mask, err)
	}
}

// FuzzParseMessage feeds arbitrary lines through the parser and every typed
// decoder: none may panic, and every failure must be ErrMalformed.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{codecNotifyB, codecSubmitRolled, codecConfigureRes, codecSubscribeRes,
		`{"id":null,"method":"mining.set_difficulty","params":[0.0009765625]}`,
		`{"id":null,"method":"client.reconnect","params":["h",3333,2]}`,
		`{"id":14,"result":null,"error":{"code":22,"message":"duplicate share"}}`,
		`{"id":null,"method":"mining.set_extranonce","params":["08000002",4]}`,
		`{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"1fffe000"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseMessage(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("decoder error not ErrMalformed: %v", err)
			}
		}
		_, err = DecodeNotify(m)
		check(err)
		_, err = DecodeSubmit(m)
		check(err)
		_, err = DecodeDifficulty(m)
		check(err)
		_, err = DecodeReconnect(m)
		check(err)
		_, _, err = DecodeSetExtranonce(m)
		check(err)
		_, err = DecodeVersionMask(m)
		check(err)
		_, err = DecodeSubscribe(m.Result)
		check(err)
		DecodeConfigure(m.Result)
		r := DecodeReply(m)
		if !r.OK {
			ClassifyReject(r.Code, r.Reason)
		}
		StringParams(m)
	})
}
