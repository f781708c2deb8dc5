//go:build !amd64 && !arm64

package kernel

// platformImpls lists the architecture-specific implementations: none here.
func platformImpls() []Impl { return nil }
