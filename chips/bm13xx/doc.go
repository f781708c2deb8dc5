// Package bm13xx speaks the UART protocol of Bitmain's BM1397, BM1366,
// BM1368 and BM1370 hashing chips and drives a chain of them.
//
// The codec half (commands, job packets, responses, CRCs, register values,
// the nonce and search-space model) is shared with chips/emulator, which
// answers the same bytes: what the emulator decodes is exactly what the
// driver encodes. The driver half ([Chain]) enumerates and configures a
// chain, ramps its clock, switches the line to the fast rate, feeds it work
// from a [WorkSource] and turns nonce responses into [mining.Result]s.
//
// A Chain needs a way to open its serial line (a hal.Chain such as a UART
// or a pseudo-terminal satisfies Port), a WorkSource and a Results sink:
//
//	work := mining.NewDispatcher(nil, mining.UnitsRollVersion()) // BM1366+
//	ch, err := bm13xx.NewChain(bm13xx.ChainConfig{
//		Model: bm13xx.BM1366, Open: open, Work: work,
//		Results: func(r mining.Result) { validator.Check(r) },
//	})
//	go ch.Run(ctx)
//
// Every nonce is attributed to a chip by the chip field of its nonce word
// (see Model.NonceRange) and re-hashed by the driver, so Status counts
// nonces and hardware errors per chip; results still go up unfiltered
// except for nonces of voided jobs, which are counted as stale.
//
// Byte orders follow ../../../shared/docs/bm13xx-protocol.md: register values
// are big-endian on the wire, header fields inside job packets little-endian,
// and nonce bytes travel exactly as they sit in the block header.
package bm13xx

import "errors"

// Errors that decoders and readers wrap; callers branch on them with
// errors.Is.
var (
	// ErrFrame reports bytes that are not a well-formed frame: a wrong
	// preamble, header, length or size.
	ErrFrame = errors.New("bm13xx: malformed frame")
	// ErrCRC reports a frame whose CRC does not match its contents.
	ErrCRC = errors.New("bm13xx: CRC mismatch")
	// ErrNoData is returned by the stream readers when the underlying
	// Read returned nothing (a serial read timeout), so the caller can
	// check its context before asking again.
	ErrNoData = errors.New("bm13xx: no data")
	// ErrModel reports an unknown chip model.
	ErrModel = errors.New("bm13xx: unknown chip model")
	// ErrNoChips reports an enumeration that no chip answered.
	ErrNoChips = errors.New("bm13xx: no chip answered")
	// ErrSilent reports a chain from which nothing arrived for three poll
	// intervals: the chain is lost.
	ErrSilent = errors.New("bm13xx: chain silent")
	// ErrRange reports a setting the chips cannot represent (a frequency,
	// baud rate or chip count out of range).
	ErrRange = errors.New("bm13xx: value out of range")
)
