package firmware

import (
	"fmt"
	"io"
)

// Slot names one of the two root slots.
type Slot string

// The two slots.
const (
	SlotA Slot = "a"
	SlotB Slot = "b"
)

// Other returns the other slot.
func (s Slot) Other() Slot {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// Valid reports whether s is "a" or "b".
func (s Slot) Valid() bool { return s == SlotA || s == SlotB }

// BootState is what a board's boot logic keeps across reboots.
type BootState struct {
	// Active is the confirmed slot, the one booted by default.
	Active Slot `json:"active"`
	// Pending is a freshly written slot to try, or "" for none.
	Pending Slot `json:"pending,omitempty"`
	// Tries is how many trial boots Pending has left.
	Tries int `json:"tries"`
	// Previous is the slot that was active before Active was confirmed
	// ("" before the first upgrade).
	Previous Slot `json:"previous,omitempty"`
	// Booted is the slot the running system started from; Trial says it
	// is Pending on a trial boot, not yet confirmed.
	Booted Slot `json:"booted,omitempty"`
	Trial  bool `json:"trial,omitempty"`
	// RolledBack is the slot last abandoned because it failed its trial
	// ("" when the last trial was confirmed or none happened).
	RolledBack Slot `json:"rolled_back,omitempty"`
}

// running returns the slot the system runs from now.
func (s BootState) running() Slot {
	if s.Booted.Valid() {
		return s.Booted
	}
	return s.Active
}

// check validates a state read back from storage.
func (s BootState) check() error {
	switch {
	case !s.Active.Valid():
		return fmt.Errorf("active slot %q", s.Active)
	case s.Pending != "" && (!s.Pending.Valid() || s.Pending == s.Active):
		return fmt.Errorf("pending slot %q with active %q", s.Pending, s.Active)
	case s.Tries < 0 || s.Tries > maxTries:
		return fmt.Errorf("tries %d", s.Tries)
	case s.Booted != "" && !s.Booted.Valid(), s.Previous != "" && !s.Previous.Valid(),
		s.RolledBack != "" && !s.RolledBack.Valid():
		return fmt.Errorf("unknown slot name")
	case s.Trial && (s.Pending == "" || s.Booted != s.Pending):
		return fmt.Errorf("trial boot of %q but pending %q", s.Booted, s.Pending)
	}
	return nil
}

// maxTries bounds trial boots: a new slot that cannot confirm itself in a
// few boots will not.
const maxTries = 10

// Payload is a verified image's payload on its way into a slot, with the
// manifest and signature that vouch for it.
type Payload struct {
	// Kind says how to store the payload.
	Kind Kind
	// Size is the payload length.
	Size int64
	// Data yields the payload and, at its end, io.EOF only if the digest
	// matched; any other error means the slot must be left as it was.
	Data io.Reader
	// Manifest and Signature are kept with the slot, so what a slot holds
	// can be checked again later.
	Manifest, Signature []byte
}

// Slots is what a board provides for A/B upgrades: two slots, a boot
// state that survives power loss, and the bootloader's trial logic. The
// development implementation, DirSlots, keeps slots as directories.
type Slots interface {
	// State returns the boot state.
	State() (BootState, error)
	// Write streams p into slot, which must not be the running one. On
	// any error, the power failing included, the slot keeps its old
	// contents whole or is left empty; the running slot and the state
	// are never touched.
	Write(slot Slot, p Payload) error
	// MarkPending makes the next boots try slot, at most tries times,
	// until it is confirmed.
	MarkPending(slot Slot, tries int) error
	// Confirm makes the pending slot, running on a trial boot, the
	// default.
	Confirm(slot Slot) error
	// Abandon drops the pending slot so that the next boot runs the
	// active one again.
	Abandon() error
	// Boot does at startup what the bootloader does on a board: it
	// counts a trial boot of the pending slot, or falls back to the
	// active slot once the pending one is out of tries, and returns the
	// resulting state.
	Boot() (BootState, error)
}
