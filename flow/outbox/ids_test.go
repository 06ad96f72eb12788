package outbox_test

import (
	"testing"

	"meldeweg.dev/meldeweg/transport/baapi"
	"meldeweg.dev/meldeweg/transport/register"
)

// TestRegisterIDsAreSendable: every ID the register hands out passes the
// wire model's check, so no queued message is undeliverable by its ID.
func TestRegisterIDsAreSendable(t *testing.T) {
	t.Parallel()
	for range 100 {
		id := register.NewMessageID()
		if err := baapi.MessageID(id).Validate(); err != nil {
			t.Fatalf("register.NewMessageID() = %q: %v", id, err)
		}
	}
}
