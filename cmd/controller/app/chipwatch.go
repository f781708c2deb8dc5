package app

import (
	"context"
	"fmt"
	"time"

	"github.com/kilnfw/kiln/store"
)

// chipWatchEvery is how often the chips' liveness is compared with the
// last look, to log chips that stop or resume answering.
const chipWatchEvery = time.Second

// watchChips logs every chip that stops answering (it no longer hashes;
// its chain goes on without it) and every chip that comes back.
func (c *core) watchChips(ctx context.Context) error {
	t := time.NewTicker(chipWatchEvery)
	defer t.Stop()
	var last map[[3]int]bool
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := map[[3]int]bool{}
		for _, b := range c.currentHasher().Boards() {
			for _, ch := range b.Chains {
				if ch.State != "mining" {
					continue // a chain down is the protection's or the driver's to report
				}
				for _, chip := range ch.Chips {
					key := [3]int{b.Index, ch.Index, chip.Index}
					now[key] = chip.Responding
					was, seen := last[key]
					switch {
					case seen && was && !chip.Responding:
						c.event(store.LevelError, "protection", "chip_lost",
							fmt.Sprintf("chain %d chip %d stopped answering; the chain mines without it", ch.Index, chip.Index))
					case seen && !was && chip.Responding:
						c.event(store.LevelInfo, "protection", "chip_back",
							fmt.Sprintf("chain %d chip %d answers again", ch.Index, chip.Index))
					}
				}
			}
		}
		last = now
	}
}
