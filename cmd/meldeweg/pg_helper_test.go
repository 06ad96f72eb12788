package main

import (
	"testing"

	"meldeweg.dev/meldeweg/transport/register/pgstore/pgtest"
)

// postgresRegister returns the URL of a fresh PostgreSQL database on a
// server of the test's own, stopped when the test ends, or skips the test
// when PostgreSQL is not installed. (A server shared by the package could
// not be stopped: TestMain hands over to testscript.RunMain, which always
// ends the process itself.)
func postgresRegister(t *testing.T) string { return pgtest.NewTestDB(t) }
