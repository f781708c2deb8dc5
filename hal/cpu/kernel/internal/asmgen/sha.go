package main

import (
	"github.com/kilnfw/kiln/hal/cpu/kernel/internal/sha256core"
)

// The SHA-256 definitions the generator folds into constants.

var (
	iv = sha256core.IV
	k  = sha256core.K
)

const (
	padWord   = sha256core.PadWord
	innerBits = sha256core.InnerBits
	outerBits = sha256core.OuterBits
)

// innerW and outerW give the message words that are the same for every
// header: inner W4..W15 and outer W8..W15 (others are zero here).
func innerW(i int) uint32 {
	switch i {
	case 4:
		return padWord
	case 15:
		return innerBits
	}
	return 0
}

func outerW(i int) uint32 {
	switch i {
	case 8:
		return padWord
	case 15:
		return outerBits
	}
	return 0
}
