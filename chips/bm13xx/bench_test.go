package bm13xx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kilnfw/kiln/hal"
	"github.com/kilnfw/kiln/mining"
)

// memPort is an in-memory port: writes are timed and dropped (job frames
// signalled on jobs), reads block until Close.
type memPort struct {
	jobs   chan time.Time
	closed chan struct{}
	once   sync.Once
}

func newMemPort() *memPort {
	return &memPort{jobs: make(chan time.Time, 64), closed: make(chan struct{})}
}

func (p *memPort) Write(b []byte) (int, error) {
	if IsJob(b) {
		p.jobs <- time.Now()
	}
	return len(b), nil
}

func (p *memPort) Read([]byte) (int, error) {
	<-p.closed
	return 0, io.EOF
}

func (p *memPort) SetBaud(hal.Baud) error { return nil }
func (p *memPort) Drain() error           { return nil }
func (p *memPort) ResetInput() error      { return nil }
func (p *memPort) Close() error           { p.once.Do(func() { close(p.closed) }); return nil }

// BenchmarkCleanJobFanout measures, per clean job set on the dispatcher,
// the time until each of 3 chains of 126 BM1366 chips (already
// initialised) has written the new job frame to its port.
func BenchmarkCleanJobFanout(b *testing.B) {
	const chains, chips = 3, 126
	d := mining.NewDispatcher(nil, mining.UnitsRollVersion())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ports := make([]*memPort, chains)
	for i := range chains {
		c, err := NewChain(ChainConfig{
			Index: i, Model: BM1366, Work: d, Results: func(mining.Result) error { return nil },
			Open:        func() (Port, error) { return nil, errors.New("not used") },
			JobInterval: time.Hour, PollInterval: time.Hour,
		})
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = newMemPort()
		s := newSession(c, ports[i])
		wg.Go(func() { _, _ = s.run(ctx, Addresses(chips)) })
	}
	defer func() { cancel(); wg.Wait() }()
	collect := func() time.Time {
		var last time.Time
		for _, p := range ports {
			select {
			case t := <-p.jobs:
				if t.After(last) {
					last = t
				}
			case <-time.After(5 * time.Second):
				b.Fatal("a chain did not send the job")
			}
		}
		return last
	}
	d.SetJob(testJob("warm-up", 0x1fffe000, true))
	collect()
	jobs := make([]*mining.Job, b.N)
	for i := range jobs {
		jobs[i] = testJob(fmt.Sprint(i), 0x1fffe000, true)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		d.SetJob(jobs[i])
		lat = append(lat, collect().Sub(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// looper replays a byte slice forever.
type looper struct {
	data []byte
	off  int
}

func (l *looper) Read(p []byte) (int, error) {
	if l.off == len(l.data) {
		l.off = 0
	}
	n := copy(p, l.data[l.off:])
	l.off += n
	return n, nil
}

// nonceStream returns n distinct BM1366 nonce frames for job id 0x08 and
// the work they belong to.
func nonceStream(n int) ([]byte, *mining.Work) {
	w := mining.NewWork(testJob("bench", 0x1fffe000, true), 0)
	var buf bytes.Buffer
	for i := range n {
		nb := [4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		buf.Write(BM1366.EncodeNonce(0x08, i&7, nb, uint16(i&0xfff)).Encode())
	}
	return buf.Bytes(), w
}

// BenchmarkDecodeVerify measures the host's per-nonce cost on one core:
// response bytes → ResponseReader → DecodeNonce → mining.Validator.Check
// (SHA-256d of the rebuilt header, duplicate filter, hashrate).
func BenchmarkDecodeVerify(b *testing.B) {
	stream, w := nonceStream(1 << 14)
	rr := NewResponseReader(&looper{data: stream}, true)
	v := mining.NewValidator(mining.NewHashrate(time.Now()), nil)
	target := mining.TargetFromTop32(0xffffffff) // every nonce verifies
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r, err := rr.Next()
		if err != nil {
			b.Fatal(err)
		}
		n := BM1366.DecodeNonce(r)
		if _, err := v.Check(mining.Result{Work: w, Nonce: n.Value, Version: w.Version | n.VersionBits, Target: target}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "nonces/s")
}

// BenchmarkDriverNoncePath is the same through the driver's own handling
// (job lookup, its per-chip SHA-256d check and counters) with the
// validator as cfg.Results: what one nonce costs the driver's reader.
func BenchmarkDriverNoncePath(b *testing.B) {
	stream, w := nonceStream(1 << 14)
	v := mining.NewValidator(mining.NewHashrate(time.Now()), nil)
	c, err := NewChain(ChainConfig{
		Model: BM1366, Work: mining.NewDispatcher(nil), Difficulty: everyHash,
		Open:    func() (Port, error) { return nil, errors.New("not used") },
		Results: func(r mining.Result) error { _, err := v.Check(r); return err },
	})
	if err != nil {
		b.Fatal(err)
	}
	s := newSession(c, newMemPort())
	s.addrs = Addresses(126)
	c.installChips(s.addrs)
	s.jobs[0x08].Store(&jobEntry{works: []*mining.Work{w}})
	rr := NewResponseReader(&looper{data: stream}, true)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r, err := rr.Next()
		if err != nil {
			b.Fatal(err)
		}
		s.handleNonce(r, now)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "nonces/s")
	if st := v.Stats(); st.HWErrors != 0 {
		b.Fatalf("%d HW errors", st.HWErrors)
	}
}
