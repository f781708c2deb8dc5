################################################################################
#
# kiln
#
################################################################################

# /etc/kiln-release marks a Kiln image: there the controller owns the
# machine (it may reboot it). /data is the mount point of the data
# partition, which must exist on the read-only root file system.
define KILN_INSTALL_RELEASE
	mkdir -p $(TARGET_DIR)/data
	printf 'NAME=Kiln\nVERSION=%s\n' '$(KILN_VERSION)' > $(TARGET_DIR)/etc/kiln-release
endef
KILN_POST_INSTALL_TARGET_HOOKS += KILN_INSTALL_RELEASE

ifeq ($(BR2_PACKAGE_KILN_PREBUILT),y)

# The binaries from `make firmware-bins`: nothing to download or build.
KILN_SOURCE =
KILN_PREBUILT_DIR = $(call qstrip,$(BR2_PACKAGE_KILN_PREBUILT_DIR))
KILN_PREBUILT_BIN = $(KILN_PREBUILT_DIR)/$(if $(BR2_aarch64),arm64,arm)/controller
KILN_VERSION = $(shell cat $(KILN_PREBUILT_DIR)/firmware-version.txt 2>/dev/null || echo unknown)

define KILN_BUILD_CMDS
	@test -x $(KILN_PREBUILT_BIN) || { \
		echo "kiln: $(KILN_PREBUILT_BIN) is missing: run make firmware-bins in the Kiln tree"; \
		exit 1; }
endef

define KILN_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(KILN_PREBUILT_BIN) $(TARGET_DIR)/usr/bin/controller
endef

$(eval $(generic-package))

else

# Built with Buildroot's Go (1.26 or newer: see go.mod). The Kiln tree this
# BR2_EXTERNAL lives in is the source: no tarball, so no kiln.hash
# (Buildroot checks the hashes of downloads, and a local tree changes with
# every edit).
KILN_SITE = $(BR2_EXTERNAL_KILN_PATH)/..
KILN_SITE_METHOD = local
KILN_VERSION = $(shell git -C $(KILN_SITE) describe --tags --always --dirty 2>/dev/null || echo dev)
KILN_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /bin --exclude /data --exclude /e2e/node_modules \
	--exclude /e2e/screenshots --exclude /buildroot
KILN_GOMOD = github.com/kilnfw/kiln
KILN_BUILD_TARGETS = cmd/controller
KILN_TAGS = nomsgpack netgo osusergo sqlite_omit_load_extension
KILN_LDFLAGS = -s -w -X github.com/kilnfw/kiln/cmd/controller/app.Version=$(KILN_VERSION)
KILN_GOPROXY ?= direct

# A local tree skips Buildroot's download step, where golang packages are
# vendored: vendor the modules here, once host-go is built.
define KILN_VENDOR_MODULES
	cd $(@D) && { test -d vendor || \
		$(HOST_GO_COMMON_ENV) GOFLAGS=-mod=mod GOPROXY=$(KILN_GOPROXY) \
		$(GO_BIN) mod vendor; }
endef
KILN_PRE_BUILD_HOOKS += KILN_VENDOR_MODULES

$(eval $(golang-package))

endif
