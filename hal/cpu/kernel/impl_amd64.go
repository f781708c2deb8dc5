package kernel

import "golang.org/x/sys/cpu"

// cpuid runs the CPUID instruction.
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// hasSHA reports the SHA extensions (CPUID leaf 7, EBX bit 29), which
// golang.org/x/sys/cpu does not expose on x86.
func hasSHA() bool {
	if maxLeaf, _, _, _ := cpuid(0, 0); maxLeaf < 7 {
		return false
	}
	_, ebx, _, _ := cpuid(7, 0)
	return ebx&(1<<29) != 0
}

// platformImpls lists the amd64 kernels, fastest first on a Zen 5 core.
func platformImpls() []Impl {
	sha := hasSHA() && cpu.X86.HasSSSE3
	avx512 := cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasBMI1 && cpu.X86.HasBMI2
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2
	return []Impl{
		{Name: "avx512-x16", Available: avx512, Scan: scanVec(avx512x16)},
		{Name: "sha-ni-x4", Available: sha, Scan: scanSHANI(shaniX4, 4)},
		{Name: "sha-ni-x2", Available: sha, Scan: scanSHANI(shaniX2, 2)},
		{Name: "avx2-x8", Available: avx2, Scan: scanVec(avx2x8)},
		{Name: "sha-ni-x1", Available: sha, Scan: scanSHANI(shaniX1, 1)},
	}
}
