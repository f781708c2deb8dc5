package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

// writeChunk bounds how many queued bytes go out in one Write.
const writeChunk = 4096

// deadliner is a stream whose blocked reads and writes can be released,
// as *os.File (a pseudo-terminal master) and net.Conn can.
type deadliner interface {
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Serve runs the chain on rw until ctx ends (it then returns nil) or rw
// fails (it returns the error): it reads host frames with a
// bm13xx.HostReader, answers them, hashes the jobs it is given and writes
// every response from a single writer, so frames never interleave.
//
// When ctx ends Serve releases a blocked Read or Write through
// SetReadDeadline and SetWriteDeadline if rw has them (a pollable *os.File
// pseudo-terminal master and a net.Conn do) and waits for it; otherwise a
// blocked read stays blocked until the caller closes rw, and Serve may
// return before it does. Only one Serve may run at a time.
func (c *Chain) Serve(ctx context.Context, rw io.ReadWriter) error {
	if !c.serving.CompareAndSwap(false, true) {
		return errServing
	}
	defer c.serving.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	errc := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- c.writeLoop(ctx, rw) })
	wg.Go(func() { c.mineLoop(ctx) })
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		errc <- c.readLoop(ctx, rw)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	d, canRelease := rw.(deadliner)
	if canRelease {
		past := time.Unix(1, 0)
		canRelease = d.SetReadDeadline(past) == nil
		_ = d.SetWriteDeadline(past)
	}
	wg.Wait()
	if canRelease {
		<-readDone
		_ = d.SetReadDeadline(time.Time{})
		_ = d.SetWriteDeadline(time.Time{})
	}
	return err
}

// readLoop feeds host frames to the chips until ctx ends or the stream
// fails.
func (c *Chain) readLoop(ctx context.Context, r io.Reader) error {
	hr := bm13xx.NewHostReader(r, c.cfg.Model)
	for ctx.Err() == nil {
		frame, err := hr.Next()
		if errors.Is(err, bm13xx.ErrNoData) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("emulator: read: %w", err)
		}
		c.handleFrame(frame)
	}
	return nil
}

// handleFrame applies one whole host frame.
func (c *Chain) handleFrame(frame []byte) {
	m := c.cfg.Model
	c.mu.Lock()
	defer c.mu.Unlock()
	if bm13xx.IsJob(frame) {
		j, err := bm13xx.DecodeJob(m, frame)
		if err != nil {
			c.log.Debug("bad job frame", "err", err)
			return
		}
		c.loadJob(j)
		return
	}
	cmd, err := bm13xx.DecodeCommand(frame)
	if err != nil {
		c.log.Debug("bad command frame", "err", err)
		return
	}
	c.command(cmd)
	c.kick()
}

// writeLoop writes queued frames and noise until ctx ends or a write
// fails. It is the only writer, so frames go out whole.
func (c *Chain) writeLoop(ctx context.Context, w io.Writer) error {
	buf := make([]byte, 0, writeChunk)
	for {
		buf = buf[:0]
		select {
		case <-ctx.Done():
			return nil
		case it := <-c.out:
			buf = c.appendItem(buf, it)
		}
	drain:
		for len(buf) < writeChunk {
			select {
			case it := <-c.out:
				buf = c.appendItem(buf, it)
			default:
				break drain
			}
		}
		if _, err := w.Write(buf); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("emulator: write: %w", err)
		}
	}
}

// appendItem appends a queued item, corrupting it when CorruptNextFrame
// asked for it: one bit of the data bytes b2..b5 flips, so the frame's
// CRC no longer checks.
func (c *Chain) appendItem(buf []byte, it outItem) []byte {
	start := len(buf)
	buf = append(buf, it.b...)
	if it.frame && len(it.b) >= 6 && c.corruptNext.CompareAndSwap(true, false) {
		c.mu.Lock()
		bit := c.rng.IntN(32)
		c.mu.Unlock()
		buf[start+2+bit/8] ^= 1 << (bit % 8)
	}
	return buf
}
