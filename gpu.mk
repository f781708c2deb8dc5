# OpenCL GPU backend (hal/gpu, build tag opencl). PoCL, an OpenCL
# implementation on the host CPU, stands in where there is no GPU; the
# bench prints which device it measured.
GPU_DEVICE ?= 0

.PHONY: build-gpu test-gpu bench-gpu

build-gpu:
	@scripts/deps.sh gpu
	$(GO) build -tags opencl -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/controller

test-gpu:
	@scripts/deps.sh gpu
	$(GO) vet -tags opencl ./hal/gpu/ ./cmd/controller/app/
	$(GO) test -tags opencl -race -timeout 5m ./hal/gpu/ ./cmd/controller/app/ -run 'GPU|Gpu'

bench-gpu: build-gpu
	$(BIN) bench --board gpu --gpu-device $(GPU_DEVICE) --duration 10s
