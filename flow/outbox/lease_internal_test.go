package outbox

import "testing"

func TestHolderGone(t *testing.T) {
	t.Parallel()
	self := "host-7" // the name's PID need not be this process's
	tests := []struct {
		holder string
		want   bool
	}{
		{"host-4194305", true}, // above Linux's PID_MAX_LIMIT: no such process
		{"other-4194305", false},
		{"host-1", false}, // init runs
		{"host", false},
		{"host-x", false},
		{"w", false},
	}
	for _, tt := range tests {
		if _, got := holderGone(tt.holder, self); got != tt.want {
			t.Errorf("holderGone(%q, %q) = %v, want %v", tt.holder, self, got, tt.want)
		}
	}
}
