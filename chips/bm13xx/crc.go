package bm13xx

// CRC5 returns the 5-bit CRC of b used by commands and responses:
// polynomial x⁵+x²+1, initial value 0x1F, bits taken most significant
// first, no reflection and no final XOR. A command carries CRC5 of its bytes
// after the preamble in the low five bits of its last byte; a response's
// last byte makes CRC5 over everything after the preamble come out zero.
func CRC5(b []byte) byte {
	s := byte(0x1f << 3) // the CRC sits in the top five bits
	for _, x := range b {
		s = crc5Table[s^x]
	}
	return s >> 3
}

// crc5Table advances a left-aligned CRC5 register by one message byte.
var crc5Table = func() (t [256]byte) {
	for i := range t {
		s := byte(i)
		for range 8 {
			if s&0x80 != 0 {
				s = s<<1 ^ 0x05<<3
			} else {
				s <<= 1
			}
		}
		t[i] = s
	}
	return t
}()

// crc5Bits continues crc over the first n bits of b, most significant bit of
// each byte first.
func crc5Bits(crc byte, b []byte, n int) byte {
	for i := 0; i < n; i++ {
		bit := (b[i/8] >> (7 - uint(i%8))) & 1
		fb := (crc>>4)&1 ^ bit
		crc = (crc << 1) & 0x1f
		if fb != 0 {
			crc ^= 0x05
		}
	}
	return crc
}

// crc16Table is CRC-16/CCITT-FALSE for every byte value.
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/CCITT-FALSE of b (polynomial 0x1021, initial
// value 0xFFFF, no reflection, no final XOR). Job packets carry it over
// everything after the preamble, high byte first.
func CRC16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, x := range b {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^x]
	}
	return crc
}
