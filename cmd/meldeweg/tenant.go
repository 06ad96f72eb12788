package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/exchange"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// checkProvider refuses an eM@w upload that does not belong to the run's
// tenant (exit 1): an event for a measure outside the tenant's
// "massnahmen". With several tenants configured, a tenant without
// massnahmen sends no eM@w upload at all; with one, an empty list is not
// checked (the configuration from before tenants).
func (e *env) checkProvider(ctx context.Context, reg *schemas.Registry, data []byte, file string) int {
	s, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if len(s.Massnahmen) == 0 {
		if len(s.Tenants) > 1 {
			return e.failf(exitFindings, "%s: tenant %q lists no massnahmen, so no eM@w upload can be told to be its own; nothing was queued (set \"massnahmen\" of the tenant)", file, s.Tenant)
		}
		return exitOK
	}
	err = exchange.CheckProvider(ctx, msg.NewCodec(reg), data, filepath.Base(file), s.Massnahmen)
	var ue *exchange.UploadError
	if errors.As(err, &ue) {
		for _, f := range ue.Findings {
			fmt.Fprintf(e.stderr, "%s: %s\n", e.name, f)
		}
		return e.failf(exitFindings, "%s belongs to another provider than tenant %q; nothing was queued", file, s.Tenant)
	}
	if err != nil {
		return e.failf(exitError, "%s: %v", file, err)
	}
	return exitOK
}

// loadKEK loads the run's key-encryption key, if one is configured; nil
// without. The key file must not lie in the register's directory (a
// SQLite register) or the payload key directory.
func loadKEK(ctx context.Context, s *settings.Settings) (*payload.KEK, error) {
	if s.KEK.IsZero() {
		return nil, nil
	}
	away := []string{s.Payloads}
	if !s.Register.IsPostgres() {
		away = append(away, filepath.Dir(s.Register.Location))
	}
	k, err := payload.LoadKEK(ctx, payload.KEKSource{File: s.KEK.File, Env: s.KEK.Env, Command: s.KEK.Command, Away: away})
	if err != nil {
		return nil, fmt.Errorf("tenant %q: %w", s.Tenant, err)
	}
	return k, nil
}
