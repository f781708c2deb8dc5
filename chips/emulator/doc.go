// Package emulator is a chain of BM13xx hashing chips in software that
// behaves like the real chips on the wire: it answers the frames of
// ../../../shared/docs/bm13xx-protocol.md (decoded with chips/bm13xx) on any
// byte stream, typically a pseudo-terminal (hal/sim), so that the driver
// code that runs in tests is the code that runs on hardware.
//
// What it reproduces:
//   - Enumeration and addressing: after reset every chip has address 0 and
//     relays; a broadcast read gets one reply per chip in chain order;
//     after chain inactive each set-address frame is taken by the first
//     chip still waiting for one. Addressed reads and writes act on the
//     chips with that address, broadcast writes on all; writes produce no
//     reply. Each chip keeps a register file.
//   - Settings: PLL0 (the hash clock, bm13xx.PLLFrequency), ticket mask
//     (0x14) and the simulation ticket (bm13xx.RegSimTicket), version
//     rolling (0xA4: enable, mask and the switch from 9- to 11-byte
//     replies on BM1366+), baud (0x28 / 0x18, recorded; a pseudo-terminal
//     carries bytes at any rate), HCN (0x10), core-register reads
//     (0x3C → an unsolicited 0x40 reply) and the hash counters (0x88–0x8C,
//     counting the hashes of the chip being emulated, i.e. real hashes ×
//     ScaleDown, in units of 2^32).
//   - Hashing: real SHA-256d with hal/cpu/kernel over each chip's own part
//     of the search space (bm13xx.Model.NonceRange between its address and
//     the next chip's; on BM1366+ the version fields of the mask, small core
//     s rolling the fields whose low bits are s; on BM1397 the job's
//     midstates), paced to FrequencyMHz·1e6·Cores·SmallCores / ScaleDown
//     H/s per chip (DefaultScaleDown 1e5: a BM1366 at 485 MHz hashes about
//     4.3 MH/s). Every nonce whose hash meets the ticket is reported with
//     the model's job-id packing and version field.
//   - Faults: stopped chips (silent but relaying), corrupted nonces at a
//     configurable rate, when the core voltage is below the floor for the
//     clock (MinStableVoltageMV) or when the clock is above the chip's
//     hidden maximum stable frequency, noise and CRC errors on the line.
//   - Silicon lottery: each chip has its own maximum stable frequency,
//     DefaultMHz × 1.08–1.30 drawn from the seed and its index
//     (DrawMaxStableMHz); above it min(1, 3·(f − fmax)/fmax) of its nonces
//     are corrupted, so tuning has a limit to find per chip.
//   - Power: a hashing chip draws IdlePowerW + Cdyn·f·V² (ChipPowerW, 11 W
//     for a BM1366 at 485 MHz and 1.2 V); one that does not hash draws
//     IdlePowerW.
//   - Heat: each chip's die temperature follows ambient +
//     HeatCoefficient·f·V² at its own clock (scaled by the cooling factor)
//     with a first-order lag of ThermalTimeConstant.
//
// Open points of the protocol are settled here as follows: the order of
// replies to a broadcast read is chain order; surplus set-address frames
// (no chip waiting) are ignored; a chip waiting for an address still acts
// on frames meant for it but relays nothing downstream; BM1366+ chips OR
// the rolled field into the base version; reply byte b6 of a nonce is 0.
// One goroutine per chain does all the hashing, so chains of 100+ chips
// cost one goroutine; when the CPU cannot keep up, chips simply hash
// slower than their nominal rate.
package emulator
