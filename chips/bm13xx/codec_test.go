package bm13xx

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unhex decodes hex with optional spaces; "--" starts a comment that runs
// to the end of the line.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var digits strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		line, _, _ = strings.Cut(line, "--")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestCRCCheckValues(t *testing.T) {
	crc5 := []struct {
		name string
		in   []byte
		want byte
	}{
		{"ascii 123456789", []byte("123456789"), 0x0f},
		{"read chip id", []byte{0x52, 0x05, 0x00, 0x00}, 0x0a},
		{"chain inactive", []byte{0x53, 0x05, 0x00, 0x00}, 0x03},
		{"set address 0", []byte{0x40, 0x05, 0x00, 0x00}, 0x1c},
		{"version rolling", []byte{0x51, 0x09, 0x00, 0xa4, 0x90, 0x00, 0xff, 0xff}, 0x1c},
		{"fast uart", []byte{0x51, 0x09, 0x00, 0x28, 0x11, 0x30, 0x02, 0x00}, 0x03},
		{"response residue", []byte{0x13, 0x97, 0x18, 0x00, 0x00, 0x00, 0x06}, 0x00},
		{"command residue is not zero", []byte{0x52, 0x05, 0x00, 0x00, 0x0a}, 26},
	}
	for _, c := range crc5 {
		t.Run("crc5 "+c.name, func(t *testing.T) {
			if got := CRC5(c.in); got != c.want {
				t.Errorf("CRC5(% x) = %#02x, want %#02x", c.in, got, c.want)
			}
		})
	}
	// The response CRC covers the 51 bits after the preamble.
	resp := []byte{0x13, 0x97, 0x18, 0x00, 0x00, 0x00, 0x06}
	if got := crc5Bits(0x1f, resp, 51); got != 0x06 {
		t.Errorf("crc5 over 51 response bits = %#02x, want 0x06", got)
	}
	if got := CRC16([]byte("123456789")); got != 0x29b1 {
		t.Errorf("CRC16(123456789) = %#04x, want 0x29b1", got)
	}
}

