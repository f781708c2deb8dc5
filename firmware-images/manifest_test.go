package firmware

import "testing"

func TestVersionOrder(t *testing.T) {
	// Each version is older than the next one.
	ordered := []string{
		"0.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1", "1.1", "1.10.0", "2",
	}
	for i := range ordered {
		for j := range ordered {
			a, err := parseVersion(ordered[i])
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseVersion(ordered[j])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.compare(b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

func TestVersionEquivalents(t *testing.T) {
	for _, pair := range [][2]string{{"1", "1.0.0"}, {"v1.2", "1.2.0"}, {"1.2.3+build.7", "1.2.3"}} {
		a, errA := parseVersion(pair[0])
		b, errB := parseVersion(pair[1])
		if errA != nil || errB != nil || a.compare(b) != 0 {
			t.Errorf("%s and %s: %v %v, compare %d", pair[0], pair[1], errA, errB, a.compare(b))
		}
	}
}

func TestVersionRejects(t *testing.T) {
	for _, s := range []string{"", "v", "1.2.3.4", "1..2", "01.2", "1.2.x", "-1", "1.2.3-", "1.2.3-a..b",
		"1.2.3-a_b", "18446744073709551616", "1.2.3-" + string(make([]byte, 70))} {
		if _, err := parseVersion(s); err == nil {
			t.Errorf("parseVersion(%q) accepted", s)
		}
	}
}

func TestSupports(t *testing.T) {
	m := Manifest{Boards: []string{"rpi4-64", "any-arm"}}
	tests := []struct {
		board, arch string
		want        bool
	}{
		{"rpi4-64", "arm64", true},
		{"bitaxe-gamma", "arm", true},
		{"bitaxe-gamma", "arm64", false},
		{"sim", "", false},
		{"any-arm", "arm64", true}, // a literal board name still matches itself
	}
	for _, tc := range tests {
		if got := m.Supports(tc.board, tc.arch); got != tc.want {
			t.Errorf("Supports(%q, %q) = %v, want %v", tc.board, tc.arch, got, tc.want)
		}
	}
}
