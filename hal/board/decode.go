package board

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"periph.io/x/conn/v3/physic"

	"github.com/kilnfw/kiln/hal"
)

// The JSON form of a profile: quantities are strings with units ("485MHz",
// "1.2V", "25A"), I²C addresses strings in hex ("0x4C").
type jsonProfile struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Chip        string       `json:"chip"`
	Frequency   string       `json:"frequency"`
	Voltage     string       `json:"voltage"`
	I2CBus      string       `json:"i2c_bus"`
	Chains      []jsonChain  `json:"chains"`
	Devices     []jsonDevice `json:"devices"`
	Detect      struct {
		Models []string `json:"models"`
		I2C    []string `json:"i2c"`
	} `json:"detect"`
}

type jsonChain struct {
	Device         string `json:"device"`
	Chips          int    `json:"chips"`
	Domains        int    `json:"domains"`
	Baud           uint32 `json:"baud"`
	Reset          string `json:"reset"`
	Power          string `json:"power"`
	PowerActiveLow bool   `json:"power_active_low"`
	Regulator      string `json:"regulator"`
}

type jsonDevice struct {
	Name            string  `json:"name"`
	Kind            string  `json:"kind"`
	Addr            string  `json:"addr"`
	Temp            string  `json:"temp"`
	TempOffsetC     float64 `json:"temp_offset_c"`
	Ideality        string  `json:"ideality"`
	Beta            string  `json:"beta"`
	Domains         int     `json:"domains"`
	VinOn           string  `json:"vin_on"`
	VinOff          string  `json:"vin_off"`
	VoutMin         string  `json:"vout_min"`
	VoutMax         string  `json:"vout_max"`
	ScaleLoop       float64 `json:"scale_loop"`
	IoutOCWarn      string  `json:"iout_oc_warn"`
	IoutOCFault     string  `json:"iout_oc_fault"`
	SwitchFrequency string  `json:"switch_frequency"`
	Output          int     `json:"output"`
	PWMChip         int     `json:"pwm_chip"`
	PWMChannel      int     `json:"pwm_channel"`
	PWMFrequency    string  `json:"pwm_frequency"`
	Invert          bool    `json:"invert"`
}

// maxProfileBytes bounds a profile file; real ones are a few kilobytes.
const maxProfileBytes = 1 << 20

// Decode reads one profile in JSON from r and validates it.
func Decode(r io.Reader) (Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxProfileBytes+1))
	if err != nil {
		return Profile{}, fmt.Errorf("board: read profile: %w", err)
	}
	if len(data) > maxProfileBytes {
		return Profile{}, fmt.Errorf("board: profile larger than %d bytes", maxProfileBytes)
	}
	var jp jsonProfile
	if err := strictUnmarshal(data, &jp); err != nil {
		return Profile{}, fmt.Errorf("board: decode profile: %w", err)
	}
	p, err := jp.profile()
	if err != nil {
		return Profile{}, fmt.Errorf("board: profile %q: %w", jp.Name, err)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// decodeTable reads the built-in list of profiles.
func decodeTable(data []byte) ([]Profile, error) {
	var jps []jsonProfile
	if err := strictUnmarshal(data, &jps); err != nil {
		return nil, fmt.Errorf("board: decode profile table: %w", err)
	}
	out := make([]Profile, 0, len(jps))
	seen := map[string]bool{}
	for _, jp := range jps {
		p, err := jp.profile()
		if err != nil {
			return nil, fmt.Errorf("board: profile %q: %w", jp.Name, err)
		}
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("board: profile %q listed twice", p.Name)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}

// strictUnmarshal decodes one JSON value, rejecting unknown fields (a
// misspelt key would otherwise vanish silently) and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the profile")
	}
	return nil
}

func (jp jsonProfile) profile() (Profile, error) {
	p := Profile{Name: jp.Name, Description: jp.Description, Chip: jp.Chip, I2CBus: jp.I2CBus}
	if c, ok := knownChip(p.Chip); ok {
		p.Chip = c
	}
	var err error
	if p.Frequency, err = frequency("frequency", jp.Frequency); err != nil {
		return Profile{}, err
	}
	if p.Voltage, err = potential("voltage", jp.Voltage); err != nil {
		return Profile{}, err
	}
	for _, c := range jp.Chains {
		p.Chains = append(p.Chains, Chain{
			Device: c.Device, Chips: c.Chips, Domains: c.Domains, Baud: hal.Baud(c.Baud),
			Reset: c.Reset, Power: c.Power, PowerActiveLow: c.PowerActiveLow, Regulator: c.Regulator,
		})
	}
	for _, jd := range jp.Devices {
		d, err := jd.device()
		if err != nil {
			return Profile{}, fmt.Errorf("device %q: %w", jd.Name, err)
		}
		p.Devices = append(p.Devices, d)
	}
	p.Detect.Models = jp.Detect.Models
	for _, s := range jp.Detect.I2C {
		a, err := address(s)
		if err != nil {
			return Profile{}, fmt.Errorf("detect: %w", err)
		}
		p.Detect.I2C = append(p.Detect.I2C, a)
	}
	return p, nil
}

