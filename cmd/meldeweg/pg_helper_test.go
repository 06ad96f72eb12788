package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"meldeweg.dev/meldeweg/transport/register/pgstore/pgtest"
)

// One PostgreSQL server for the command tests that run on both backends,
// started by the first that asks and stopped by TestMain.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

// postgresRegister returns the URL of a fresh PostgreSQL database, or
// skips the test when PostgreSQL is not installed.
func postgresRegister(t *testing.T) string {
	t.Helper()
	pgOnce.Do(func() { pgServer, pgErr = pgtest.Start() })
	if errors.Is(pgErr, pgtest.ErrNoBinaries) {
		t.Skip(pgErr)
	}
	if pgErr != nil {
		t.Fatalf("starting PostgreSQL: %v", pgErr)
	}
	dsn, err := pgServer.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

func stopPostgres() {
	if pgServer != nil {
		if err := pgServer.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