// commandCases are the command frames of §2, §3.2, §5.3, §11 (T1–T4) and
// §14.3/§14.4 with the Command they encode.
var commandCases = []struct {
	name  string
	cmd   Command
	frame []byte
}{
	{"T1 read chip id, broadcast", ReadAll(RegChipID), []byte{
		0x55, 0xaa, // preamble
		0x52,       // command, all chips, read
		0x05,       // length
		0x00, 0x00, // address, register
		0x0a, // CRC5
	}},
	{"T2 chain inactive", ChainInactive(), []byte{
		0x55, 0xaa, 0x53, 0x05, // preamble, chain inactive (all), length
		0x00, 0x00, // address, register
		0x03, // CRC5
	}},
	{"T2 set address 00", SetAddress(0x00), []byte{
		0x55, 0xaa, 0x40, 0x05, // preamble, set address, length
		0x00, 0x00, // new address, register
		0x1c, // CRC5
	}},
	{"T2 set address 80", SetAddress(0x80), []byte{
		0x55, 0xaa, 0x40, 0x05, // preamble, set address, length
		0x80, 0x00, // new address, register
		0x10, // CRC5
	}},
	{"T3 read 8C of chip 80", ReadChip(0x80, RegHashCounter), []byte{
		0x55, 0xaa, 0x42, 0x05, // preamble, read (one chip), length
		0x80, 0x8c, // chip, register
		0x15, // CRC5
	}},
	{"read 4C, broadcast", ReadAll(RegErrorCounter), []byte{
		0x55, 0xaa, 0x52, 0x05, // preamble, read (all), length
		0x00, 0x4c, // address, register
		0x14, // CRC5
	}},
	{"T3 ticket D=256", WriteAll(RegTicketMask, TicketMask(256)), []byte{
		0x55, 0xaa, 0x51, 0x09, // preamble, write (all), length
		0x00, 0x14, // address, register
		0x00, 0x00, 0x00, 0xff, // value
		0x08, // CRC5
	}},
	{"T3 ticket D=512", WriteAll(RegTicketMask, TicketMask(512)), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x14, // write all, reg 14
		0x00, 0x00, 0x80, 0xff, // value
		0x04, // CRC5
	}},
	{"T3 version mask", WriteAll(RegVersionRolling, VersionRollingReg(0x1fffe000)), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0xa4, // write all, reg A4
		0x90, 0x00, 0xff, 0xff, // enable | mask>>13
		0x1c, // CRC5
	}},
	{"T3 BM1366+ 1 Mbaud", WriteAll(RegFastUART, 0x11300200), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x28, // write all, reg 28
		0x11, 0x30, 0x02, 0x00, // BT8D 2
		0x03, // CRC5
	}},
	{"T3 BM1397 3.125 Mbaud", WriteAll(RegMiscControl, 0x00006031), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x18, // write all, reg 18
		0x00, 0x00, 0x60, 0x31, // BT8D 0
		0x00, // CRC5
	}},
	{"T3 BM1397 PLL0 divider", WriteAll(RegPLL0Divider, 0x0f0f0f00), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x70, // write all, reg 70
		0x0f, 0x0f, 0x0f, 0x00, // dividers
		0x19, // CRC5
	}},
	{"T3 BM1366 HCN 485 MHz", WriteAll(RegHCN, HCN(BM1366, 1, 485)), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x10, // write all, reg 10
		0x00, 0x0d, 0x32, 0x24, // HCN
		0x10, // CRC5
	}},
	{"T3 chip 80 reg A8", WriteChip(0x80, RegA8, 0x000701f0), []byte{
		0x55, 0xaa, 0x41, 0x09, // preamble, write (one chip), length
		0x80, 0xa8, // chip, register
		0x00, 0x07, 0x01, 0xf0, // value
		0x0d, // CRC5
	}},
	{"§14.3 S19 XP 58 last chip", WriteChip(0xda, RegIODriver, 0x0211f111), []byte{
		0x55, 0xaa, 0x41, 0x09, 0xda, 0x58, 0x02, 0x11, 0xf1, 0x11, 0x1c,
	}},
	{"§14.3 S19 XP 2C chip 0", WriteChip(0x00, RegUARTRelay, 0x007c0003), []byte{
		0x55, 0xaa, 0x41, 0x09, 0x00, 0x2c, 0x00, 0x7c, 0x00, 0x03, 0x03,
	}},
	{"§14.3 S21 XP 58 last chip", WriteChip(0xb4, RegIODriver, 0x00013111), []byte{
		0x55, 0xaa, 0x41, 0x09, 0xb4, 0x58, 0x00, 0x01, 0x31, 0x11, 0x00,
	}},
	{"§14.3 S21 XP 68 pad disable", WriteAll(RegPLL3, 0x5aa55aa5), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x68, 0x5a, 0xa5, 0x5a, 0xa5, 0x1c,
	}},
	{"§14.3 S21 XP 3.125 Mbaud", WriteAll(RegFastUART, 0x01300000), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x28, 0x01, 0x30, 0x00, 0x00, 0x1a,
	}},
	{"§14.3 S21 Pro 58", WriteChip(0x08, RegIODriver, 0x0001f111), []byte{
		0x55, 0xaa, 0x41, 0x09, 0x08, 0x58, 0x00, 0x01, 0xf1, 0x11, 0x1f,
	}},
	{"§14.3 S21 Pro 2C", WriteChip(0x00, RegUARTRelay, 0x004f0003), []byte{
		0x55, 0xaa, 0x41, 0x09, 0x00, 0x2c, 0x00, 0x4f, 0x00, 0x03, 0x00,
	}},
	{"§14.4 BM1370 nonce offset chip 02", WriteChip(0x02, RegNonceOffset, 0x800003f1), []byte{
		0x55, 0xaa, 0x41, 0x09, 0x02, 0x0c, 0x80, 0x00, 0x03, 0xf1, 0x03,
	}},
	{"§5.3 BM1366 485 MHz", WriteAll(RegPLL0, 0x50c20240), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, // write all, reg 08
		0x50, 0xc2, 0x02, 0x40, // VCO≥2400 | enable, FBDIV 194, REFDIV 2, P1−1=4 P2−1=0
		0x1c, // CRC5
	}},
	{"§5.3 BM1368 490 MHz", WriteAll(RegPLL0, 0x50c40240), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, 0x50, 0xc4, 0x02, 0x40, 0x06,
	}},
	{"§5.3 BM1370 525 MHz", WriteAll(RegPLL0, 0x40a80230), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, 0x40, 0xa8, 0x02, 0x30, 0x03,
	}},
	{"§5.3 BM1370 600 MHz", WriteAll(RegPLL0, 0x50c00230), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, 0x50, 0xc0, 0x02, 0x30, 0x05,
	}},
	{"§5.3 BM1397 425 MHz", WriteAll(RegPLL0, 0x40440221), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, // write all, reg 08
		0x40, 0x44, 0x02, 0x21, // enable, FBDIV 68, REFDIV 2, P1=2 P2=1 (direct)
		0x07, // CRC5
	}},
	{"§5.3 BM1397 425 MHz gekko-style", WriteAll(RegPLL0, 0x40aa0215), []byte{
		0x55, 0xaa, 0x51, 0x09, 0x00, 0x08, 0x40, 0xaa, 0x02, 0x15, 0x16,
	}},
}

