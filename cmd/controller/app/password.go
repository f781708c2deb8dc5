package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// settingAdminHash is the store key of the admin password hash.
const settingAdminHash = "admin_password_hash"

// initialPasswordFile is written (mode 0600) under --data when the
// controller had to generate the first admin password.
const initialPasswordFile = "initial-admin-password"

// adminPassword makes sure an admin password exists and returns its checker.
// At first start the password comes from KILN_ADMIN_PASSWORD or, when that
// is unset, is generated at random and written to DATA/initial-admin-password:
// there is never a default password.
func adminPassword(ctx context.Context, st *store.Store, dataDir, env string, log *slog.Logger) (func(string) bool, error) {
	hash, ok, err := st.Setting(ctx, settingAdminHash)
	if err != nil {
		return nil, err
	}
	if !ok {
		pw := env
		if pw == "" {
			pw = rand.Text()
			path := filepath.Join(dataDir, initialPasswordFile)
			if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
				return nil, fmt.Errorf("admin password: %w", err)
			}
			log.Warn("first start: generated the admin password; log in as admin with the password in this file",
				"file", path)
		} else {
			log.Info("first start: admin password set from KILN_ADMIN_PASSWORD")
		}
		if hash, err = webui.HashPassword(pw); err != nil {
			return nil, fmt.Errorf("admin password: %w", err)
		}
		if err := st.SetSetting(ctx, settingAdminHash, hash); err != nil {
			return nil, err
		}
	}
	return func(pw string) bool { return webui.VerifyPassword(hash, pw) }, nil
}
