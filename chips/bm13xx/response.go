package bm13xx

import (
	"encoding/binary"
	"fmt"
)

// Response frame sizes: 9 bytes, or 11 once BM1366+ version rolling is on.
const (
	ShortResponseLen = 9
	LongResponseLen  = 11
)

// Response is a chip → host frame (§1.5): a register value or a nonce.
type Response struct {
	// Nonce is bit 7 of the last byte: set for nonces.
	Nonce bool
	// Data is b2..b5: the register value (big-endian) or the nonce bytes
	// exactly as they go into header[76:80].
	Data [4]byte
	// B6 and B7 are the chip address and register of a register reply; a
	// nonce's b6 (meaning unknown) and its job byte (§7).
	B6, B7 byte
	// Version is b8..b9 of an 11-byte frame: the rolled version field of a
	// nonce, 0 for register replies.
	Version uint16
	// Long marks an 11-byte frame.
	Long bool
}

// RegisterReply returns the reply a chip at addr sends for register reg
// holding v.
func RegisterReply(addr, reg byte, v uint32, long bool) Response {
	r := Response{B6: addr, B7: reg, Long: long}
	binary.BigEndian.PutUint32(r.Data[:], v)
	return r
}

// Value returns Data as a big-endian register value.
func (r Response) Value() uint32 { return binary.BigEndian.Uint32(r.Data[:]) }

// Len returns the frame size.
func (r Response) Len() int {
	if r.Long {
		return LongResponseLen
	}
	return ShortResponseLen
}

// Encode returns the frame: AA 55, data, b6, b7, the version field for
// 11-byte frames, then a last byte with the nonce flag in bit 7 and the CRC5
// in bits 4:0, computed over every bit after the preamble including the
// last byte's three flag bits (§1.3).
func (r Response) Encode() []byte { return r.AppendEncode(make([]byte, 0, LongResponseLen)) }

// AppendEncode appends the encoded frame to b.
func (r Response) AppendEncode(b []byte) []byte {
	start := len(b)
	b = append(b, 0xaa, 0x55)
	b = append(b, r.Data[:]...)
	b = append(b, r.B6, r.B7)
	if r.Long {
		b = binary.BigEndian.AppendUint16(b, r.Version)
	}
	var flag byte
	if r.Nonce {
		flag = 0x80
	}
	b = append(b, flag)
	body := b[start+2:]
	crc := crc5Bits(0x1f, body, 8*(len(body)-1)+3)
	b[len(b)-1] = flag | crc
	return b
}

// DecodeResponse parses a 9- or 11-byte response frame, checking the
// preamble and that the CRC5 over everything after it comes out zero.
func DecodeResponse(frame []byte) (Response, error) {
	n := len(frame)
	if n != ShortResponseLen && n != LongResponseLen {
		return Response{}, fmt.Errorf("bm13xx: response of %d bytes: %w", n, ErrFrame)
	}
	if frame[0] != 0xaa || frame[1] != 0x55 {
		return Response{}, fmt.Errorf("bm13xx: response % x: bad preamble: %w", frame, ErrFrame)
	}
	if CRC5(frame[2:]) != 0 {
		return Response{}, fmt.Errorf("bm13xx: response % x: %w", frame, ErrCRC)
	}
	if frame[n-1]&0x60 != 0 {
		return Response{}, fmt.Errorf("bm13xx: response % x: reserved flag bits set: %w", frame, ErrFrame)
	}
	return parseResponse(frame), nil
}

// parseResponse fills a Response from a frame already checked.
func parseResponse(frame []byte) Response {
	n := len(frame)
	r := Response{
		Nonce: frame[n-1]&0x80 != 0,
		B6:    frame[6],
		B7:    frame[7],
		Long:  n == LongResponseLen,
	}
	copy(r.Data[:], frame[2:6])
	if r.Long {
		r.Version = binary.BigEndian.Uint16(frame[8:])
	}
	return r
}

// String renders the response for logs and test failures.
func (r Response) String() string {
	if r.Nonce {
		return fmt.Sprintf("nonce % x b6 %02x b7 %02x ver %04x", r.Data, r.B6, r.B7, r.Version)
	}
	return fmt.Sprintf("reg %02x of chip %02x = %08x", r.B7, r.B6, r.Value())
}