func TestCommandGolden(t *testing.T) {
	for _, c := range commandCases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.frame, c.cmd.Encode()); diff != "" {
				t.Errorf("Encode(%v) (-want +got):\n%s", c.cmd, diff)
			}
			got, err := DecodeCommand(c.frame)
			if err != nil {
				t.Fatalf("DecodeCommand: %v", err)
			}
			if diff := cmp.Diff(c.cmd, got); diff != "" {
				t.Errorf("DecodeCommand (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	good := ReadChip(0x80, RegHashCounter).Encode()
	flip := func(i int, x byte) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= x
		return b
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrFrame},
		{"bad preamble", flip(0, 0xff), ErrFrame},
		{"job header", flip(2, 0x63), ErrFrame},
		{"unknown op", flip(2, 0x0c), ErrFrame},
		{"length of a write on a read", flip(3, 0x0c), ErrFrame},
		{"truncated", good[:6], ErrFrame},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrFrame},
		{"bad crc", flip(6, 0x01), ErrCRC},
		{"flag bits over crc", flip(6, 0x80), ErrCRC},
		{"corrupt payload", flip(5, 0x01), ErrCRC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeCommand(c.frame); !errors.Is(err, c.want) {
				t.Errorf("DecodeCommand(% x) = %v, want %v", c.frame, err, c.want)
			}
		})
	}
}

