package board

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:embed profiles.json
var tableJSON []byte

// table decodes the built-in profiles once; a broken table is a build
// defect the tests catch, reported as an error rather than a panic.
var table = sync.OnceValues(func() ([]Profile, error) { return decodeTable(tableJSON) })

// USBName is the profile for USB stick miners: one chain on a USB-serial
// adapter, chip and device given by the user.
const USBName = "usb"

// Profiles returns the built-in profiles, in table order. The slice and
// profiles are copies.
func Profiles() []Profile {
	ps, err := table()
	if err != nil {
		return nil
	}
	out := make([]Profile, len(ps))
	for i, p := range ps {
		out[i] = p.Clone()
	}
	return out
}

// Lookup returns the built-in profile with the given name (a copy).
func Lookup(name string) (Profile, error) {
	ps, err := table()
	if err != nil {
		return Profile{}, err
	}
	i := slices.IndexFunc(ps, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		return Profile{}, fmt.Errorf("board: unknown board %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return ps[i].Clone(), nil
}

// Names lists the built-in profile names, in table order.
func Names() []string {
	ps, _ := table()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

// USB returns the USB stick profile completed with the adapter's device
// path, the chip model and the number of chips on the stick (0 means 1).
func USB(device, chip string, chips int) (Profile, error) {
	p, err := Lookup(USBName)
	if err != nil {
		return Profile{}, err
	}
	c, ok := knownChip(chip)
	if !ok {
		return Profile{}, fmt.Errorf("board: usb: chip %q: want one of %s", chip, strings.Join(Chips, ", "))
	}
	if device == "" {
		return Profile{}, fmt.Errorf("board: usb: no serial device given")
	}
	if chips == 0 {
		chips = 1
	}
	p.Chip = c
	p.Chains[0].Device = device
	p.Chains[0].Chips = chips
	if c == "BM1397" {
		// The rate cgminer's GekkoScience driver runs BM1397 sticks at.
		p.Chains[0].Baud = 1562500
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}
