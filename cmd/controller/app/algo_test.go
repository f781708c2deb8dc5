package app

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kilnfw/kiln/store"
)

type algoPoolEntry struct {
	URL       string `json:"url"`
	Algo      string `json:"algo"`
	Status    string `json:"status"`
	Accepted  uint64 `json:"accepted"`
	LastError string `json:"last_error"`
	Demo      bool   `json:"demo"`
}

// TestMinesScryptToDemoPool: --algo scrypt on the CPU board with no pool
// starts the demo pool serving scrypt (difficulty sized for the CPU's
// scrypt rate) and mines to it over TCP; every share is accepted and every
// result verifies with scrypt on the host.
func TestMinesScryptToDemoPool(t *testing.T) {
	c := startController(t, "--board", "cpu", "--threads", "1", "--algo", "scrypt")
	waitFor(t, 60*time.Second, "3 accepted scrypt shares", func() bool { return c.summary(t).Accepted >= 3 })
	s := c.summary(t)
	if s.Rejected != 0 || s.HWErrors != 0 || s.Hashrate <= 0 {
		t.Errorf("summary = %+v, want no rejects, no hardware errors and a hash rate", s)
	}
	var pools []algoPoolEntry
	c.get(t, "/api/v1/pools", &pools)
	if len(pools) != 1 || !pools[0].Demo || pools[0].Algo != "scrypt" || pools[0].Status != "active" {
		t.Errorf("pools = %+v, want the scrypt demo pool active", pools)
	}
	if !strings.Contains(c.logs.String(), "algo=scrypt") {
		t.Errorf("log does not name the demo pool's algorithm:\n%s", c.logs.String())
	}
}

// TestAlgorithmMismatchRefused: hardware that cannot hash scrypt refuses a
// scrypt pool at start, through the REST API, and marks a saved one dead.
func TestAlgorithmMismatchRefused(t *testing.T) {
	const want = "algorithm scrypt not supported by board sim"
	for _, args := range [][]string{
		{"--board", "sim", "--algo", "scrypt", "--pool", "stratum+tcp://w:x@127.0.0.1:1"},
		{"--board", "sim", "--demo-algo", "scrypt"},
	} {
		args = append(args, "--data", t.TempDir(), "--http", "127.0.0.1:0", "--cgminer-api", "")
		err := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run(%q) = %v, want %q", args, err, want)
		}
	}
	if err := Run(context.Background(), []string{"--algo", "x11"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("--algo x11 accepted")
	}

	// A scrypt pool saved earlier (say, with the CPU board) is not mined
	// on the sim board: it shows dead with the reason.
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = st.ReplacePools(context.Background(), []store.Pool{
		{URL: "stratum+tcp://127.0.0.1:1", User: "w", Enabled: true, Algo: "scrypt"}})
	if cerr := st.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	c := startController(t, "--board", "sim", "--data", dir)
	var pools []algoPoolEntry
	c.get(t, "/api/v1/pools", &pools)
	if len(pools) != 2 || !pools[0].Demo || pools[1].Status != "dead" || pools[1].LastError != want ||
		pools[1].Algo != "scrypt" || pools[1].URL != "stratum+tcp://127.0.0.1:1" {
		t.Errorf("pools = %+v, want the demo pool and the scrypt pool dead with %q", pools, want)
	}

	code, body := c.send(t, "POST", "/api/v1/pools", `{"url":"stratum+tcp://127.0.0.1:2","user":"w","algo":"scrypt"}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), want) {
		t.Errorf("POST scrypt pool on sim: %d %s, want 400 naming %q", code, body, want)
	}
	code, body = c.send(t, "POST", "/api/v1/pools", `{"url":"stratum+tcp://127.0.0.1:2","user":"w","algo":"x11"}`)
	if code != http.StatusBadRequest {
		t.Errorf("POST x11 pool: %d %s, want 400", code, body)
	}
	code, body = c.send(t, "POST", "/api/v1/pools", `{"url":"stratum+tcp://127.0.0.1:2","user":"w"}`)
	if code != http.StatusCreated {
		t.Errorf("POST pool without algo: %d %s, want 201 (sha256d)", code, body)
	}
}