// responseCases are the response frames of §11 (T1, T7) with what they
// decode to.
var responseCases = []struct {
	name  string
	frame []byte
	resp  Response
}{
	{"T1 BM1397 chip id", []byte{
		0xaa, 0x55, // preamble
		0x13, 0x97, 0x18, 0x00, // chip id 1397, core byte 18, address 0
		0x00, 0x00, // chip address, register
		0x06, // register reply, CRC5
	}, Response{Data: [4]byte{0x13, 0x97, 0x18, 0x00}}},
	{"T1 BM1366 chip id", []byte{
		0xaa, 0x55, 0x13, 0x66, 0x00, 0x00, // preamble, chip id word
		0x00, 0x00, // chip address, register
		0x00, 0x00, // version field (none)
		0x05, // register reply, CRC5
	}, Response{Data: [4]byte{0x13, 0x66, 0x00, 0x00}, Long: true}},
	{"T1 BM1368 chip id", []byte{
		0xaa, 0x55, 0x13, 0x68, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
	}, Response{Data: [4]byte{0x13, 0x68, 0x00, 0x00}, Long: true}},
	{"T1 BM1370 chip id", []byte{
		0xaa, 0x55, 0x13, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
	}, Response{Data: [4]byte{0x13, 0x70, 0x00, 0x00}, Long: true}},
	{"T7 BM1397 nonce job 04", []byte{
		0xaa, 0x55, // preamble
		0xd1, 0x9e, 0x02, 0x0a, // nonce bytes as in header[76:80]
		0x00, // b6
		0x04, // job 04 | midstate 0
		0x86, // nonce flag | CRC5
	}, Response{Nonce: true, Data: [4]byte{0xd1, 0x9e, 0x02, 0x0a}, B7: 0x04}},
	{"T7 BM1397 nonce job 08 midstate 1", []byte{
		0xaa, 0x55, 0x87, 0x8a, 0x2d, 0xb2, 0x00, 0x09, 0x95,
	}, Response{Nonce: true, Data: [4]byte{0x87, 0x8a, 0x2d, 0xb2}, B7: 0x09}},
	{"T7 BM1366 nonce job 18", []byte{
		0xaa, 0x55, 0xd1, 0x9e, 0x02, 0x0a, // preamble, nonce bytes
		0x00, 0x18, // b6, job 18 | small core 0
		0x00, 0x00, // version field
		0x81, // nonce flag | CRC5
	}, Response{Nonce: true, Data: [4]byte{0xd1, 0x9e, 0x02, 0x0a}, B7: 0x18, Long: true}},
	{"T7 BM1370 nonce", []byte{
		0xaa, 0x55, 0x4e, 0x58, 0x42, 0x93, // preamble, nonce bytes
		0x00, 0x33, // b6, (18<<1)&F0 | small core 3
		0x01, 0x23, // version field
		0x9e, // nonce flag | CRC5
	}, Response{Nonce: true, Data: [4]byte{0x4e, 0x58, 0x42, 0x93}, B7: 0x33, Version: 0x0123, Long: true}},
	{"T7 BM1366 same solution", []byte{
		0xaa, 0x55, 0x4e, 0x58, 0x42, 0x93, 0x00, 0x1b, 0x01, 0x23, 0x9c,
	}, Response{Nonce: true, Data: [4]byte{0x4e, 0x58, 0x42, 0x93}, B7: 0x1b, Version: 0x0123, Long: true}},
	{"T7 register reply 8C of chip 80", []byte{
		0xaa, 0x55, 0x00, 0x01, 0x23, 0x45, // preamble, value 00012345
		0x80, 0x8c, // chip 80, register 8C
		0x00, 0x00, // version field
		0x02, // register reply | CRC5
	}, Response{Data: [4]byte{0x00, 0x01, 0x23, 0x45}, B6: 0x80, B7: 0x8c, Long: true}},
	{"T7 bm13xx-rs BM1397 nonce", []byte{
		0xaa, 0x55, 0x97, 0xc3, 0x28, 0xb6, 0x01, 0x63, 0x9c,
	}, Response{Nonce: true, Data: [4]byte{0x97, 0xc3, 0x28, 0xb6}, B6: 0x01, B7: 0x63}},
	{"T7 bm13xx-rs BM1366 nonce", []byte{
		0xaa, 0x55, 0x2f, 0xd5, 0x96, 0xce, 0x02, 0x93, 0x94, 0xfb, 0x86,
	}, Response{Nonce: true, Data: [4]byte{0x2f, 0xd5, 0x96, 0xce}, B6: 0x02, B7: 0x93, Version: 0x94fb, Long: true}},
	{"T7 bm13xx-rs BM1370 nonce", []byte{
		0xaa, 0x55, 0x07, 0x35, 0xcd, 0xcf, 0x02, 0x5e, 0x00, 0x2e, 0x96,
	}, Response{Nonce: true, Data: [4]byte{0x07, 0x35, 0xcd, 0xcf}, B6: 0x02, B7: 0x5e, Version: 0x002e, Long: true}},
}

