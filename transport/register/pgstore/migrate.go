package pgstore

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"meldeweg.dev/meldeweg/transport/register"
)

//go:embed migration/*.sql
var migrations embed.FS

// MigrationVersions lists the embedded migration numbers in order; the
// SQLite backend has the same numbering.
func MigrationVersions() []int {
	ms, _ := loadMigrations()
	return register.MigrationVersions(ms)
}

func loadMigrations() ([]register.Migration, error) {
	return register.LoadMigrations(migrations, "migration/*.sql")
}

// migrationLock is the advisory lock key that serialises migrations.
const migrationLock = 0x6d656c6465776567 // "meldeweg"

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS register_schema (version integer NOT NULL)`); err != nil {
			return err
		}
		var n, have int
		if err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(max(version), 0) FROM register_schema`).Scan(&n, &have); err != nil {
			return err
		}
		if n > 1 || have > latest {
			return fmt.Errorf("%w: database has schema version %d, this Meldeweg knows up to %d", register.ErrSchemaVersion, have, latest)
		}
		for _, m := range ms {
			if m.Version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %03d: %w", m.Version, err)
			}
			have = m.Version
		}
		if _, err := tx.Exec(ctx, `DELETE FROM register_schema`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO register_schema (version) VALUES ($1)`, have)
		return err
	})
}
