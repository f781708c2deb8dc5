// Package gpu is the OpenCL hashing backend: it scans whole work units for
// SHA-256d nonces on a GPU (or any OpenCL device, such as PoCL on the host
// CPU), speaking the same Work/Result contract as the CPU backend and the
// hash boards.
//
// The host hashes each header's first 64 bytes once (the midstate); the
// device kernel hashes the second block and the outer SHA-256 for every
// nonce and reports those whose hash's top word is at most a limit. Every
// reported nonce goes through the host's validator like any other unit's.
//
// The backend needs cgo and an OpenCL loader (libOpenCL), so it is only
// compiled with the build tag opencl (make build-gpu). Without it, the
// package holds only ErrNotBuilt.
package gpu

import "errors"

// ErrNotBuilt is returned when the GPU backend is asked for in a binary
// built without OpenCL support, so the user learns how to get one.
var ErrNotBuilt = errors.New("gpu: this build has no OpenCL support; build with -tags opencl (make build-gpu)")
