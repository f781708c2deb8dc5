package bm13xx

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// event is one thing the driver did to its port.
type event struct {
	kind  string // "write", "drain", "baud", "reset-input", "close"
	frame []byte
	baud  hal.Baud
}

// pipePort is the host end of a net.Pipe with a recording of every call.
type pipePort struct {
	net.Conn
	mu     sync.Mutex
	events []event
	baud   hal.Baud
	// sentAt has the host rate at each Write (one frame per Write), so the
	// far end judges a frame by the rate it was sent at.
	sentAt chan hal.Baud
}

func (p *pipePort) record(e event) {
	p.mu.Lock()
	p.events = append(p.events, e)
	p.mu.Unlock()
}

func (p *pipePort) Write(b []byte) (int, error) {
	p.record(event{kind: "write", frame: bytes.Clone(b)})
	select {
	case p.sentAt <- p.hostBaud():
	default:
	}
	return p.Conn.Write(b)
}
func (p *pipePort) SetBaud(b hal.Baud) error {
	p.record(event{kind: "baud", baud: b})
	p.mu.Lock()
	p.baud = b
	p.mu.Unlock()
	return nil
}

// hostBaud returns the rate the host side is set to.
func (p *pipePort) hostBaud() hal.Baud {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.baud
}

// frameBaud returns the rate the next frame the far end reads was sent at.
func (p *pipePort) frameBaud() hal.Baud {
	select {
	case b := <-p.sentAt:
		return b
	default:
		return p.hostBaud()
	}
}
func (p *pipePort) Drain() error      { p.record(event{kind: "drain"}); return nil }
func (p *pipePort) ResetInput() error { p.record(event{kind: "reset-input"}); return nil }
func (p *pipePort) Close() error      { p.record(event{kind: "close"}); return p.Conn.Close() }

func (p *pipePort) recorded() []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]event(nil), p.events...)
}

// responder is a scripted chain on the far end of a pipe: it answers
// enumeration and addressed reads of register 0x00 like N chips, records
// the jobs it is sent, and sends the nonces a test gives it.
type responder struct {
	t     testing.TB
	m     Model
	chips int
	conn  net.Conn
	host  func() hal.Baud // the rate the frame being handled was sent at

	wmu    sync.Mutex
	mu     sync.Mutex
	st     *chipState
	silent bool
	jobs   chan Job
	done   chan struct{}
}

// chipState is what the scripted chips remember; it outlives a port when a
// test shares it across Opens, as real chips without a reset do.
type chipState struct {
	sync.Mutex
	addrs []byte
	long  bool
	baud  hal.Baud // the chips' line rate
}

func newChipState() *chipState { return &chipState{baud: 115741} }

func newResponder(t testing.TB, m Model, chips int, conn net.Conn, host func() hal.Baud, st *chipState) *responder {
	r := &responder{t: t, m: m, chips: chips, conn: conn, host: host, st: st, jobs: make(chan Job, 64), done: make(chan struct{})}
	go r.serve()
	return r
}

// inTune reports whether host and chips run at the same rate (within 5 %):
// otherwise the chips see garbage and the host hears nothing. Callers hold
// the chip state's lock.
func (r *responder) inTune() bool {
	h, c := float64(r.host()), float64(r.st.baud)
	return h > 0 && h > 0.95*c && h < 1.05*c
}

func (r *responder) serve() {
	defer close(r.done)
	hr := NewHostReader(r.conn, r.m)
	for {
		f, err := hr.Next()
		if err != nil {
			return
		}
		if IsJob(f) {
			r.host() // one rate per frame
			j, err := DecodeJob(r.m, f)
			if err != nil {
				r.t.Errorf("responder: %v", err)
				return
			}
			select {
			case r.jobs <- j:
			default:
			}
			continue
		}
		c, err := DecodeCommand(f)
		if err != nil {
			r.t.Errorf("responder: %v", err)
			return
		}
		if r.command(c) != nil {
			return
		}
	}
}

// command applies one command and writes the replies it calls for.
func (r *responder) command(c Command) error {
	r.mu.Lock()
	silent := r.silent
	r.mu.Unlock()
	st := r.st
	st.Lock()
	defer st.Unlock()
	var replies []Response
	if !r.inTune() {
		return nil
	}
	if b, ok := UARTBaud(r.m, c.Reg, c.Value); ok && c.Op == OpWrite {
		st.baud = b
	}
	switch {
	case c.Op == OpWrite && c.Reg == RegVersionRolling && r.m.HardwareRolling:
		st.long = c.Value&0x80000000 != 0
	case c.Op == OpChainInactive:
		st.addrs = nil
	case c.Op == OpSetAddress && len(st.addrs) < r.chips:
		st.addrs = append(st.addrs, c.Addr)
	case c.Op == OpRead && c.Reg == RegChipID && !silent:
		for i := range r.chips {
			addr := byte(0)
			if i < len(st.addrs) {
				addr = st.addrs[i]
			}
			if c.Broadcast || addr == c.Addr {
				id := uint32(r.m.ID)<<16 | uint32(r.m.CoreByte)<<8 | uint32(addr)
				replies = append(replies, RegisterReply(addr, RegChipID, id, st.long))
			}
		}
	}
	for _, rep := range replies {
		if err := r.send(rep); err != nil {
			return err
		}
	}
	return nil
}

func (r *responder) send(rep Response) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err := r.conn.Write(rep.Encode())
	return err
}

func (r *responder) setSilent(s bool) {
	r.mu.Lock()
	r.silent = s
	r.mu.Unlock()
}

// nextJob waits for the next job the driver sends.
func (r *responder) nextJob(t testing.TB) Job {
	t.Helper()
	select {
	case j := <-r.jobs:
		return j
	case <-time.After(5 * time.Second):
		t.Fatal("no job sent")
		return Job{}
	}
}

