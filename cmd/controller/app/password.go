package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/kilnfw/kiln/store"
	"github.com/kilnfw/kiln/webui"
)

// adminPassword sets the admin password from KILN_ADMIN_PASSWORD (env) at
// first start. Without it the web UI asks for one at first visit, and
// until then no protected route answers: there is never a default
// password. A password already saved is never replaced by env.
func adminPassword(ctx context.Context, st *store.Store, env string, log *slog.Logger) error {
	_, ok, err := st.Setting(ctx, webui.SettingAdminHash)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if env == "" {
		log.Warn("first start: no admin password yet; open the web UI to set it (or set KILN_ADMIN_PASSWORD)")
		return nil
	}
	hash, err := webui.HashPassword(env)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	if err := st.SetSetting(ctx, webui.SettingAdminHash, hash); err != nil {
		return err
	}
	log.Info("first start: admin password set from KILN_ADMIN_PASSWORD")
	return nil
}
