package i2cdev

import (
	"fmt"
	"math"
)

// PMBus number formats.
//
// LINEAR11 (SLINEAR11), used for limits and telemetry other than the
// output voltage: a 16-bit word, bits 15:11 a 5-bit two's complement
// exponent N, bits 10:0 an 11-bit two's complement mantissa Y; value
// Y·2^N.
//
// ULINEAR16, used for output-voltage commands and readings: an unsigned
// 16-bit mantissa whose exponent comes from VOUT_MODE bits 4:0 (5-bit two's
// complement, mode bits 7:5 = 000).

// decodeLinear11 returns the value of a LINEAR11 word.
func decodeLinear11(w uint16) float64 {
	n := int(int8(byte(w>>8)) >> 3) // bits 15:11, sign-extended
	y := int(int16(w<<5) >> 5)      // bits 10:0, sign-extended
	return math.Ldexp(float64(y), n)
}

// encodeLinear11 returns the LINEAR11 word closest to v with the most
// precision: the smallest exponent whose mantissa still fits.
func encodeLinear11(v float64) (uint16, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("linear11 %v: %w", v, ErrOutOfRange)
	}
	for n := -16; n <= 15; n++ {
		y := math.Round(math.Ldexp(v, -n))
		if y >= -1024 && y <= 1023 {
			return uint16(n&0x1F)<<11 | uint16(int(y)&0x7FF), nil
		}
	}
	return 0, fmt.Errorf("linear11 %v: %w", v, ErrOutOfRange)
}

// voutExponent extracts the ULINEAR16 exponent from a VOUT_MODE byte.
func voutExponent(mode byte) (int, error) {
	if mode>>5 != 0 {
		return 0, fmt.Errorf("VOUT_MODE %#02x is not ULINEAR16 (mode bits %03b)", mode, mode>>5)
	}
	return int(int8(mode<<3) >> 3), nil
}

// encodeULinear16 returns round(v / 2^exp), failing when it does not fit.
func encodeULinear16(v float64, exp int) (uint16, error) {
	m := math.Round(math.Ldexp(v, -exp))
	if math.IsNaN(m) || m < 0 || m > 0xFFFF {
		return 0, fmt.Errorf("ulinear16 %v V with exponent %d: %w", v, exp, ErrOutOfRange)
	}
	return uint16(m), nil
}

func decodeULinear16(w uint16, exp int) float64 {
	return math.Ldexp(float64(w), exp)
}
