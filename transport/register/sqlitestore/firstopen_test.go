package sqlitestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"meldeweg.dev/meldeweg/transport/register/sqlitestore"
)

// Several processes (here goroutines with their own pools) opening a new
// register at once all get it: SQLite's switch to WAL answers SQLITE_BUSY
// without waiting, which Open must ride out (xsozial run started twice
// for one month failed with "database is locked" on a fresh register).
func TestConcurrentFirstOpen(t *testing.T) {
	for round := 0; round < 30; round++ {
		file := filepath.Join(t.TempDir(), "r.db")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := sqlitestore.Open(context.Background(), file, sqlitestore.Options{})
				if err != nil {
					errs <- fmt.Errorf("round %d: %w", round, err)
					return
				}
				s.Close()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
