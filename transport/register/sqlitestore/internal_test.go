package sqlitestore

import (
	"context"
	"path/filepath"
	"testing"
)

// TestWriterPragmas checks the settings on the store's own writer pool:
// they are per connection, so an outside connection cannot see them.
func TestWriterPragmas(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
	}
	for _, tt := range tests {
		var got string
		if err := s.d.w.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
}
