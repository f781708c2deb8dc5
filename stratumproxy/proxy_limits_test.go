package stratumproxy

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestProxyAbuseLimits(t *testing.T) {
	srvLeakCheck(t)
	log := &cliLog{}
	cfg := pxConfig()
	cfg.Log = log.logger()
	cfg.HandshakeTimeout = 300 * time.Millisecond
	cfg.SubmitRate, cfg.SubmitBurst, cfg.MaxRefusals = 50, 20, 10
	p, addr := pxStart(t, cfg)
	src := NewDemoSource()
	p.SetUpstreamJob(pxUpJob(t, src, true, 8))
	good := srvDial(t, addr)
	good.handshake("good")

	silent := srvDial(t, addr) // never handshakes
	long := srvDial(t, addr)
	long.send(`{"id":1,"method":"mining.subscribe","params":["` + strings.Repeat("a", 2*MaxLineServer) + `"]}`)
	long.expectClosed()

	flood := srvDial(t, addr)
	_, fn := flood.handshake("flood")
	var b bytes.Buffer
	for i := range 200 {
		b.Write(Request(uint64(1000+i), MethodSubmit, "flood", fn.JobID, "0000", Hex32(fn.NTime), Hex32(uint32(i))))
	}
	flood.send(strings.TrimSuffix(b.String(), "\n"))
	lines := flood.expectClosed()
	if !strings.Contains(strings.Join(lines, ""), "too many submits") {
		t.Errorf("flood got no rate-limit replies: %d lines", len(lines))
	}
	silent.expectClosed()

	p.SetUpstreamJob(pxUpJob(t, src, false, 8))
	n := good.nextNotify()
	en2 := []byte{3, 3}
	nonce := pxMine(t, n, good.en1, en2, n.Version, pxDownDiff, 0)
	srvWantAccept(t, good.submit("good", n.JobID, en2, n.NTime, nonce))
	pxWait(t, "the logs", func() bool {
		return pxLogHas(log, "line too long", "submit flood", "handshake timeout")
	})
	if st := p.Stats(); st.Rejected["rate_limited"] == 0 || st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestProxyAuthorization(t *testing.T) {
	srvLeakCheck(t)
	cfg := pxConfig()
	cfg.Passthrough = false
	cfg.Workers = map[string]string{"alice": "s3cret"}
	p, addr := pxStart(t, cfg)
	p.SetUpstreamJob(pxUpJob(t, NewDemoSource(), true, 8))
	mc := srvDial(t, addr)
	mc.call(MethodSubscribe, "t/1")
	for _, tc := range []struct {
		user, pass string
		want       string
	}{{"alice", "wrong", "false"}, {"mallory", "s3cret", "false"}, {"alice", "s3cret", "true"}} {
		if r := DecodeReply(mc.call(MethodAuthorize, tc.user, tc.pass)); string(r.Result) != tc.want {
			t.Errorf("authorize %s/%s = %s, want %s", tc.user, tc.pass, r.Result, tc.want)
		}
	}
	if _, err := NewProxy(ProxyConfig{}); err == nil {
		t.Error("a proxy with neither workers nor passthrough was built")
	}
	pt, _ := NewProxy(ProxyConfig{Passthrough: true})
	if !pt.authorize("anyone", "") || pt.authorize("", "x") {
		t.Error("passthrough authorization")
	}
}

func TestProxyAllowNetsAndPerIP(t *testing.T) {
	srvLeakCheck(t)
	log := &cliLog{}
	cfg := pxConfig()
	cfg.Log = log.logger()
	cfg.AllowNets = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	_, addr := pxStart(t, cfg)
	srvDial(t, addr).expectClosed()
	pxWait(t, "the refusal to be logged", func() bool { return pxLogHas(log, "address not allowed") })

	cfg = pxConfig()
	cfg.MaxConnsPerIP = 2
	cfg.AllowNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	p, addr := pxStart(t, cfg)
	p.SetUpstreamJob(pxUpJob(t, NewDemoSource(), true, 8))
	a, b := srvDial(t, addr), srvDial(t, addr)
	a.handshake("a")
	b.handshake("b")
	srvDial(t, addr).expectClosed()
	_ = a.nc.Close()
	pxWait(t, "a slot to free", func() bool { return p.Stats().Connections == 1 })
	srvDial(t, addr).handshake("c")
}
