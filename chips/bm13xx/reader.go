package bm13xx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
)

// readBufSize is the stream readers' buffer: far more than the longest
// frame (152 bytes), so one Read usually brings several frames.
const readBufSize = 4096

// ReaderStats counts what a stream reader has seen: frames returned, frames
// dropped for a bad CRC, and bytes skipped while looking for a preamble
// (garbage, the bytes of bad frames, a truncated tail at end of stream).
type ReaderStats struct {
	Frames, CRCErrors, SkippedBytes uint64
}

// scanner is the buffering and accounting the two stream readers share.
type scanner struct {
	r          io.Reader
	buf        []byte
	start, end int
	pending    error // error that came with the last bytes read
	eof        bool  // the reader is exhausted; only buffered bytes remain

	frames, crcErrors, skipped atomic.Uint64
}

func newScanner(r io.Reader) scanner {
	return scanner{r: r, buf: make([]byte, readBufSize)}
}

// buffered returns the bytes not yet consumed.
func (s *scanner) buffered() []byte { return s.buf[s.start:s.end] }

// skip drops k buffered bytes as garbage.
func (s *scanner) skip(k int) {
	s.start += k
	s.skipped.Add(uint64(k))
}

// take consumes a k-byte frame.
func (s *scanner) take(k int) {
	s.start += k
	s.frames.Add(1)
}

// more makes progress when the buffered bytes hold no whole frame at the
// preamble: it reads more, or, once the stream has ended, drops the first
// byte of the frame that can no longer complete so the rest is rescanned.
// It returns io.EOF when nothing is left.
func (s *scanner) more() error {
	if s.eof {
		if s.start == s.end {
			return io.EOF
		}
		s.skip(1)
		return nil
	}
	err := s.fill()
	if errors.Is(err, io.EOF) {
		s.eof = true
		return nil
	}
	return err
}

// fill reads more bytes after what is buffered. A read that brings nothing
// and no error gives ErrNoData.
func (s *scanner) fill() error {
	if err := s.pending; err != nil {
		s.pending = nil
		return err
	}
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	switch {
	case n > 0:
		s.pending = err
		return nil
	case err != nil:
		return err
	}
	return ErrNoData
}

// seek skips to the next occurrence of the two-byte preamble p and reports
// whether it found one; without one it keeps a trailing first preamble byte,
// which may be the start of a preamble still arriving.
func (s *scanner) seek(p []byte) bool {
	b := s.buffered()
	if i := bytes.Index(b, p); i >= 0 {
		s.skip(i)
		return true
	}
	keep := 0
	if len(b) > 0 && b[len(b)-1] == p[0] {
		keep = 1
	}
	s.skip(len(b) - keep)
	return false
}

// stats returns the counters.
func (s *scanner) stats() ReaderStats {
	return ReaderStats{Frames: s.frames.Load(), CRCErrors: s.crcErrors.Load(), SkippedBytes: s.skipped.Load()}
}

var (
	responsePreamble = []byte{0xaa, 0x55}
	hostPreamble     = []byte{0x55, 0xaa}
)

// ResponseReader splits the chip → host byte stream into responses. Frames
// are 9 or 11 bytes (SetLong switches); after garbage, a bad CRC or a
// truncated frame it resynchronises on the next AA 55 instead of dropping
// the stream, and counts what it dropped. Next is for one goroutine; SetLong
// and Stats may be called from others.
type ResponseReader struct {
	s    scanner
	long atomic.Bool
}

// NewResponseReader returns a reader of 11-byte frames when long is true,
// 9-byte frames otherwise.
func NewResponseReader(r io.Reader, long bool) *ResponseReader {
	rr := &ResponseReader{s: newScanner(r)}
	rr.long.Store(long)
	return rr
}

// SetLong switches between 9-byte (false) and 11-byte (true) frames, as
// BM1366+ chips do when version rolling is enabled.
func (rr *ResponseReader) SetLong(long bool) { rr.long.Store(long) }

// Next returns the next good frame. Read errors are returned as they are;
// a Read that returned nothing gives ErrNoData, so callers can check their
// context and call again without losing buffered bytes.
func (rr *ResponseReader) Next() (Response, error) {
	s := &rr.s
	for {
		if !s.seek(responsePreamble) {
			if err := s.more(); err != nil {
				return Response{}, err
			}
			continue
		}
		n := ShortResponseLen
		if rr.long.Load() {
			n = LongResponseLen
		}
		b := s.buffered()
		if len(b) < n {
			if err := s.more(); err != nil {
				return Response{}, err
			}
			continue
		}
		frame := b[:n]
		if CRC5(frame[2:]) != 0 || frame[n-1]&0x60 != 0 {
			s.crcErrors.Add(1)
			s.skip(1)
			continue
		}
		s.take(n)
		return parseResponse(frame), nil
	}
}

// Stats returns the reader's counters.
func (rr *ResponseReader) Stats() ReaderStats { return rr.s.stats() }

// HostReader splits the host → chip byte stream into whole frames
// (commands and jobs of one model), as a chip's receiver does. After garbage,
// a malformed header or a bad CRC it resynchronises on the next 55 AA and
// counts what it dropped.
type HostReader struct {
	s     scanner
	model Model
}

// NewHostReader returns a reader of frames sent to chips of model m.
func NewHostReader(r io.Reader, m Model) *HostReader {
	return &HostReader{s: newScanner(r), model: m}
}

// Next returns the next good frame (a fresh slice the caller may keep):
// decode it with DecodeCommand or DecodeJob according to IsJob. Read errors
// are returned as they are; a Read that returned nothing gives ErrNoData.
func (h *HostReader) Next() ([]byte, error) {
	s := &h.s
	for {
		if !s.seek(hostPreamble) {
			if err := s.more(); err != nil {
				return nil, err
			}
			continue
		}
		b := s.buffered()
		if len(b) < 4 {
			if err := s.more(); err != nil {
				return nil, err
			}
			continue
		}
		n := h.frameLen(b[2], b[3])
		if n == 0 {
			s.skip(1)
			continue
		}
		if len(b) < n {
			if err := s.more(); err != nil {
				return nil, err
			}
			continue
		}
		if !hostCRCOK(b[:n]) {
			s.crcErrors.Add(1)
			s.skip(1)
			continue
		}
		frame := bytes.Clone(b[:n])
		s.take(n)
		return frame, nil
	}
}

// frameLen returns the size of the frame a header and length byte announce,
// or 0 when they are not valid.
func (h *HostReader) frameLen(header, length byte) int {
	if header == hdrJob {
		return jobLen(h.model, length)
	}
	return commandLen(header, length)
}

// hostCRCOK checks a complete host frame's CRC.
func hostCRCOK(f []byte) bool {
	n := len(f)
	if IsJob(f) {
		return binary.BigEndian.Uint16(f[n-2:]) == CRC16(f[2:n-2])
	}
	return f[n-1] == CRC5(f[2:n-1])
}

// IsJob reports whether a host frame is a job packet (header 0x21) rather
// than a command.
func IsJob(frame []byte) bool { return len(frame) > 2 && frame[2] == hdrJob }

// Stats returns the reader's counters.
func (h *HostReader) Stats() ReaderStats { return h.s.stats() }
