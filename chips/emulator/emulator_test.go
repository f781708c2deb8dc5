package emulator

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnfw/kiln/chips/bm13xx"
)

// rollMask is the Stratum version mask the tests roll in.
const rollMask = 0x1fffe000

func TestEnumerationGolden(t *testing.T) {
	cases := []struct {
		name  string
		model bm13xx.Model
		long  bool
		reply []byte
	}{
		{"BM1397 always 9 bytes", bm13xx.BM1397, false, []byte{
			0xaa, 0x55, // preamble
			0x13, 0x97, 0x18, 0x00, // chip id, core byte, address 0
			0x00, 0x00, // b6 address, b7 register
			0x06, // CRC5
		}},
		{"BM1366 before version rolling", bm13xx.BM1366, false, []byte{
			0xaa, 0x55, 0x13, 0x66, 0x00, 0x00, 0x00, 0x00,
			bm13xx.RegisterReply(0, 0, 0x13660000, false).Encode()[8], // CRC5 of the short form
		}},
		{"BM1366 after version rolling", bm13xx.BM1366, true, []byte{
			0xaa, 0x55, 0x13, 0x66, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, // version field
			0x05, // CRC5
		}},
		{"BM1370 after version rolling", bm13xx.BM1370, true, []byte{
			0xaa, 0x55, 0x13, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const chips = 3
			_, h := startChain(t, Config{Model: tc.model, Chips: chips})
			if tc.long {
				h.cmd(bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
			}
			h.cmd(bm13xx.ReadAll(bm13xx.RegChipID)) // 55 AA 52 05 00 00 0A
			got := h.readRaw(chips*len(tc.reply)+1, 300*time.Millisecond)
			if !repeated(got, tc.reply, chips) {
				t.Errorf("replies % x, want %d × % x", got, chips, tc.reply)
			}
		})
	}
}

func TestAddressingAndRegisters(t *testing.T) {
	m := bm13xx.BM1366
	c, h := startChain(t, Config{Model: m, Chips: 3})
	addrs := bm13xx.Addresses(3) // 00 40 80
	h.address(addrs)
	h.cmd(bm13xx.SetAddress(0xc0)) // surplus: no chip left to take it

	for _, a := range addrs {
		h.cmd(bm13xx.ReadChip(a, bm13xx.RegChipID))
		got := h.collect(300*time.Millisecond, 1, registers)
		want := []bm13xx.Response{bm13xx.RegisterReply(a, 0, 0x13660000|uint32(a), false)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("read chip %02x (-want +got):\n%s", a, diff)
		}
	}
	h.cmd(bm13xx.ReadChip(0xc0, bm13xx.RegChipID))
	if got := h.collect(150*time.Millisecond, 1, registers); len(got) != 0 {
		t.Errorf("unclaimed address 0xc0 answered: %v", got)
	}

	h.cmd(bm13xx.ReadAll(bm13xx.RegChipID))
	got := h.collect(300*time.Millisecond, 3, registers)
	var order []byte
	for _, r := range got {
		order = append(order, r.B6)
	}
	if diff := cmp.Diff(addrs, order); diff != "" {
		t.Errorf("broadcast reply order (-want +got):\n%s", diff)
	}

	// Addressed and broadcast writes, read back.
	pll, mhz, err := bm13xx.PLL(m, 485)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd(
		bm13xx.WriteChip(0x40, bm13xx.RegA8, 0x000701f0),
		bm13xx.WriteAll(bm13xx.RegAnalogMux, 3),
		bm13xx.WriteAll(bm13xx.RegPLL0, pll),
	)
	reads := []struct {
		addr, reg byte
		want      uint32
	}{
		{0x40, bm13xx.RegA8, 0x000701f0},
		{0x00, bm13xx.RegA8, 0},
		{0x80, bm13xx.RegA8, 0},
		{0x00, bm13xx.RegAnalogMux, 3},
		{0x80, bm13xx.RegAnalogMux, 3},
		{0x80, bm13xx.RegPLL0, pll},
	}
	for _, rd := range reads {
		h.cmd(bm13xx.ReadChip(rd.addr, rd.reg))
		got := h.collect(300*time.Millisecond, 1, registers)
		if len(got) != 1 || got[0].Value() != rd.want || got[0].B6 != rd.addr || got[0].B7 != rd.reg {
			t.Errorf("read %02x of chip %02x: %v, want %08x", rd.reg, rd.addr, got, rd.want)
		}
	}
	for _, st := range c.Chips() {
		if st.FrequencyMHz != mhz || st.Address != addrs[st.Index] {
			t.Errorf("chip %d: %+v, want %v MHz at %02x", st.Index, st, mhz, addrs[st.Index])
		}
	}

	// The switch to 11-byte frames, then to the fast line rate.
	h.cmd(bm13xx.WriteAll(bm13xx.RegVersionRolling, bm13xx.VersionRollingReg(rollMask)))
	h.cmd(bm13xx.ReadChip(0x80, bm13xx.RegChipID))
	raw := h.readRaw(11, 300*time.Millisecond)
	if r, err := bm13xx.DecodeResponse(raw); err != nil || !r.Long || r.Value() != 0x13660080 {
		t.Errorf("after 0xA4: % x (%v), want an 11-byte reply of 13660080", raw, err)
	}
	reg, val, err := bm13xx.FastUARTReg(m, 1000000)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd(bm13xx.WriteAll(reg, val))
	if err := h.port.Drain(); err != nil {
		t.Fatal(err)
	}
	if err := h.port.SetMode(&serialMode1M); err != nil {
		t.Fatalf("set 1 Mbaud on the pty: %v", err)
	}
	h.setLong(true)
	h.cmd(bm13xx.ReadAll(bm13xx.RegChipID))
	if got := h.collect(300*time.Millisecond, 3, registers); len(got) != 3 {
		t.Errorf("at 1 Mbaud: %d replies, want 3", len(got))
	}
	for _, st := range c.Chips() {
		if st.Baud != 1041666 || !st.LongReplies {
			t.Errorf("chip %d: baud %d long %v, want 1041666 and 11-byte replies", st.Index, st.Baud, st.LongReplies)
		}
	}
}

func TestStoppedChipRelays(t *testing.T) {
	c, h := startChain(t, Config{Model: bm13xx.BM1368, Chips: 3})
	addrs := bm13xx.Addresses(3)
	h.address(addrs)
	c.StopChip(1)
	h.cmd(bm13xx.ReadChip(addrs[1], bm13xx.RegChipID))
	if got := h.collect(200*time.Millisecond, 1, registers); len(got) != 0 {
		t.Errorf("stopped chip answered: %v", got)
	}
	h.cmd(bm13xx.ReadChip(addrs[2], bm13xx.RegChipID))
	if got := h.collect(300*time.Millisecond, 1, registers); len(got) != 1 || got[0].B6 != addrs[2] {
		t.Errorf("chip beyond the stopped one: %v, want one reply from %02x", got, addrs[2])
	}
	h.cmd(bm13xx.ReadAll(bm13xx.RegChipID))
	if got := h.collect(300*time.Millisecond, 3, registers); len(got) != 2 {
		t.Errorf("broadcast read with a stopped chip: %d replies, want 2", len(got))
	}
	c.ResumeChip(1)
	h.cmd(bm13xx.ReadChip(addrs[1], bm13xx.RegChipID))
	if got := h.collect(300*time.Millisecond, 1, registers); len(got) != 1 || got[0].B6 != addrs[1] {
		t.Errorf("resumed chip: %v", got)
	}
}

func TestNoiseAndCorruptFrames(t *testing.T) {
	c, h := startChain(t, Config{Model: bm13xx.BM1366, Chips: 1})
	noise := []byte{0xde, 0xad, 0xbe, 0xef, 0xaa, 0x55, 0x01}
	c.InjectNoise(noise)
	if got := h.readRaw(len(noise), 300*time.Millisecond); !repeated(got, noise, 1) {
		t.Errorf("noise on the line: % x, want % x", got, noise)
	}

	c.CorruptNextFrame()
	h.cmd(bm13xx.ReadChip(0, bm13xx.RegChipID))
	raw := h.readRaw(9, 300*time.Millisecond)
	if _, err := bm13xx.DecodeResponse(raw); !errors.Is(err, bm13xx.ErrCRC) {
		t.Errorf("corrupted frame % x decodes with %v, want a CRC error", raw, err)
	}
	// Only the next frame is corrupted; a reader resynchronises after it.
	c.CorruptNextFrame()
	h.cmd(bm13xx.ReadChip(0, bm13xx.RegChipID), bm13xx.ReadChip(0, bm13xx.RegChipID))
	got := h.collect(300*time.Millisecond, 1, registers)
	if len(got) != 1 || got[0].Value() != 0x13660000 {
		t.Errorf("after a corrupted frame: %v", got)
	}
	if s := h.rr.Stats(); s.CRCErrors == 0 {
		t.Errorf("reader stats %+v: want a CRC error counted", s)
	}
}
