# Kiln build entry points. Quick start: `make run`, `make test`.

GO      ?= go
DATA    ?= data
HTTP    ?= 127.0.0.1:8080
BIN     := bin/controller
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kilnfw/kiln/cmd/controller/app.Version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 15s

.PHONY: all build run test e2e firmware bench lint fuzz tidy-check clean

all: build

# Cross builds for the control boards, their qemu checks and the disk image.
include firmware.mk

# The OpenCL backend (build tag opencl): build-gpu, test-gpu, bench-gpu.
include gpu.mk

# ARM binaries (arm, arm64) and a signed upgrade image for each.
firmware: firmware-bins
	scripts/firmware-image.sh $(FIRMWARE_ARCHS)

# go-sqlite3 needs a C compiler; scripts/deps.sh installs what a fresh
# machine lacks and does nothing when everything is there.
build:
	@scripts/deps.sh
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/controller
	$(GO) build -trimpath -o bin/stratum-load ./cmd/stratum-load
	$(GO) build -trimpath -o bin/kiln-image ./cmd/kiln-image

# Mines on the simulated board (or real hardware when detected) to the
# embedded demo pool; the web UI is on http://$(HTTP)/ and asks for an admin
# password at first visit (unless KILN_ADMIN_PASSWORD set one). The cgminer
# API answers on $(CGMINER).
CGMINER ?= 127.0.0.1:4028
run: build
	$(BIN) --data $(DATA) --http $(HTTP) --cgminer-api $(CGMINER) --board auto

test:
	@scripts/deps.sh test
	$(GO) vet ./...
	$(GO) test -race -timeout 9m ./...
	@echo "== arm64 (under qemu): hashing kernels and the mining core"
	GOARCH=arm64 $(GO) test -exec qemu-aarch64 ./hal/cpu/kernel/ ./mining/

# End-to-end browser test: Debian's Chromium driven by playwright-core
# through setup, login and every page (e2e/run.sh installs what is missing).
e2e: build
	e2e/run.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./mining/ ./hal/cpu/kernel/ ./stratumproxy/ ./store/
	$(BIN) bench --board cpu --duration 10s --threads 1
	$(BIN) bench --board cpu --duration 10s

lint:
	@scripts/deps.sh
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Runs every fuzz target for FUZZTIME each (the seed corpora also run in
# `make test`).
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

tidy-check:
	$(GO) mod tidy -diff
	$(GO) mod verify

clean:
	rm -rf bin
