package bm13xx

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// codecError reports whether err wraps one of the decoders' sentinels.
func codecError(err error) bool { return errors.Is(err, ErrFrame) || errors.Is(err, ErrCRC) }

func FuzzDecodeResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add(c.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		r, err := DecodeResponse(frame)
		if err != nil {
			if !codecError(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if !bytes.Equal(r.Encode(), frame) {
			t.Fatalf("decoded %v re-encodes to % x, not % x", r, r.Encode(), frame)
		}
		for _, m := range Models() {
			_ = m.DecodeNonce(r)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range commandCases {
		f.Add(c.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, err := DecodeCommand(frame)
		if err != nil {
			if !codecError(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if !bytes.Equal(c.Encode(), frame) {
			t.Fatalf("decoded %v re-encodes to % x, not % x", c, c.Encode(), frame)
		}
	})
}

func FuzzDecodeJob(f *testing.F) {
	f.Add(byte(1), EncodeJob(BM1366, vectorJob(f, 0x18, 0x647025b5)))
	f.Add(byte(0), EncodeJob(BM1397, vectorJob(f, 0x04, 0x647025b5, 0x20000004)))
	f.Add(byte(0), EncodeJob(BM1397, vectorJob(f, 0x04, 0x647025b5, 0x20000004, 0x20002004, 0x20004004, 0x20006004)))
	f.Fuzz(func(t *testing.T, model byte, frame []byte) {
		m := Models()[int(model)%len(Models())]
		j, err := DecodeJob(m, frame)
		if err != nil {
			if !codecError(err) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		back := EncodeJob(m, j)
		if m.HardwareRolling {
			back[3] = frame[3] // the length byte is not checked
			copy(back[86:], frame[86:])
		}
		if !bytes.Equal(back, frame) {
			t.Fatalf("job re-encodes to % x, not % x", back, frame)
		}
	})
}

// streamSeed concatenates frames with garbage between them.
func streamSeed(parts ...[]byte) []byte { return bytes.Join(parts, []byte{0x00, 0xaa, 0x55}) }

func FuzzResponseReader(f *testing.F) {
	var all [][]byte
	for _, c := range responseCases {
		all = append(all, c.frame)
	}
	f.Add(true, streamSeed(all...))
	f.Add(false, streamSeed(shortA, shortB, corrupt(shortA, 3), shortB[:5], shortA))
	f.Add(true, streamSeed(longA, longB[:4], longC, corrupt(longA, 2)))
	f.Fuzz(func(t *testing.T, long bool, stream []byte) {
		rr := NewResponseReader(iotest.HalfReader(bytes.NewReader(stream)), long)
		var frameBytes int
		for range len(stream) + 2 {
			r, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if r.Long != long {
				t.Fatalf("frame length %d in long=%v mode", r.Len(), long)
			}
			enc := r.Encode()
			if !bytes.Contains(stream, enc) {
				t.Fatalf("returned frame % x is not in the stream", enc)
			}
			frameBytes += len(enc)
		}
		s := rr.Stats()
		if got := frameBytes + int(s.SkippedBytes); got != len(stream) {
			t.Fatalf("frames %d + skipped %d bytes != stream %d bytes", frameBytes, s.SkippedBytes, len(stream))
		}
	})
}

func FuzzHostReader(f *testing.F) {
	cmdA, cmdB, job1366, job1397 := hostFrames(f)
	f.Add(byte(1), streamSeed(cmdA, job1366, cmdB, job1366[:30], cmdA))
	f.Add(byte(0), streamSeed(job1397, cmdB, corrupt(cmdA, 4), cmdA))
	var cmds [][]byte
	for _, c := range commandCases {
		cmds = append(cmds, c.frame)
	}
	f.Add(byte(2), streamSeed(cmds...))
	f.Fuzz(func(t *testing.T, model byte, stream []byte) {
		m := Models()[int(model)%len(Models())]
		hr := NewHostReader(iotest.HalfReader(bytes.NewReader(stream)), m)
		var frameBytes int
		for range len(stream) + 2 {
			frame, err := hr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if IsJob(frame) {
				_, err = DecodeJob(m, frame)
			} else {
				_, err = DecodeCommand(frame)
			}
			if err != nil {
				t.Fatalf("frame % x from the reader does not decode: %v", head(frame), err)
			}
			frameBytes += len(frame)
		}
		if got := frameBytes + int(hr.Stats().SkippedBytes); got != len(stream) {
			t.Fatalf("frames %d + skipped %d bytes != stream %d bytes", frameBytes, hr.Stats().SkippedBytes, len(stream))
		}
	})
}
