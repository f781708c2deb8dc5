package control

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzResume feeds saved progress, as read back from storage, to
// ParseProgress and Resume: whatever the bytes, nothing panics, a
// progress that Resume accepts runs to a result inside the board's
// limits, and one that ParseProgress accepts survives a JSON round trip.
// The seeds are real progress snapshots of every mode.
func FuzzResume(f *testing.F) {
	cfgs := fuzzConfigs()
	for _, cfg := range cfgs {
		b := newFakeBoard(fakeLimits...)
		c := cfg
		c.OnProgress = func(p Progress) {
			if p.Step%9 == 1 || p.Phase == phaseDone {
				raw, err := json.Marshal(p)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(raw)
			}
		}
		tu, err := NewTuner(b, c)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := tu.Run(context.Background()); err != nil {
			f.Fatal(err)
		}
	}
	f.Add([]byte(`{"version":1,"mode":"max_hashrate","budget":0.01,"phase":"limits","start_mhz":400,"start_mv":1200,` +
		`"chips":[{"stage":"bisect","probe_mhz":500,"good_mhz":600,"bad_mhz":400}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseProgress(raw)
		if err != nil {
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("parsed progress does not marshal: %v", err)
		}
		if _, err := ParseProgress(again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		for _, cfg := range cfgs {
			if cfg.Mode != p.Mode {
				continue
			}
			b := newFakeBoard(fakeLimits...)
			tu, err := NewTuner(b, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tu.Resume(p) != nil {
				continue
			}
			r, err := tu.Run(context.Background())
			if err != nil {
				continue // a failure is an answer; a panic is not
			}
			if err := checkResult(r, tu); err != nil {
				t.Fatalf("resumed run gave %v", err)
			}
		}
	})
}

// fuzzConfigs are one configuration of each mode, small enough to run
// many times.
func fuzzConfigs() []TuneConfig {
	return []TuneConfig{
		{Mode: TuneMaxHashrate, StartMHz: 400, MinNonces: 500},
		{Mode: TunePowerTarget, TargetW: 34, StartMHz: 500, FindLimits: true, MinNonces: 500},
		{Mode: TuneEfficiency, StartMHz: 500, MinNonces: 500, GridPoints: 3},
	}
}