func (jd jsonDevice) device() (Device, error) {
	d := Device{
		Name: jd.Name, Kind: Kind(jd.Kind), Temp: jd.Temp,
		Domains: jd.Domains, ScaleLoop: jd.ScaleLoop,
		Output: jd.Output, PWMChip: jd.PWMChip, PWMChannel: jd.PWMChannel, Invert: jd.Invert,
	}
	if math.IsNaN(jd.TempOffsetC) || math.Abs(jd.TempOffsetC) > 100 {
		return Device{}, fmt.Errorf("temp_offset_c %v outside ±100", jd.TempOffsetC)
	}
	d.TempOffset = physic.Temperature(math.Round(jd.TempOffsetC * float64(physic.Celsius)))
	if math.IsNaN(jd.ScaleLoop) || jd.ScaleLoop < 0 || jd.ScaleLoop > 1 {
		return Device{}, fmt.Errorf("scale_loop %v outside 0–1", jd.ScaleLoop)
	}
	var err error
	if d.Ideality, err = optByte("ideality", jd.Ideality); err != nil {
		return Device{}, err
	}
	if d.Beta, err = optByte("beta", jd.Beta); err != nil {
		return Device{}, err
	}
	if jd.Addr != "" {
		if d.Addr, err = address(jd.Addr); err != nil {
			return Device{}, err
		}
	}
	volts := []struct {
		name string
		s    string
		dst  *physic.ElectricPotential
	}{{"vin_on", jd.VinOn, &d.VinOn}, {"vin_off", jd.VinOff, &d.VinOff},
		{"vout_min", jd.VoutMin, &d.VoutMin}, {"vout_max", jd.VoutMax, &d.VoutMax}}
	for _, v := range volts {
		if *v.dst, err = potential(v.name, v.s); err != nil {
			return Device{}, err
		}
	}
	if d.IoutOCWarn, err = current("iout_oc_warn", jd.IoutOCWarn); err != nil {
		return Device{}, err
	}
	if d.IoutOCFault, err = current("iout_oc_fault", jd.IoutOCFault); err != nil {
		return Device{}, err
	}
	if d.SwitchFrequency, err = frequency("switch_frequency", jd.SwitchFrequency); err != nil {
		return Device{}, err
	}
	if d.PWMFrequency, err = frequency("pwm_frequency", jd.PWMFrequency); err != nil {
		return Device{}, err
	}
	return d, nil
}

// address parses a 7-bit I²C address written in hex ("0x4C").
func address(s string) (uint16, error) {
	hex, ok := strings.CutPrefix(strings.ToLower(s), "0x")
	if !ok {
		return 0, fmt.Errorf("i2c address %q: want hex like 0x4C", s)
	}
	v, err := strconv.ParseUint(hex, 16, 16)
	if err != nil || v > 0x7F {
		return 0, fmt.Errorf("i2c address %q: not a 7-bit address", s)
	}
	return uint16(v), nil
}

// optByte parses an optional register value written in hex ("0x24").
func optByte(field, s string) (*uint8, error) {
	if s == "" {
		return nil, nil
	}
	hex, ok := strings.CutPrefix(strings.ToLower(s), "0x")
	v, err := strconv.ParseUint(hex, 16, 8)
	if !ok || err != nil {
		return nil, fmt.Errorf("%s %q: want a hex byte like 0x24", field, s)
	}
	b := uint8(v)
	return &b, nil
}

// The quantity parsers take "" as zero (not set) and insist on a unit, so
// "485" cannot silently mean 485 Hz.

func frequency(field, s string) (physic.Frequency, error) {
	var f physic.Frequency
	if s == "" {
		return 0, nil
	}
	if !strings.HasSuffix(strings.ToLower(s), "hz") {
		return 0, fmt.Errorf("%s %q: want a frequency with its unit, like 485MHz", field, s)
	}
	if err := f.Set(s); err != nil || f < 0 {
		return 0, fmt.Errorf("%s %q: want a frequency like 485MHz", field, s)
	}
	return f, nil
}

func potential(field, s string) (physic.ElectricPotential, error) {
	var v physic.ElectricPotential
	if s == "" {
		return 0, nil
	}
	if err := v.Set(s); err != nil || v < 0 {
		return 0, fmt.Errorf("%s %q: want a voltage like 1.2V", field, s)
	}
	return v, nil
}

func current(field, s string) (physic.ElectricCurrent, error) {
	var c physic.ElectricCurrent
	if s == "" {
		return 0, nil
	}
	if err := c.Set(s); err != nil || c < 0 {
		return 0, fmt.Errorf("%s %q: want a current like 25A", field, s)
	}
	return c, nil
}
