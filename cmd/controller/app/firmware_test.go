package app

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	firmware "github.com/kilnfw/kiln/firmware-images"
)

// testImage builds a signed bundle image of version for board.
func testImage(t *testing.T, key firmware.SecretKey, version, board string, signed bool) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	body := []byte("#!/bin/sh\necho kiln " + version + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "controller", Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	o := firmware.BuildOptions{Version: version, Boards: []string{board}, Kind: firmware.KindBundle}
	if signed {
		o.Key = &key
	}
	var img bytes.Buffer
	if _, err := firmware.Build(&img, bytes.NewReader(tb.Bytes()), o); err != nil {
		t.Fatal(err)
	}
	return img.Bytes()
}

type firmwareView struct {
	Enabled    bool              `json:"enabled"`
	Reason     string            `json:"reason"`
	Active     string            `json:"active"`
	Booted     string            `json:"booted"`
	Pending    string            `json:"pending"`
	Trial      bool              `json:"trial"`
	RolledBack string            `json:"rolled_back"`
	Slots      map[string]string `json:"slots"`
}

func (c *controller) upload(t *testing.T, img []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/firmware?allow_downgrade=false", bytes.NewReader(img))
	req.SetBasicAuth("admin", testPassword)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestFirmwareUpgradeThroughTheAPI: bad images are refused with nothing
// changed; a good one is written to the other slot, tried at the next
// start and confirmed once the controller mines; one whose trial never
// gets to mining is rolled back.
func TestFirmwareUpgradeThroughTheAPI(t *testing.T) {
	key, err := firmware.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pub, _ := key.Public().MarshalText()
	keyFile := filepath.Join(dir, "kiln.pub")
	if err := os.WriteFile(keyFile, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	pool := startTestPool(t, "")
	data := filepath.Join(dir, "data")
	args := []string{"--board", "cpu", "--threads", "1", "--data", data, "--firmware-key", keyFile,
		"--firmware-board", "test-rig", "--health-timeout", "20s", "--pool", pool.url()}
	c := startController(t, args...)

	var fw firmwareView
	c.get(t, "/api/v1/firmware", &fw)
	if !fw.Enabled || fw.Active != "a" || fw.Pending != "" {
		t.Fatalf("fresh firmware state: %+v", fw)
	}
	good := testImage(t, key, "9.0.0", "test-rig", true)
	tampered := bytes.Clone(good)
	tampered[len(tampered)-3] ^= 1
	other, _ := firmware.GenerateKey(rand.Reader)
	for name, img := range map[string][]byte{
		"unsigned":    testImage(t, key, "9.0.0", "test-rig", false),
		"tampered":    tampered,
		"wrong board": testImage(t, key, "9.0.0", "other-board", true),
		"foreign key": testImage(t, other, "9.0.0", "test-rig", true),
		"truncated":   good[:len(good)/2],
		"older":       testImage(t, key, "0.0.1", "test-rig", true),
	} {
		if code, b := c.upload(t, img); code != http.StatusBadRequest {
			t.Errorf("%s image: %d %s, want 400", name, code, b)
		}
	}
	var after firmwareView
	c.get(t, "/api/v1/firmware", &after)
	if after.Pending != "" || after.Active != "a" || len(after.Slots) != len(fw.Slots) {
		t.Fatalf("refused images changed the slots: %+v", after)
	}

	if code, b := c.upload(t, good); code != http.StatusAccepted {
		t.Fatalf("good image: %d %s", code, b)
	}
	c.get(t, "/api/v1/firmware", &fw)
	if fw.Pending != "b" || fw.Slots["b"] != "9.0.0" {
		t.Fatalf("after upload: %+v", fw)
	}

	// "Reboot": the trial start mines, so slot b is confirmed.
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	c = startController(t, args...)
	waitFor(t, 30*time.Second, "slot b confirmed", func() bool {
		c.get(t, "/api/v1/firmware", &fw)
		return fw.Active == "b" && !fw.Trial
	})

	// A trial that never mines (its pool is gone) is abandoned.
	if code, b := c.upload(t, testImage(t, key, "9.1.0", "test-rig", true)); code != http.StatusAccepted {
		t.Fatalf("second image: %d %s", code, b)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	pool.stopServing()
	dead := append(args[:len(args)-4:len(args)-4], "--health-timeout", "2s", "--pool", pool.url())
	c = startController(t, dead...)
	waitFor(t, 30*time.Second, "slot a rolled back", func() bool {
		c.get(t, "/api/v1/firmware", &fw)
		return fw.RolledBack == "a" && fw.Active == "b"
	})
	if !c.hasEvent(t, "firmware_rolled_back") {
		t.Error("no firmware_rolled_back event")
	}
}
