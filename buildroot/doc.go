// Package buildroot holds no Go code: this folder is Kiln's BR2_EXTERNAL
// tree, which builds a flashable control-board image (a read-only squashfs
// root in two slots, a data partition) around the controller binary. Its
// tests check the tree's structure, so a broken path or a malformed
// defconfig shows up in `make test` rather than hours into a Buildroot
// build.
//
// See README.md in this folder for how to build an image.
package buildroot
