# Cross builds of the controller for ARM control boards, and their checks
# under qemu-user. Included from the Makefile; also works on its own:
#   make -f firmware.mk firmware-bins        bin/arm/controller, bin/arm64/controller
#   make -f firmware.mk firmware-test-qemu   both binaries answer --version and the API under qemu
#   make -f firmware.mk firmware-disk-image  bin/kiln-disk-arm64.img (A/B squashfs roots, data, boot)
#
# Include it after the Makefile's first rule, so that rule stays the
# default goal; on its own the default goal is firmware-bins.
#
# The binaries are linked statically (glibc, netgo/osusergo so no NSS
# lookups are needed at run time, no SQLite extension loading so no dlopen):
# they run on any ARMv7 hard-float or arm64 Linux root file system, buildroot
# or not. FIRMWARE_STATIC=0 links them dynamically against the cross glibc.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := firmware-bins
endif

FIRMWARE_ARCHS  ?= arm arm64
FIRMWARE_STATIC ?= 1
FIRMWARE_PKG    := github.com/kilnfw/kiln/cmd/controller
# nomsgpack drops gin's MessagePack codec (nothing here speaks it): 5.8 MB
# of a 19.5 MB arm64 binary.
FIRMWARE_TAGS   := nomsgpack netgo osusergo sqlite_omit_load_extension
FIRMWARE_LDFLAGS = -s -w -X $(FIRMWARE_PKG)/app.Version=$(VERSION)
ifeq ($(FIRMWARE_STATIC),1)
FIRMWARE_LDFLAGS += -linkmode external -extldflags -static
endif

# Per architecture: Go's GOARCH (and GOARM), and Debian's cross compiler.
FIRMWARE_ENV_arm   := GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc
FIRMWARE_ENV_arm64 := GOARCH=arm64 CC=aarch64-linux-gnu-gcc

.PHONY: firmware-bins firmware-deps firmware-test-qemu firmware-disk-image $(FIRMWARE_ARCHS:%=firmware-bin-%)

firmware-deps:
	@scripts/deps.sh firmware

# Each binary is rebuilt every time (the Go build cache makes an unchanged
# one quick); the sizes go to the terminal and to bin/firmware-sizes.txt,
# the version to bin/firmware-version.txt (Buildroot's prebuilt kiln
# package writes it to /etc/kiln-release).
firmware-bins: $(FIRMWARE_ARCHS:%=firmware-bin-%)
	@scripts/firmware-sizes.sh $(FIRMWARE_ARCHS:%=bin/%/controller) > bin/firmware-sizes.txt
	@cat bin/firmware-sizes.txt
	@echo "$(VERSION)" > bin/firmware-version.txt

$(FIRMWARE_ARCHS:%=firmware-bin-%): firmware-bin-%: firmware-deps
	@mkdir -p bin/$*
	CGO_ENABLED=1 GOOS=linux $(FIRMWARE_ENV_$*) $(GO) build -trimpath \
		-tags "$(FIRMWARE_TAGS)" -ldflags "$(FIRMWARE_LDFLAGS)" \
		-o bin/$*/controller ./cmd/controller

# Slow (minutes): kept out of `make test`.
firmware-test-qemu: firmware-bins
	scripts/firmware-qemu-test.sh $(FIRMWARE_ARCHS)

firmware-disk-image: firmware-bin-arm64
	VERSION="$(VERSION)" scripts/disk-image.sh