func TestResponseGolden(t *testing.T) {
	for _, c := range responseCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeResponse(c.frame)
			if err != nil {
				t.Fatalf("DecodeResponse: %v", err)
			}
			if diff := cmp.Diff(c.resp, got); diff != "" {
				t.Errorf("DecodeResponse (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.frame, c.resp.Encode()); diff != "" {
				t.Errorf("Encode (-want +got):\n%s", diff)
			}
		})
	}
	if got := RegisterReply(0x80, RegHashCounter, 0x12345, true); !cmp.Equal(got, responseCases[9].resp) {
		t.Errorf("RegisterReply = %v", got)
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	good := responseCases[7].frame
	flip := func(i int, x byte) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= x
		return b
	}
	cases := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrFrame},
		{"10 bytes", good[:10], ErrFrame},
		{"bad preamble", flip(1, 0x01), ErrFrame},
		{"bad crc", flip(10, 0x01), ErrCRC},
		{"corrupt nonce", flip(3, 0x40), ErrCRC},
		{"nonce flag flipped", flip(10, 0x80), ErrCRC},
		{"reserved bits", func() []byte {
			r := []byte{0xaa, 0x55, 0, 0, 0, 0, 0, 0, 0}
			r[8] = 0x60 | crc5Bits(0x1f, append(r[2:8], 0x60), 51)
			return r
		}(), ErrFrame},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeResponse(c.frame); !errors.Is(err, c.want) {
				t.Errorf("DecodeResponse(% x) = %v, want %v", c.frame, err, c.want)
			}
		})
	}
}

func TestDecodeNonce(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		frame int // index into responseCases
		want  Nonce
	}{
		{"BM1397 job 04", BM1397, 4, Nonce{
			JobID: 0x04, Bytes: [4]byte{0xd1, 0x9e, 0x02, 0x0a}, Value: 0x0a029ed1,
			Core: 0xd1, ChipField: 0x9e,
		}},
		{"BM1397 job 08 midstate 1", BM1397, 5, Nonce{
			JobID: 0x08, SubIndex: 1, Bytes: [4]byte{0x87, 0x8a, 0x2d, 0xb2}, Value: 0xb22d8a87,
			Core: 0x87, ChipField: 0x8a,
		}},
		{"BM1366 job 18", BM1366, 6, Nonce{
			JobID: 0x18, Bytes: [4]byte{0xd1, 0x9e, 0x02, 0x0a}, Value: 0x0a029ed1,
			Core: 0xd1 >> 1, ChipField: 0xcf,
		}},
		{"BM1370 job 18 small core 3", BM1370, 7, Nonce{
			JobID: 0x18, SubIndex: 3, VersionField: 0x0123, VersionBits: 0x00246000,
			Bytes: [4]byte{0x4e, 0x58, 0x42, 0x93}, Value: 0x9342584e, Core: 39, ChipField: 0x2c,
		}},
		{"BM1366 job 18 small core 3", BM1366, 8, Nonce{
			JobID: 0x18, SubIndex: 3, VersionField: 0x0123, VersionBits: 0x00246000,
			Bytes: [4]byte{0x4e, 0x58, 0x42, 0x93}, Value: 0x9342584e, Core: 39, ChipField: 0x2c,
		}},
		{"bm13xx-rs BM1397 job 60 index 3", BM1397, 10, Nonce{
			JobID: 0x60, SubIndex: 3, Bytes: [4]byte{0x97, 0xc3, 0x28, 0xb6}, Value: 0xb628c397,
			Core: 0x97, ChipField: 0xc3,
		}},
		{"bm13xx-rs BM1366", BM1366, 11, Nonce{
			JobID: 0x90, SubIndex: 3, VersionField: 0x94fb, VersionBits: 0x129f6000,
			Bytes: [4]byte{0x2f, 0xd5, 0x96, 0xce}, Value: 0xce96d52f, Core: 0x17, ChipField: 0xea,
		}},
		{"bm13xx-rs BM1370 job 28 small core 14", BM1370, 12, Nonce{
			JobID: 0x28, SubIndex: 14, VersionField: 0x002e, VersionBits: 0x0005c000,
			Bytes: [4]byte{0x07, 0x35, 0xcd, 0xcf}, Value: 0xcfcd3507, Core: 0x03, ChipField: 0x9a,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodeResponse(responseCases[c.frame].frame)
			if err != nil {
				t.Fatal(err)
			}
			got := c.model.DecodeNonce(r)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("DecodeNonce (-want +got):\n%s", diff)
			}
			if c.model.HardwareRolling && got.SubIndex != c.model.SmallCoreOf(got.VersionField) {
				t.Errorf("small core %d does not match version field %04x", got.SubIndex, got.VersionField)
			}
			back := c.model.EncodeNonce(got.JobID, got.SubIndex, got.Bytes, got.VersionField)
			back.B6 = r.B6
			if diff := cmp.Diff(responseCases[c.frame].frame, back.Encode()); diff != "" {
				t.Errorf("EncodeNonce (-want +got):\n%s", diff)
			}
		})
	}
}

