package console

import (
	"strconv"
	"testing"
	"time"
)

// Failures under many distinct login names do not grow the table without
// bound: stale keys go once it is full, locked ones stay.
func TestThrottleForgetsStaleKeys(t *testing.T) {
	th := newThrottle(2, time.Minute, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th.fail(now, "login:locked")
	th.fail(now, "login:locked")
	for i := 0; i <= maxThrottleKeys; i++ {
		th.fail(now, "login:n"+strconv.Itoa(i))
	}
	th.fail(now.Add(2*time.Minute), "login:new")
	if n := len(th.keys); n != 2 {
		t.Fatalf("%d keys after the sweep, want 2 (the locked one and the new one)", n)
	}
	if _, locked := th.locked(now.Add(2*time.Minute), "login:locked"); !locked {
		t.Fatal("the sweep unlocked a locked login")
	}
}
