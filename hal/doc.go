// Package hal holds what a control board drives: hash chains, fans,
// temperature sensors, voltage regulators. Each kind of hardware is a small
// interface declared where it is consumed; implementations live in
// subpackages (hal/cpu hashes on the host CPU for test rigs).
package hal
