package pty

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// TestOpenRawPassesBytesUnchanged: every byte value crosses both ways as is
// (no CR/LF translation, no Ctrl-C, no echo), as on a UART.
func TestOpenRawPassesBytesUnchanged(t *testing.T) {
	master, slave, err := OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, dir := range []struct {
		name     string
		from, to interface {
			io.Writer
			io.Reader
		}
	}{{"master to slave", master, slave}, {"slave to master", slave, master}} {
		if _, err := dir.from.Write(all); err != nil {
			t.Fatalf("%s: write: %v", dir.name, err)
		}
		got := make([]byte, 0, len(all))
		buf := make([]byte, 512)
		deadline := time.Now().Add(5 * time.Second)
		for len(got) < len(all) && time.Now().Before(deadline) {
			n, err := dir.to.Read(buf)
			if err != nil && n == 0 {
				time.Sleep(5 * time.Millisecond) // the master is non-blocking
				continue
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, all) {
			t.Fatalf("%s: got %d bytes %x, want all 256 values in order", dir.name, len(got), got)
		}
	}
	// Nothing echoed back to the writer.
	_ = master.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := master.Read(make([]byte, 16)); n != 0 {
		t.Errorf("master read %d echoed bytes", n)
	}
}
