package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// cgminerCall sends one cgminer API request over TCP and returns the reply
// without its trailing NUL.
func cgminerCall(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b, []byte{0}))
}

// send makes an authenticated REST call with a JSON body.
func (c *controller) send(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.SetBasicAuth("admin", testPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestControlThroughTheAPIs drives one running controller through the REST
// API, the cgminer API and /metrics: the same pools seen and changed from
// each side.
func TestControlThroughTheAPIs(t *testing.T) {
	addr := make(chan string, 1)
	cgminerListening = func(a string) { addr <- a }
	t.Cleanup(func() { cgminerListening = nil })
	first, second := startTestPool(t, ""), startTestPool(t, "")
	c := startController(t, "--board", "cpu", "--threads", "1", "--pool", first.url())
	cg := <-addr
	waitFor(t, 20*time.Second, "a share accepted", func() bool { return c.summary(t).Accepted > 0 })

	// cgminer summary reflects the same counters.
	var sum struct {
		Status  []map[string]any `json:"STATUS"`
		Summary []map[string]any `json:"SUMMARY"`
	}
	if err := json.Unmarshal([]byte(cgminerCall(t, cg, `{"command":"summary"}`)), &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Summary) != 1 || sum.Summary[0]["Accepted"].(float64) < 1 || sum.Status[0]["STATUS"] != "S" {
		t.Fatalf("cgminer summary: %+v", sum)
	}

	// addpool from loopback (privileged by default) shows in the REST list
	// and connects.
	reply := cgminerCall(t, cg, "addpool|stratum+tcp://"+second.addr+",rig2,x")
	if !strings.Contains(reply, "STATUS=S") {
		t.Fatalf("addpool: %s", reply)
	}
	waitFor(t, 20*time.Second, "the added pool on standby", func() bool {
		ps := c.pools(t)
		return len(ps) == 2 && ps[1].Status == "standby"
	})

	// REST: disable the first pool; mining moves to the second.
	code, body := c.send(t, "PUT", "/api/v1/pools/0", `{"url":"`+first.url()+`","user":"rig1","enabled":false}`)
	if code != http.StatusOK {
		t.Fatalf("edit pool: %d %s", code, body)
	}
	waitFor(t, 20*time.Second, "mining on the second pool", func() bool {
		return strings.Contains(c.summary(t).ActivePool, second.addr)
	})
	pools := cgminerCall(t, cg, "pools")
	if !strings.Contains(pools, "Status=Disabled") || !strings.Contains(pools, second.addr) {
		t.Errorf("cgminer pools after disabling pool 0: %s", pools)
	}

	// /metrics needs credentials and exports the hashrate.
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d", resp.StatusCode)
	}
	code, body = c.send(t, "GET", "/metrics", "")
	if code != http.StatusOK || !strings.Contains(string(body), "kiln_hashrate_hs") ||
		!strings.Contains(string(body), `kiln_shares_total{result="accepted"}`) {
		t.Errorf("/metrics: %d %.400s", code, body)
	}

	// The event log recorded the switch.
	var evs struct {
		Events []struct{ Kind, Message string } `json:"events"`
	}
	c.get(t, "/api/v1/events?limit=100", &evs)
	kinds := map[string]bool{}
	for _, e := range evs.Events {
		kinds[e.Kind] = true
	}
	if !kinds["started"] || !kinds["pool_switch"] || !kinds["pools_changed"] {
		t.Errorf("events: %+v", evs.Events)
	}
}
