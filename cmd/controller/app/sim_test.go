package app

import (
	"context"
	"testing"
	"time"

	"github.com/kilnfw/kiln/chips/bm13xx"
	"github.com/kilnfw/kiln/hal/sim"
)

type boardView struct {
	Kind   string `json:"kind"`
	Model  string `json:"model"`
	Chains []struct {
		Index  int     `json:"index"`
		Serial string  `json:"serial"`
		State  string  `json:"state"`
		MHz    float64 `json:"frequency_mhz"`
		Chips  []struct {
			Address    int     `json:"address"`
			Nonces     uint64  `json:"nonces"`
			HWErrors   uint64  `json:"hw_errors"`
			Responding bool    `json:"responding"`
			TempC      float64 `json:"temperature_c"`
			VoltageMV  float64 `json:"voltage_mv"`
		} `json:"chips"`
	} `json:"chains"`
}

// TestSimBoardMinesThroughDriver is `--board sim` end to end: chip
// emulators behind pseudo-terminals, the real BM13xx driver through the real
// serial code, shares the demo pool accepts, and every chip visible in
// /api/v1/boards.
func TestSimBoardMinesThroughDriver(t *testing.T) {
	c := startController(t, "--board", "sim", "--sim-chains", "2", "--sim-chips", "3")
	waitFor(t, 60*time.Second, "3 accepted shares", func() bool { return c.summary(t).Accepted >= 3 })
	var boards []boardView
	waitFor(t, 30*time.Second, "nonces from every chip", func() bool {
		c.get(t, "/api/v1/boards", &boards)
		if len(boards) != 1 || len(boards[0].Chains) != 2 {
			return false
		}
		for _, ch := range boards[0].Chains {
			if len(ch.Chips) != 3 {
				return false
			}
			for _, chip := range ch.Chips {
				if chip.Nonces == 0 {
					return false
				}
			}
		}
		return true
	})
	b := boards[0]
	if b.Kind != "sim" || b.Model != "BM1366" {
		t.Errorf("board = %s %s, want sim BM1366", b.Kind, b.Model)
	}
	for _, ch := range b.Chains {
		if ch.State != "mining" || ch.MHz != 485 || ch.Serial == "" {
			t.Errorf("chain %d: state %q at %v MHz on %q", ch.Index, ch.State, ch.MHz, ch.Serial)
		}
		seen := map[int]bool{}
		for _, chip := range ch.Chips {
			if !chip.Responding || chip.HWErrors != 0 || chip.TempC <= 25 || chip.VoltageMV <= 0 {
				t.Errorf("chain %d chip %#x: %+v", ch.Index, chip.Address, chip)
			}
			if seen[chip.Address] {
				t.Errorf("chain %d: address %#x assigned twice", ch.Index, chip.Address)
			}
			seen[chip.Address] = true
		}
	}
	if s := c.summary(t); s.Rejected != 0 || s.HWErrors != 0 || s.Hashrate <= 0 {
		t.Errorf("summary = %+v, want no rejects or hardware errors and a hash rate", s)
	}
}

// TestSimChipModels mines on one chip of each driver path: BM1397 (host
// midstates for version rolling) and BM1370 (rolling on chip).
func TestSimChipModels(t *testing.T) {
	for _, chip := range []string{"BM1397", "BM1370"} {
		t.Run(chip, func(t *testing.T) {
			c := startController(t, "--board", "sim", "--chip", chip)
			waitFor(t, 60*time.Second, "2 accepted shares", func() bool { return c.summary(t).Accepted >= 2 })
			if s := c.summary(t); s.Rejected != 0 || s.HWErrors != 0 {
				t.Errorf("summary = %+v", s)
			}
			var boards []boardView
			c.get(t, "/api/v1/boards", &boards)
			if len(boards) != 1 || boards[0].Model != chip {
				t.Errorf("boards = %+v", boards)
			}
		})
	}
}

// TestSerialBoardsOnExternalEmulator drives chains on serial paths given
// with --serial, as owners of USB sticks and Bitaxe UARTs do, against a chip
// emulator on a pseudo-terminal this test runs itself.
func TestSerialBoardsOnExternalEmulator(t *testing.T) {
	for _, tc := range []struct{ board, chip string }{{"bitaxe", "BM1366"}, {"usb", "BM1397"}} {
		t.Run(tc.board, func(t *testing.T) {
			model, err := bm13xx.ModelByName(tc.chip)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			ext, err := sim.Start(ctx, sim.BoardConfig{Model: model, Chains: 1, ChipsPerChain: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ext.Close() })
			path := ext.SerialPaths()[0]
			c := startController(t, "--board", tc.board, "--chip", tc.chip, "--serial", path,
				"--chip-difficulty", "0.0001", "--frequency", "200",
				// The demo pool is sized for real chips; this one is emulated.
				"--demo-difficulty", "0.001")
			waitFor(t, 60*time.Second, "2 accepted shares", func() bool { return c.summary(t).Accepted >= 2 })
			var boards []boardView
			c.get(t, "/api/v1/boards", &boards)
			if len(boards) != 1 || boards[0].Kind != tc.board || boards[0].Model != tc.chip ||
				len(boards[0].Chains) != 1 || boards[0].Chains[0].Serial != path {
				t.Fatalf("boards = %+v", boards)
			}
			if chips := ext.Emulator(0).Chips(); chips[0].FrequencyMHz != 200 {
				t.Errorf("emulated chip at %v MHz, want the --frequency 200", chips[0].FrequencyMHz)
			}
			if s := c.summary(t); s.Rejected != 0 || s.HWErrors != 0 {
				t.Errorf("summary = %+v", s)
			}
		})
	}
}