// rig is a driver chain wired to responders over pipes; every Open makes a
// new pipe and responder.
type rig struct {
	t       *testing.T
	chain   *Chain
	results chan mining.Result
	opened  chan *responder
	mu      sync.Mutex
	ports   []*pipePort
	cancel  context.CancelFunc
	done    chan error
}

func newRig(t *testing.T, cfg ChainConfig, chips int) *rig {
	t.Helper()
	return newRigShared(t, cfg, chips, nil)
}

// newRigShared is newRig with chips that keep their state (st) across
// Opens; nil gives fresh chips on every Open.
func newRigShared(t *testing.T, cfg ChainConfig, chips int, st *chipState) *rig {
	t.Helper()
	g := &rig{t: t, results: make(chan mining.Result, 1024), opened: make(chan *responder, 16)}
	cfg.Open = func() (Port, error) {
		host, far := net.Pipe()
		p := &pipePort{Conn: host, sentAt: make(chan hal.Baud, 1<<14)}
		g.mu.Lock()
		g.ports = append(g.ports, p)
		g.mu.Unlock()
		chipsNow := st
		if chipsNow == nil {
			chipsNow = newChipState()
		}
		g.opened <- newResponder(t, cfg.Model, chips, far, p.frameBaud, chipsNow)
		return p, nil
	}
	// The host's verdict, as the controller's Validator gives it.
	v := mining.NewValidator(nil, nil)
	cfg.Results = func(r mining.Result) error {
		g.results <- r
		_, err := v.Check(r)
		return err
	}
	cfg.RampStep = orDefault(cfg.RampStep, time.Millisecond)
	cfg.EnumerateWait = orDefault(cfg.EnumerateWait, 30*time.Millisecond)
	cfg.PollInterval = orDefault(cfg.PollInterval, time.Hour)
	cfg.JobInterval = orDefault(cfg.JobInterval, time.Hour)
	cfg.RetryBackoff = orDefault(cfg.RetryBackoff, 5*time.Millisecond)
	c, err := NewChain(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.chain = c
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan error, 1)
	go func() { g.done <- c.Run(ctx) }()
	t.Cleanup(g.stop)
	return g
}

// stop ends Run and closes every pipe.
func (g *rig) stop() {
	g.cancel()
	if err := <-g.done; err != nil {
		g.t.Errorf("Run: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.ports {
		p.Close()
	}
	for {
		select {
		case r := <-g.opened:
			r.conn.Close()
			<-r.done
		default:
			return
		}
	}
}

// responder returns the responder of the next Open.
func (g *rig) responder() *responder {
	g.t.Helper()
	select {
	case r := <-g.opened:
		g.t.Cleanup(func() { r.conn.Close(); <-r.done })
		return r
	case <-time.After(5 * time.Second):
		g.t.Fatal("port not opened")
		return nil
	}
}

func (g *rig) port(i int) *pipePort {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ports[i]
}

// waitState polls Status until the chain is in state (bounded).
func (g *rig) waitState(state string) ChainStatus {
	g.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st := g.chain.Status(); st.State == state {
			return st
		}
		time.Sleep(time.Millisecond)
	}
	g.t.Fatalf("chain never reached %q: %+v", state, g.chain.Status())
	return ChainStatus{}
}

// result waits for the next result.
func (g *rig) result() mining.Result {
	g.t.Helper()
	select {
	case r := <-g.results:
		return r
	case <-time.After(5 * time.Second):
		g.t.Fatal("no result")
		return mining.Result{}
	}
}

// testJob returns a pool job (the §11 block's fields, a synthetic
// coinbase) with the given mask and clean flag.
func testJob(id string, mask uint32, clean bool) *mining.Job {
	j := &mining.Job{
		ID:     id,
		Coinb1: []byte("coinbase-1-" + id), Coinb2: []byte("coinbase-2"),
		Version: 0x20000004, NBits: 0x1705ae3a, NTime: 0x647025b5, Clean: clean,
		Extranonce1: []byte{1, 0, 0, 0}, Extranonce2Size: 4, VersionMask: mask,
		Difficulty: 1e9, ShareTarget: mining.MustTarget(1e9), Received: time.Now(),
	}
	copy(j.PrevHash[:], "previous block hash, 32 bytes...")
	return j
}

// jobHeader rebuilds the header a BM1366+ chip hashes for a job frame.
func jobHeader(j Job, version uint32, nonce [4]byte) [80]byte {
	var h [80]byte
	binary.LittleEndian.PutUint32(h[0:], version)
	copy(h[4:36], j.PrevHash[:])
	copy(h[36:68], j.MerkleRoot[:])
	binary.LittleEndian.PutUint32(h[68:], j.NTime)
	binary.LittleEndian.PutUint32(h[72:], j.NBits)
	copy(h[76:], nonce[:])
	return h
}

// findNonce searches the slice of chip field `field` for a nonce of job j
// at version field vf whose hash meets target (want true) or misses it.
func findNonce(t testing.TB, m Model, j Job, field int, vf uint16, target mining.Target, want bool) [4]byte {
	t.Helper()
	for k := range uint32(1 << 12) {
		w3 := uint32(field)<<m.CounterBits | k
		nb := [4]byte{byte(w3 >> 24), byte(w3 >> 16), byte(w3 >> 8), byte(w3)}
		h := jobHeader(j, j.Version|uint32(vf)<<13, nb)
		hash := mining.Sha256d(h[:])
		if target.Meets(&hash) == want {
			return nb
		}
	}
	t.Fatal("no nonce found")
	return [4]byte{}
}

// everyHash is a chip difficulty whose target is the largest 256-bit
// value: every hash meets it.
const everyHash = 1.0 / (1 << 48)
