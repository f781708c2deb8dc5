# Kiln build entry points. Quick start: `make run`, `make test`.

GO      ?= go
DATA    ?= data
HTTP    ?= 127.0.0.1:8080
BIN     := bin/controller
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kilnfw/kiln/cmd/controller/app.Version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 15s

.PHONY: all build run test bench lint fuzz tidy-check clean

all: build

# go-sqlite3 needs a C compiler; scripts/deps.sh installs what a fresh
# machine lacks and does nothing when everything is there.
build:
	@scripts/deps.sh
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/controller
	$(GO) build -trimpath -o bin/stratum-load ./cmd/stratum-load

# Mines on the CPU (the simulated board once it exists) to the embedded demo
# pool; the status page is on http://$(HTTP)/ (user admin, password in
# $(DATA)/initial-admin-password on first start, or KILN_ADMIN_PASSWORD).
run: build
	$(BIN) --data $(DATA) --http $(HTTP) --board auto

test:
	@scripts/deps.sh test
	$(GO) vet ./...
	$(GO) test -race -timeout 9m ./...
	@echo "== arm64 (under qemu): hashing kernels and the mining core"
	GOARCH=arm64 $(GO) test -exec qemu-aarch64 ./hal/cpu/kernel/ ./mining/

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
