package monthly

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"meldeweg.dev/meldeweg/flow/outbox"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/xsozial/feedback"
)

// Collected is the feedback collected for one delivery by PollFeedback.
type Collected struct {
	// Message is the delivery after its feedback was recorded.
	Message register.Message
	// Settled is false when another process recorded the feedback first;
	// nothing was recorded by this poll.
	Settled bool
	// Feedback is the BA's Rückmeldung.
	Feedback *feedback.Feedback
}

// PollFeedback asks once for the feedback (Rückmeldung) of every XSozial
// delivery in state sent, opens it and records it: "angenommen" moves the
// delivery to acknowledged, "abgelehnt" to rejected, with the rule codes
// (Verdict). A delivery without feedback yet is left as it is. It returns
// what it recorded, in the order of the deliveries; on error, what was
// recorded before it. A feedback that does not open or parse is an error
// naming the delivery; nothing is recorded for it.
func PollFeedback(ctx context.Context, ob *outbox.Outbox, ep *outbox.Endpoint) ([]Collected, error) {
	msgs, err := ob.Store.Messages(ctx, register.MessagesParams{State: register.MessageSent, Limit: 10000})
	if err != nil {
		return nil, err
	}
	var out []Collected
	for _, m := range msgs {
		if m.Channel != register.ChannelXSozial {
			continue
		}
		r, err := ob.FetchReply(ctx, ep, m.ID)
		if errors.Is(err, outbox.ErrNotReady) {
			continue
		}
		if err != nil {
			return out, err
		}
		fb, err := feedback.Parse(strings.NewReader(string(r.Plain)))
		if err != nil {
			return out, fmt.Errorf("feedback for %s: %w", m.ID, err)
		}
		nm, settled, err := ob.Settle(ctx, m.ID, r, Verdict(fb))
		if err != nil {
			return out, err
		}
		out = append(out, Collected{Message: nm, Settled: settled, Feedback: fb})
	}
	return out, nil
}
