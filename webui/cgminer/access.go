package cgminer

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// level is what a client address may do.
type level int

const (
	// levelNone: not on the list; disconnected without a reply.
	levelNone level = iota
	// levelRead: report commands only.
	levelRead
	// levelWrite: every command (cgminer's "privileged").
	levelWrite
)

// allowRule is one entry of the access list.
type allowRule struct {
	lvl level
	// any matches every address ("0/0").
	any    bool
	prefix netip.Prefix
}

// allowList is an access list; the first matching rule wins.
type allowList []allowRule

// defaultAllow is Kiln's default: privileged from loopback, read-only from
// everywhere else.
func defaultAllow() allowList {
	return allowList{
		{lvl: levelWrite, prefix: netip.MustParsePrefix("127.0.0.0/8")},
		{lvl: levelWrite, prefix: netip.MustParsePrefix("::1/128")},
		{lvl: levelRead, any: true},
	}
}

// level returns what addr may do: the level of the first matching rule,
// levelNone when none matches. IPv4-mapped IPv6 addresses match IPv4
// rules.
func (l allowList) level(addr netip.Addr) level {
	addr = addr.WithZone("")
	for _, r := range l {
		if r.any || r.prefix.Contains(addr) || r.prefix.Contains(addr.Unmap()) {
			return r.lvl
		}
	}
	return levelNone
}

// parseAllow reads an access list in cgminer's --api-allow syntax: a
// comma-separated list of [W:|R:]address[/prefix]. W: grants every
// command, R: or no letter read-only ones. IPv4 addresses may omit
// trailing octets ("10.0.0/24"); without a prefix length an entry is one
// address; "0/0" is everyone.
func parseAllow(s string) (allowList, error) {
	var l allowList
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		r, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("cgminer: allow entry %q: %w", entry, err)
		}
		l = append(l, r)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("cgminer: allow list %q has no entries", s)
	}
	return l, nil
}

func parseAllowEntry(entry string) (allowRule, error) {
	r := allowRule{lvl: levelRead}
	if len(entry) >= 2 && entry[1] == ':' {
		switch entry[0] {
		case 'W', 'w':
			r.lvl, entry = levelWrite, entry[2:]
		case 'R', 'r':
			entry = entry[2:]
		default:
			// "a::1" is an IPv6 address, "A:10.0.0.1" a cgminer group.
			if _, err := netip.ParseAddr(strings.SplitN(entry, "/", 2)[0]); err != nil {
				return r, fmt.Errorf("access group %q is not supported (use W: or R:)", entry[:1])
			}
		}
	}
	p, err := parseAllowPrefix(entry)
	if err != nil {
		return r, err
	}
	r.prefix = p
	r.any = p.Bits() == 0 && p.Addr().Is4()
	return r, nil
}

// parseAllowPrefix reads address[/bits].
func parseAllowPrefix(s string) (netip.Prefix, error) {
	addrText, bitsText, hasBits := strings.Cut(s, "/")
	var addr netip.Addr
	var err error
	if strings.Contains(addrText, ":") {
		addr, err = netip.ParseAddr(addrText)
		if err == nil && addr.Zone() != "" {
			err = errors.New("zones are not allowed")
		}
	} else {
		addr, err = parsePaddedIPv4(addrText)
	}
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", addrText, err)
	}
	bits := addr.BitLen()
	if hasBits {
		bits, err = strconv.Atoi(bitsText)
		if err != nil || bits < 0 || bits > addr.BitLen() || strings.HasPrefix(bitsText, "+") {
			return netip.Prefix{}, fmt.Errorf("bad prefix length %q (0 to %d)", bitsText, addr.BitLen())
		}
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
}

// parsePaddedIPv4 reads 1 to 4 decimal octets, the missing ones being 0.
func parsePaddedIPv4(s string) (netip.Addr, error) {
	var octets [4]byte
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, errors.New("more than 4 octets")
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || p == "" || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, fmt.Errorf("octet %q is not 0 to 255", p)
		}
		octets[i] = byte(n)
	}
	return netip.AddrFrom4(octets), nil
}
