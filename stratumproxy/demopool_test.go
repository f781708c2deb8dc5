package stratumproxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"
)

// srvParseCoinbase walks a legacy-serialized coinbase transaction and
// returns its scriptSig and the single output's script.
func srvParseCoinbase(t *testing.T, cb []byte) (scriptSig, outScript []byte, value uint64) {
	t.Helper()
	r := bytes.NewReader(cb)
	take := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("coinbase truncated: %x", cb)
		}
		return b
	}
	if v := binary.LittleEndian.Uint32(take(4)); v != 2 {
		t.Errorf("tx version %d", v)
	}
	if n := take(1)[0]; n != 1 {
		t.Fatalf("%d inputs", n)
	}
	prevout := take(36)
	if !bytes.Equal(prevout, append(make([]byte, 32), 0xff, 0xff, 0xff, 0xff)) {
		t.Errorf("outpoint %x is not null", prevout)
	}
	scriptSig = take(int(take(1)[0]))
	if seq := take(4); !bytes.Equal(seq, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("sequence %x", seq)
	}
	if n := take(1)[0]; n != 1 {
		t.Fatalf("%d outputs", n)
	}
	value = binary.LittleEndian.Uint64(take(8))
	outScript = take(int(take(1)[0]))
	if lt := take(4); !bytes.Equal(lt, []byte{0, 0, 0, 0}) {
		t.Errorf("lock time %x", lt)
	}
	if r.Len() != 0 {
		t.Errorf("%d trailing bytes", r.Len())
	}
	return scriptSig, outScript, value
}

func TestDemoSourceTemplate(t *testing.T) {
	d := NewDemoSource()
	now := time.Unix(1_700_000_000, 0)
	first, err := d.Job(JobRequest{Now: now, ExtranonceSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Clean || first.Version != 0x20000000 || first.NBits != 0x1d00ffff ||
		first.NTime != uint32(now.Unix()) || len(first.Branches) != demoBranches {
		t.Errorf("first job %+v", first)
	}
	en := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	cb := append(append(append([]byte{}, first.Coinb1...), en...), first.Coinb2...)
	sig, out, value := srvParseCoinbase(t, cb)
	// scriptSig: push of the height (BIP 34), then one push of the
	// extranonce slot and the tag.
	wantSig := append([]byte{0x03, 0xa1, 0xbb, 0x0d}, // 900001
		byte(len(en)+len(DemoTag)))
	wantSig = append(append(wantSig, en...), DemoTag...)
	if !bytes.Equal(sig, wantSig) {
		t.Errorf("scriptSig %x, want %x", sig, wantSig)
	}
	if len(out) != 22 || out[0] != 0 || out[1] != 20 || value != demoValue {
		t.Errorf("output %x value %d: want P2WPKH", out, value)
	}

	update, err := d.Job(JobRequest{Now: now.Add(time.Second), ExtranonceSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if update.Clean || update.PrevHash != first.PrevHash || update.JobID == first.JobID ||
		update.Branches[0] == first.Branches[0] {
		t.Errorf("update job %+v", update)
	}
	block, err := d.Job(JobRequest{Now: now, NewBlock: true, ExtranonceSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !block.Clean || block.PrevHash == first.PrevHash || !bytes.Contains(block.Coinb1, []byte{0x03, 0xa2, 0xbb, 0x0d}) {
		t.Errorf("new block job %+v", block)
	}
	if _, err := d.Job(JobRequest{Now: now, ExtranonceSize: 80}); err == nil {
		t.Error("an 80-byte extranonce slot fit the scriptSig")
	}
}

func TestDemoScriptNum(t *testing.T) {
	for n, want := range map[int64]string{
		1: "\x01\x01", 127: "\x01\x7f", 128: "\x02\x80\x00", 255: "\x02\xff\x00",
		256: "\x02\x00\x01", 840000: "\x03\x40\xd1\x0c", 8388608: "\x04\x00\x00\x80\x00",
	} {
		if got := string(demoScriptNumPush(n)); got != want {
			t.Errorf("push(%d) = %x, want %x", n, got, want)
		}
	}
}

// TestDemoPool runs the demo pool as the controller does and mines on it.
func TestDemoPool(t *testing.T) {
	srvLeakCheck(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := StartDemoPool(ctx, ServerConfig{Difficulty: srvTestDiff, JobInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := p.Wait(); err != nil {
			t.Errorf("demo pool: %v", err)
		}
	})
	addr, ok := strings.CutPrefix(p.URL, "stratum+tcp://127.0.0.1:")
	if !ok || addr == "" {
		t.Fatalf("URL %q", p.URL)
	}
	c := srvDial(t, "127.0.0.1:"+addr)
	_, job := c.handshake("kiln")
	// The coinbase is a complete transaction once the extranonces are in.
	en2 := []byte{0xaa, 0xbb, 0xcc, 0xdd}
	cb := append(append(append(append([]byte{}, job.Coinb1...), c.en1...), en2...), job.Coinb2...)
	srvParseCoinbase(t, cb)
	if now := uint32(time.Now().Unix()); job.NTime > now || job.NTime+60 < now {
		t.Errorf("ntime %d, now %d", job.NTime, now)
	}
	nonce := srvMine(t, job, c.en1, en2, job.Version, srvTestDiff, true)
	srvWantAccept(t, c.submit("kiln", job.JobID, en2, job.NTime, nonce))

	// The job timer sends updates of the same block.
	next := c.nextNotify()
	if next.Clean || next.PrevHash != job.PrevHash || next.JobID == job.JobID {
		t.Errorf("timer job %+v", next)
	}
	if st := p.Server.Stats(); st.Accepted != 1 || st.Workers["kiln"] != 1 {
		t.Errorf("stats %+v", st)
	}
}
