package register

import (
	"testing"
	"time"
)

// The web console records what its users do as actor kind "user" and,
// for actions that concern no message, on channel "console".
func TestConsoleUserEntries(t *testing.T) {
	a, err := ParseActor("user:anna.schmidt")
	if err != nil || a != User("anna.schmidt") || a.Kind() != ActorUser {
		t.Fatalf("ParseActor(user:…) = %v, %v", a, err)
	}
	for _, bad := range []string{"user:", "user:-x", "person:anna"} {
		if _, err := ParseActor(bad); err == nil {
			t.Errorf("ParseActor(%q) accepted", bad)
		}
	}
	// (Accessed entries have their own shape, see Accessed and AccessParams.)
	for _, ev := range []Event{EventAdmin, EventTakenOver, EventDone} {
		p := AppendParams{Direction: DirectionIn, Channel: ChannelConsole, Event: ev, Actor: User("anna"), Detail: "added user ben with role auditor"}
		if _, err := newEntry(Hash{}, 1, time.Now(), p); err != nil {
			t.Errorf("%s on channel console: %v", ev, err)
		}
	}
	if _, err := newEntry(Hash{}, 1, time.Now(), AppendParams{Direction: DirectionIn, Channel: "web", Event: EventAdmin, Actor: User("anna")}); err == nil {
		t.Error("channel web accepted")
	}
}
