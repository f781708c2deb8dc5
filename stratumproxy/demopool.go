package stratumproxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	"github.com/kilnfw/kiln/mining"
)

// DemoTag is the pool tag in the demo coinbase's scriptSig.
const DemoTag = "/kiln-demo/"

// Demo template constants: a block version with BIP 9 signalling and no
// rolled bits, the 3.125 BTC subsidy, and a starting height past BIP 34.
const (
	demoVersion     = 0x20000000
	demoValue       = 312_500_000
	demoStartHeight = 900_000
	demoBranches    = 3
)

// demoPayScript is a P2WPKH output script to a dummy key hash.
var demoPayScript = append([]byte{0x00, 0x14}, demoBytes(0x4b, 20)...)

func demoBytes(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// DemoSource is the demo pool's JobSource: synthetic but well-formed jobs.
// Every block has a random prevhash and the next height; every job has a
// coinbase with a BIP 34 height push, the extranonce slot and the tag
// DemoTag in one scriptSig push, one P2WPKH output, and a merkle branch of
// pseudo transaction hashes. It is safe for concurrent use.
type DemoSource struct {
	mu      sync.Mutex
	started bool
	height  uint32
	nbits   uint32
	prev    [32]byte
	jobs    uint64
}

// NewDemoSource returns a SHA256d demo template that starts a new block on
// its first job.
func NewDemoSource() *DemoSource { return NewDemoSourceFor(mining.SHA256d) }

// NewDemoSourceFor returns a demo template for algo: its nbits is that
// algorithm's difficulty 1, so a CPU finds a "block" now and then either
// way.
func NewDemoSourceFor(algo mining.Algorithm) *DemoSource {
	return &DemoSource{height: demoStartHeight, nbits: mining.NBitsFromTarget(algo.Diff1Target())}
}

// Job builds the next demo job; ntime is req.Now.
func (d *DemoSource) Job(req JobRequest) (Notify, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	clean := req.NewBlock || !d.started
	if clean {
		var prev [32]byte
		if _, err := rand.Read(prev[:28]); err != nil {
			return Notify{}, fmt.Errorf("demo pool: prevhash: %w", err)
		}
		// The last internal bytes are the leading zeros of a real hash.
		d.prev, d.started = prev, true
		d.height++
	}
	d.jobs++
	cb1, cb2, err := demoCoinbase(d.height, req.ExtranonceSize)
	if err != nil {
		return Notify{}, err
	}
	return Notify{
		JobID:    fmt.Sprintf("%d.%d", d.height, d.jobs),
		PrevHash: d.prev,
		Coinb1:   cb1,
		Coinb2:   cb2,
		Branches: demoMerkleBranch(d.height, d.jobs),
		Version:  demoVersion,
		NBits:    d.nbits,
		NTime:    uint32(req.Now.Unix()),
		Clean:    clean,
	}, nil
}

// demoCoinbase builds coinb1 and coinb2 around an extranonce slot of
// enSize bytes. The scriptSig is: height push, then one push of
// extranonce1 ‖ extranonce2 ‖ tag, so coinb1 ends with that push's length
// byte and coinb2 starts with the tag.
func demoCoinbase(height uint32, enSize int) (cb1, cb2 []byte, err error) {
	hp := demoScriptNumPush(int64(height))
	push := enSize + len(DemoTag)
	scriptLen := len(hp) + 1 + push
	if enSize < 1 || push > 75 || scriptLen > 100 {
		return nil, nil, fmt.Errorf("demo pool: extranonce size %d does not fit a coinbase", enSize)
	}
	cb1 = binary.LittleEndian.AppendUint32(nil, 2) // tx version
	cb1 = append(cb1, 1)                           // one input
	cb1 = append(cb1, make([]byte, 32)...)         // null outpoint: hash
	cb1 = append(cb1, 0xff, 0xff, 0xff, 0xff)      // and index
	cb1 = append(cb1, byte(scriptLen))
	cb1 = append(cb1, hp...)
	cb1 = append(cb1, byte(push))

	cb2 = append(cb2, DemoTag...)
	cb2 = append(cb2, 0xff, 0xff, 0xff, 0xff) // sequence
	cb2 = append(cb2, 1)                      // one output
	cb2 = binary.LittleEndian.AppendUint64(cb2, demoValue)
	cb2 = append(cb2, byte(len(demoPayScript)))
	cb2 = append(cb2, demoPayScript...)
	cb2 = binary.LittleEndian.AppendUint32(cb2, 0) // lock time
	return cb1, cb2, nil
}

// demoScriptNumPush returns the minimal script push of n as a script number
// (BIP 34's height encoding): little-endian, with a sign byte when the top
// bit is set.
func demoScriptNumPush(n int64) []byte {
	var num []byte
	for v := n; v > 0; v >>= 8 {
		num = append(num, byte(v))
	}
	if len(num) > 0 && num[len(num)-1]&0x80 != 0 {
		num = append(num, 0)
	}
	return append([]byte{byte(len(num))}, num...)
}

// demoMerkleBranch returns pseudo transaction hashes for one job.
func demoMerkleBranch(height uint32, job uint64) [][32]byte {
	out := make([][32]byte, demoBranches)
	for i := range out {
		out[i] = mining.Sha256d(fmt.Appendf(nil, "kiln demo tx %d/%d/%d", height, job, i))
	}
	return out
}

// DemoPool is a Server running on a loopback port, what the controller
// mines to when no pool is configured.
type DemoPool struct {
	// Server is the running server (for Stats and NewBlock).
	Server *Server
	// URL is the pool's address as stratum+tcp://127.0.0.1:PORT; any
	// non-empty user is authorized unless cfg.Authorize says otherwise.
	URL string

	done chan struct{}
	err  error
}

// StartDemoPool starts a server with cfg (zero values: the demo template at
// DemoDifficulty) on 127.0.0.1 at a random port. It runs until ctx ends;
// Wait returns then.
func StartDemoPool(ctx context.Context, cfg ServerConfig) (*DemoPool, error) {
	s, err := NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo pool: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo pool: listen: %w", err)
	}
	p := &DemoPool{Server: s, URL: "stratum+tcp://" + ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = s.Serve(ctx, ln)
	}()
	return p, nil
}

// Wait blocks until the pool has stopped and returns Serve's error.
func (p *DemoPool) Wait() error {
	<-p.done
	return p.err
}