func TestModels(t *testing.T) {
	for _, m := range Models() {
		byName, err := ModelByName(strings.ToLower(m.Name))
		if err != nil || byName != m {
			t.Errorf("ModelByName(%q) = %v, %v", strings.ToLower(m.Name), byName.Name, err)
		}
		byID, err := ModelByID(m.ID)
		if err != nil || byID != m {
			t.Errorf("ModelByID(%04x) = %v, %v", m.ID, byID.Name, err)
		}
	}
	if _, err := ModelByName("BM1384"); !errors.Is(err, ErrModel) {
		t.Errorf("ModelByName(BM1384) = %v", err)
	}
	if _, err := ModelByID(0x1362); !errors.Is(err, ErrModel) {
		t.Errorf("ModelByID(1362) = %v", err)
	}
}

// TestJobIDs checks the §6.3 sequences and the b7 packing of §13 pitfall 4.
func TestJobIDs(t *testing.T) {
	cases := []struct {
		m     Model
		first []byte
		slots int
	}{
		{BM1397, []byte{0, 4, 8, 12}, 32},
		{BM1366, []byte{0, 8, 16, 24}, 16},
		{BM1368, []byte{0, 24, 48, 72, 96, 120, 16}, 16},
		{BM1370, []byte{0, 24, 48, 72, 96, 120, 16}, 16},
	}
	for _, c := range cases {
		t.Run(c.m.Name, func(t *testing.T) {
			var got []byte
			for id, i := byte(0), 0; i < len(c.first); i, id = i+1, c.m.NextJobID(id) {
				got = append(got, id)
			}
			if diff := cmp.Diff(c.first, got); diff != "" {
				t.Errorf("sequence (-want +got):\n%s", diff)
			}
			if n := c.m.JobSlots(); n != c.slots {
				t.Errorf("JobSlots = %d, want %d", n, c.slots)
			}
			for id, i := byte(0), 0; i < c.slots; i, id = i+1, c.m.NextJobID(id) {
				for sub := range c.m.SmallCores {
					r := c.m.EncodeNonce(id, sub, [4]byte{}, uint16(sub))
					n := c.m.DecodeNonce(r)
					if n.JobID != id || n.SubIndex != sub {
						t.Fatalf("id %02x sub %d: b7 %02x decodes to %02x/%d", id, sub, r.B7, n.JobID, n.SubIndex)
					}
				}
			}
		})
	}
	if b := BM1368.JobByte(0x18, 3); b != 0x33 {
		t.Errorf("BM1368 b7 for job 18 core 3 = %02x, want 33", b)
	}
	if b := BM1366.JobByte(0x18, 3); b != 0x1b {
		t.Errorf("BM1366 b7 for job 18 core 3 = %02x, want 1b", b)
	}
	if b := BM1397.JobByte(0x60, 3); b != 0x63 {
		t.Errorf("BM1397 b7 for job 60 index 3 = %02x, want 63", b)
	}
}

// TestCRC5Table checks the byte-wise CRC5 against the bit loop of §1.3 on
// every prefix of a pseudo-random stream.
func TestCRC5Table(t *testing.T) {
	b := make([]byte, 300)
	x := uint32(1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	for n := range b {
		if got, want := CRC5(b[:n]), crc5Bits(0x1f, b[:n], 8*n); got != want {
			t.Fatalf("CRC5 of %d bytes = %#02x, bit loop %#02x", n, got, want)
		}
	}
}
