package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"meldeweg.dev/meldeweg/transport/register"
)

//go:embed migration/*.sql
var migrations embed.FS

// MigrationVersions lists the embedded migration numbers in order; the
// PostgreSQL backend has the same numbering.
func MigrationVersions() []int {
	ms, _ := loadMigrations()
	return register.MigrationVersions(ms)
}

func loadMigrations() ([]register.Migration, error) {
	return register.LoadMigrations(migrations, "migration/*.sql")
}

// migrate applies pending migrations, each in its own write transaction,
// and refuses a database from the future.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].Version
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS register_schema (version INTEGER NOT NULL)`); err != nil {
			tx.Rollback()
			return err
		}
		var have int
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(version), 0) FROM register_schema`).Scan(&n, &have); err != nil {
			tx.Rollback()
			return err
		}
		if n > 1 || have > latest {
			tx.Rollback()
			return fmt.Errorf("%w: database has schema version %d, this Meldeweg knows up to %d", register.ErrSchemaVersion, have, latest)
		}
		var next *register.Migration
		for i := range ms {
			if ms[i].Version > have {
				next = &ms[i]
				break
			}
		}
		if next == nil {
			return tx.Rollback()
		}
		if _, err := tx.ExecContext(ctx, next.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %03d: %w", next.Version, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM register_schema`); err != nil {
			tx.Rollback()
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO register_schema (version) VALUES (?)`, next.Version); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
}
