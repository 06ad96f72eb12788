package console

import (
	"bytes"
	"context"

	"meldeweg.dev/meldeweg/emaw/msg"
	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/register"
)

// EmawOpener is the Opener of inbound eM@w messages: it opens the sealed
// payload of a "received" entry with ep's encryption identity (as the
// poll stored it), reads the message with codec and prints it with its
// personal fields (msg.Print).
func EmawOpener(ob *outbox.Outbox, ep *outbox.Endpoint, codec *msg.Codec) Opener {
	return func(ctx context.Context, e register.Entry) (string, error) {
		r, err := ob.Reopen(ctx, ep, e.Payload())
		if err != nil {
			return "", err
		}
		m, b, err := codec.Unmarshal(ctx, r.Plain, string(e.MessageID()))
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := msg.Print(&buf, m, msg.PrintOptions{Version: b.Version, Personal: true}); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
}
