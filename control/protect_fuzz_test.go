package control

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// guardRecord encodes one period of readings for FuzzGuard: a big-endian
// int16 temperature in tenths of a degree, then a flags byte.
func guardRecord(tenths int16, flags byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(tenths)), flags)
}

// Flags of a guardRecord.
const (
	fzTempErr  = 1 << iota // the sensor read fails
	fzNaN                  // the sensor reads NaN
	fzStalled              // a fan is stalled
	fzVoltBad              // the regulator is off its setpoint
	fzWait                 // RecoverAfter passes before this period
	fzStopFail             // Stop fails
)

// FuzzGuard feeds the guard arbitrary device readings and checks its
// promises after every period: a faulty or dangerous reading leaves the
// chain stopped, a running chain's factor stays within its bounds, the
// guard's view matches the plant's, and restarts stay within their limit.
func FuzzGuard(f *testing.F) {
	cat := func(rs ...[]byte) []byte { return slices.Concat(rs...) }
	f.Add(cat(guardRecord(600, 0), guardRecord(760, 0), guardRecord(800, 0), guardRecord(650, fzWait), guardRecord(650, 0)))
	f.Add(cat(guardRecord(600, 0), guardRecord(950, 0), guardRecord(600, fzWait), guardRecord(600, fzWait), guardRecord(950, 0),
		guardRecord(600, fzWait), guardRecord(950, 0), guardRecord(600, fzWait), guardRecord(950, 0), guardRecord(600, fzWait)))
	f.Add(cat(guardRecord(600, fzTempErr), guardRecord(600, fzNaN), guardRecord(1600, 0), guardRecord(-300, 0), guardRecord(600, fzWait)))
	f.Add(cat(guardRecord(400, 0), guardRecord(720, 0), guardRecord(600, fzStalled), guardRecord(600, fzWait|fzVoltBad)))
	f.Add(cat(guardRecord(950, fzStopFail), guardRecord(950, fzStopFail), guardRecord(600, fzWait), guardRecord(600, fzWait)))
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxRecords = 60 // 60 × (10 s + a period) stays inside one restart window
		now := time.Unix(1_700_000_000, 0)
		p := newFakePlant(1, &now)
		g, err := NewGuard(GuardConfig{Plant: p, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		l := g.Limits()
		for k := 0; k+3 <= len(data) && k/3 < maxRecords; k += 3 {
			temp := float64(int16(binary.BigEndian.Uint16(data[k:]))) / 10
			flags := data[k+2]
			if flags&fzWait != 0 {
				now = now.Add(l.RecoverAfter)
			}
			p.set(func(p *fakePlant) {
				p.temps[0], p.tempErr[0], p.vBad[0], p.stalled, p.stopErr = temp, nil, flags&fzVoltBad != 0, nil, nil
				if flags&fzNaN != 0 {
					p.temps[0] = math.NaN()
				}
				if flags&fzTempErr != 0 {
					p.tempErr[0] = errors.New("sensor: no answer")
				}
				if flags&fzStalled != 0 {
					p.stalled = []int{0}
				}
				if flags&fzStopFail != 0 {
					p.stopErr = errors.New("power: stuck")
				}
			})
			g.evaluate(now)
			now = now.Add(GuardPeriod)
			st := g.State()[0]
			running := st.State == StateOK || st.State == StateThrottled
			bad := flags&(fzTempErr|fzNaN|fzStalled) != 0 || !(temp >= l.MinValidC && temp <= l.MaxValidC) || temp >= l.DangerousC
			switch {
			case bad && running:
				t.Fatalf("record %d (%.1f °C, flags %#x): chain left %s", k/3, temp, flags, st.State)
			case running && !(st.Factor >= l.MinFactor && st.Factor <= 1):
				t.Fatalf("record %d: running at factor %v", k/3, st.Factor)
			case running != p.running[0] && !(p.running[0] && flags&fzStopFail != 0):
				t.Fatalf("record %d: guard says %s, plant running %v", k/3, st.State, p.running[0])
			case len(p.starts) > l.MaxRestarts:
				t.Fatalf("record %d: %d restarts inside one window", k/3, len(p.starts))
			}
		}
	})
}
