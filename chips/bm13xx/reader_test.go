package bm13xx

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// chunkReader returns one chunk per Read: an empty chunk is a read timeout
// ((0, nil)); after the chunks it returns err (io.EOF when nil).
type chunkReader struct {
	chunks [][]byte
	err    error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	if n < len(c.chunks[0]) {
		c.chunks[0] = c.chunks[0][n:]
	} else {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Frames used by the splitter tests: two 11-byte nonces, a register reply,
// and two 9-byte frames.
var (
	longA  = RegisterReply(0x80, RegHashCounter, 0x12345, true).Encode()
	longB  = BM1370.EncodeNonce(0x18, 3, [4]byte{0x4e, 0x58, 0x42, 0x93}, 0x0123).Encode()
	longC  = BM1366.EncodeNonce(0x08, 1, [4]byte{1, 2, 3, 4}, 0x0009).Encode()
	shortA = RegisterReply(0x00, RegChipID, 0x13971800, false).Encode()
	shortB = BM1397.EncodeNonce(0x04, 0, [4]byte{0xd1, 0x9e, 0x02, 0x0a}, 0).Encode()
)

func corrupt(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// readAll drains a ResponseReader until io.EOF, re-encoding every frame;
// ErrNoData is counted.
func readAll(t *testing.T, rr *ResponseReader) (frames [][]byte, noData int, err error) {
	t.Helper()
	for range 1000 {
		r, err := rr.Next()
		switch {
		case errors.Is(err, ErrNoData):
			noData++
		case err != nil:
			return frames, noData, err
		default:
			frames = append(frames, r.Encode())
		}
	}
	t.Fatal("reader did not end")
	return nil, 0, nil
}

func TestResponseReader(t *testing.T) {
	cases := []struct {
		name   string
		long   bool
		chunks [][]byte
		want   [][]byte
		stats  ReaderStats
		noData int
	}{
		{
			name:   "back to back",
			long:   true,
			chunks: [][]byte{cat(longA, longB, longC)},
			want:   [][]byte{longA, longB, longC},
			stats:  ReaderStats{Frames: 3},
		},
		{
			name: "garbage between frames",
			long: true,
			chunks: [][]byte{cat(
				[]byte{0x01, 0x02, 0xaa}, // garbage ending in half a preamble
				longA,
				[]byte{0x55, 0x00}, // garbage
				longB,
				[]byte{0xaa}, // half a preamble at the end of the stream
			)},
			want:  [][]byte{longA, longB},
			stats: ReaderStats{Frames: 2, SkippedBytes: 6},
		},
		{
			name:   "false preamble in garbage",
			long:   true,
			chunks: [][]byte{cat([]byte{0xaa, 0x55, 0x00, 0x13}, longA, longB)},
			want:   [][]byte{longA, longB},
			stats:  ReaderStats{Frames: 2, CRCErrors: 1, SkippedBytes: 4},
		},
		{
			name:   "bad crc",
			long:   true,
			chunks: [][]byte{cat(corrupt(longA, 4), longB)},
			want:   [][]byte{longB},
			stats:  ReaderStats{Frames: 1, CRCErrors: 1, SkippedBytes: 11},
		},
		{
			name:   "truncated frame",
			long:   true,
			chunks: [][]byte{cat(longA[:6], longB, longC)},
			want:   [][]byte{longB, longC},
			stats:  ReaderStats{Frames: 2, CRCErrors: 1, SkippedBytes: 6},
		},
		{
			name:   "truncated at end of stream",
			long:   true,
			chunks: [][]byte{cat(longA, longB[:7])},
			want:   [][]byte{longA},
			stats:  ReaderStats{Frames: 1, SkippedBytes: 7},
		},
		{
			name:   "short frames",
			chunks: [][]byte{cat(shortA, []byte{0x00}, shortB)},
			want:   [][]byte{shortA, shortB},
			stats:  ReaderStats{Frames: 2, SkippedBytes: 1},
		},
		{
			name:   "short frames read as long are dropped, counted, and sync kept",
			long:   true,
			chunks: [][]byte{cat(shortA, shortB, longA)},
			want:   [][]byte{longA},
			stats:  ReaderStats{Frames: 1, CRCErrors: 2, SkippedBytes: 18},
		},
		{
			name:   "split across reads with timeouts",
			long:   true,
			chunks: [][]byte{longA[:1], {}, longA[1:5], {}, cat(longA[5:], longB[:2]), longB[2:]},
			want:   [][]byte{longA, longB},
			stats:  ReaderStats{Frames: 2},
			noData: 2,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rr := NewResponseReader(&chunkReader{chunks: c.chunks}, c.long)
			got, noData, err := readAll(t, rr)
			if !errors.Is(err, io.EOF) {
				t.Errorf("final error %v, want io.EOF", err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.stats, rr.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if noData != c.noData {
				t.Errorf("ErrNoData %d times, want %d", noData, c.noData)
			}
		})
	}
}

// TestResponseReaderSwitch follows §13 pitfall 2: replies grow from 9 to 11
// bytes once version rolling is on, and back after a reset.
func TestResponseReaderSwitch(t *testing.T) {
	rr := NewResponseReader(bytes.NewReader(cat(shortA, shortB, longA, longB, shortA)), false)
	for i, step := range []struct {
		long bool
		want []byte
	}{{false, shortA}, {false, shortB}, {true, longA}, {true, longB}, {false, shortA}} {
		rr.SetLong(step.long)
		r, err := rr.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if diff := cmp.Diff(step.want, r.Encode()); diff != "" {
			t.Errorf("frame %d (-want +got):\n%s", i, diff)
		}
	}
	if _, err := rr.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v", err)
	}
	if s := rr.Stats(); s != (ReaderStats{Frames: 5}) {
		t.Errorf("stats %+v", s)
	}
}

func TestResponseReaderOneByte(t *testing.T) {
	stream := cat(longA, []byte{0x00, 0xaa}, longB, corrupt(longC, 9), longC)
	rr := NewResponseReader(iotest.OneByteReader(bytes.NewReader(stream)), true)
	got, _, err := readAll(t, rr)
	if err != io.EOF {
		t.Errorf("final error %v", err)
	}
	if diff := cmp.Diff([][]byte{longA, longB, longC}, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if s := rr.Stats(); s != (ReaderStats{Frames: 3, CRCErrors: 1, SkippedBytes: 13}) {
		t.Errorf("stats %+v", s)
	}
}

func TestResponseReaderErrors(t *testing.T) {
	boom := errors.New("port gone")
	rr := NewResponseReader(iotest.DataErrReader(&chunkReader{chunks: [][]byte{longA}, err: boom}), true)
	if r, err := rr.Next(); err != nil || !bytes.Equal(r.Encode(), longA) {
		t.Fatalf("first Next = %v, %v", r, err)
	}
	if _, err := rr.Next(); err != boom {
		t.Errorf("Next = %v, want the read error as is", err)
	}
	// A timeout error in the middle of a frame keeps the bytes buffered.
	rr = NewResponseReader(&chunkReader{chunks: [][]byte{longA[:4]}, err: iotest.ErrTimeout}, true)
	if _, err := rr.Next(); err != iotest.ErrTimeout {
		t.Errorf("Next = %v, want ErrTimeout", err)
	}
}

// host frames for the HostReader tests.
func hostFrames(t testing.TB) (cmdA, cmdB, job1366, job1397 []byte) {
	return ReadAll(RegChipID).Encode(), WriteChip(0x80, RegA8, 0x000701f0).Encode(),
		EncodeJob(BM1366, vectorJob(t, 0x18, 0x647025b5)),
		EncodeJob(BM1397, vectorJob(t, 0x04, 0x647025b5, 0x20000004, 0x20002004))
}

func TestHostReader(t *testing.T) {
	cmdA, cmdB, job1366, job1397 := hostFrames(t)
	cases := []struct {
		name   string
		model  Model
		stream []byte
		want   [][]byte
		stats  ReaderStats
	}{
		{
			name:   "commands and a job",
			model:  BM1366,
			stream: cat(cmdA, job1366, cmdB),
			want:   [][]byte{cmdA, job1366, cmdB},
			stats:  ReaderStats{Frames: 3},
		},
		{
			name:   "garbage and a bad header",
			model:  BM1366,
			stream: cat([]byte{0x00, 0x55}, cmdA, []byte{0x55, 0xaa, 0x61, 0x05}, cmdB, []byte{0x55}),
			want:   [][]byte{cmdA, cmdB},
			stats:  ReaderStats{Frames: 2, SkippedBytes: 7},
		},
		{
			name:   "bad crc on a command and a job",
			model:  BM1366,
			stream: cat(corrupt(cmdB, 7), corrupt(job1366, 40), cmdA),
			want:   [][]byte{cmdA},
			stats:  ReaderStats{Frames: 1, CRCErrors: 2, SkippedBytes: 11 + 88},
		},
		{
			name:   "truncated job followed by commands",
			model:  BM1366,
			stream: cat(job1366[:40], cmdA, cmdB, job1366),
			want:   [][]byte{cmdA, cmdB, job1366},
			stats:  ReaderStats{Frames: 3, CRCErrors: 1, SkippedBytes: 40},
		},
		{
			name:   "truncated job at end of stream",
			model:  BM1366,
			stream: cat(cmdA, job1366[:40], cmdB),
			want:   [][]byte{cmdA, cmdB},
			stats:  ReaderStats{Frames: 2, SkippedBytes: 40},
		},
		{
			name:   "BM1397 job sized by its length byte",
			model:  BM1397,
			stream: cat(job1397, cmdA, job1397[:30], cmdB),
			want:   [][]byte{job1397, cmdA, cmdB},
			stats:  ReaderStats{Frames: 3, SkippedBytes: 30},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hr := NewHostReader(iotest.HalfReader(bytes.NewReader(c.stream)), c.model)
			var got [][]byte
			for range 100 {
				f, err := hr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, f)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.stats, hr.Stats()); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			for _, f := range got {
				var err error
				if IsJob(f) {
					_, err = DecodeJob(c.model, f)
				} else {
					_, err = DecodeCommand(f)
				}
				if err != nil {
					t.Errorf("frame % x does not decode: %v", head(f), err)
				}
			}
		})
	}
}

func TestHostReaderNoData(t *testing.T) {
	cmdA, _, _, _ := hostFrames(t)
	hr := NewHostReader(&chunkReader{chunks: [][]byte{cmdA[:3], {}, cmdA[3:]}}, BM1366)
	if _, err := hr.Next(); err != ErrNoData {
		t.Fatalf("Next = %v, want ErrNoData", err)
	}
	f, err := hr.Next()
	if err != nil || !bytes.Equal(f, cmdA) {
		t.Errorf("Next = % x, %v", f, err)
	}
}
