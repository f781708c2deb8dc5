package stratumproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"runtime"
	"slices"
	"testing"
	"time"
)

// pxBenchConns is the fan-out benchmark's connection count: both ends live
// in this process, so 2000 connections are 4000 descriptors.
const pxBenchConns = 2000

// pxDialIdle opens n downstream connections that subscribe and authorize;
// each then reports the arrival time of every notify on arrivals (when not
// nil) and otherwise reads nothing.
func pxDialIdle(tb testing.TB, addr string, n int, arrivals chan<- time.Time) []net.Conn {
	tb.Helper()
	hello := []byte(`{"id":1,"method":"mining.subscribe","params":["bench/1"]}` + "\n" +
		`{"id":2,"method":"mining.authorize","params":["w","x"]}` + "\n")
	conns := make([]net.Conn, 0, n)
	for range n {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write(hello); err != nil {
			tb.Fatal(err)
		}
		if arrivals != nil {
			go func() {
				r := bufio.NewReaderSize(nc, 8192)
				for {
					line, err := r.ReadSlice('\n')
					if err != nil {
						return
					}
					if bytes.Contains(line, []byte(`"method":"mining.notify"`)) { // not the subscribe reply, which names the method too
						arrivals <- time.Now()
					}
				}
			}()
		}
	}
	return conns
}

func pxCloseAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// BenchmarkProxyFanout measures the time from SetUpstreamJob until every
// one of pxBenchConns loopback miners has read the notify line.
func BenchmarkProxyFanout(b *testing.B) {
	cfg := pxConfig()
	cfg.MaxConnsPerIP = pxBenchConns + 10
	p, addr := pxStartB(b, cfg)
	src := NewDemoSource()
	p.SetUpstreamJob(pxUpJob(b, src, true, 8))
	arrivals := make(chan time.Time, pxBenchConns)
	conns := pxDialIdle(b, addr, pxBenchConns, arrivals)
	defer pxCloseAll(conns)
	for range pxBenchConns { // the first job, after each handshake
		<-arrivals
	}
	var lat []float64
	b.ResetTimer()
	for b.Loop() {
		job := pxUpJob(b, src, false, 8)
		t0 := time.Now()
		p.SetUpstreamJob(job)
		for range pxBenchConns {
			lat = append(lat, float64((<-arrivals).Sub(t0))/1e6)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
}

// BenchmarkProxySubmit measures share validation through a connection's
// own line handling (parse, checks, rebuild the header, SHA-256d, verdict,
// reply) on one goroutine.
func BenchmarkProxySubmit(b *testing.B) {
	d := math.Exp2(-31) // about half the hashes meet it
	p, err := NewProxy(ProxyConfig{Passthrough: true, StartDifficulty: d, MinDifficulty: d,
		SubmitRate: -1, GlobalSubmitRate: -1, RetargetInterval: time.Hour, RetargetShares: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	up := pxUpJob(b, NewDemoSource(), true, 8)
	p.SetUpstreamJob(up)
	c := newSrvConn(p.srv, nil, 1, 1<<16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range c.out {
		}
	}()
	c.handleLine([]byte(`{"id":1,"method":"mining.subscribe","params":["b"]}`))
	c.handleLine([]byte(`{"id":2,"method":"mining.authorize","params":["w","x"]}`))
	job := p.srv.book.current().job.ID
	var line []byte
	i := uint32(0)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		i++
		line = fmt.Appendf(line[:0], `{"id":%d,"method":"mining.submit","params":["w","%s","%04x","%08x","%08x"]}`,
			i, job, i>>16, up.NTime, i)
		if !c.handleLine(line) {
			b.Fatal("connection closed")
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "submits/s")
	close(c.out)
	<-done
}

// TestProxyConnMemory opens idle, authorized loopback connections and
// checks the heap they cost (both ends: this process holds them all).
func TestProxyConnMemory(t *testing.T) {
	srvLeakCheck(t)
	const n = 1000
	cfg := pxConfig()
	cfg.MaxConnsPerIP = n + 10
	p, addr := pxStart(t, cfg)
	p.SetUpstreamJob(pxUpJob(t, NewDemoSource(), true, 8))
	heap, stack := pxMeasureConns(t, p, addr, n)
	t.Logf("per connection: heap %.0f B, goroutine stacks %.0f B", heap, stack)
	if heap > 64<<10 {
		t.Errorf("heap per connection %.0f B, want < 64 KiB", heap)
	}
}

// pxMeasureConns returns the heap and stack bytes per connection of n
// idle miners, both ends included.
func pxMeasureConns(tb testing.TB, p *Proxy, addr string, n int) (heap, stack float64) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := pxDialIdle(tb, addr, n, nil)
	defer pxCloseAll(conns)
	deadline := time.Now().Add(10 * time.Second)
	for pxActive(p) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d connections active", pxActive(p), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	stack = float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	return heap, stack
}

func pxActive(p *Proxy) int {
	k := 0
	for _, c := range p.srv.snapshot() {
		c.mu.Lock()
		if c.active {
			k++
		}
		c.mu.Unlock()
	}
	return k
}

// BenchmarkProxyConnMemory reports the heap and stack bytes of
// pxBenchConns idle connections.
func BenchmarkProxyConnMemory(b *testing.B) {
	cfg := pxConfig()
	cfg.MaxConnsPerIP = pxBenchConns + 10
	p, addr := pxStartB(b, cfg)
	p.SetUpstreamJob(pxUpJob(b, NewDemoSource(), true, 8))
	var heap, stack float64
	for b.Loop() {
		heap, stack = pxMeasureConns(b, p, addr, pxBenchConns)
		for pxActive(p) > 0 { // bounded by the connections closing
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(heap, "heap-B/conn")
	b.ReportMetric(stack, "stack-B/conn")
}
