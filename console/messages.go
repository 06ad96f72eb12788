package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// messageFilter is the message log's search; none of its fields is
// personal data, so it travels in the query string.
type messageFilter struct {
	Channel, State, Traeger, Massnahme, From, To, ID string
}

func (f messageFilter) match(m register.Message) bool {
	k := m.Correlation.String()
	switch {
	case f.Channel != "" && string(m.Channel) != f.Channel,
		f.State != "" && string(m.State) != f.State,
		f.Traeger != "" && !strings.Contains(k, "traeger="+f.Traeger+" "),
		f.Massnahme != "" && !strings.Contains(k, "massnahme="+f.Massnahme),
		f.ID != "" && !strings.Contains(string(m.ID), f.ID),
		f.From != "" && m.CreatedAt.UTC().Format("2006-01-02") < f.From,
		f.To != "" && m.CreatedAt.UTC().Format("2006-01-02") > f.To:
		return false
	}
	return true
}

type messagesData struct {
	Filter    messageFilter
	Channels  []register.Channel
	States    []register.MessageState
	Messages  []register.Message
	Truncated bool
}

func (c *Console) messages(w http.ResponseWriter, r *http.Request, req *request) {
	q := r.URL.Query()
	f := messageFilter{Channel: q.Get("channel"), State: q.Get("state"), Traeger: q.Get("traeger"),
		Massnahme: q.Get("massnahme"), From: q.Get("from"), To: q.Get("to"), ID: strings.TrimSpace(q.Get("id"))}
	for _, d := range []string{f.From, f.To} {
		if d != "" {
			if _, err := time.Parse("2006-01-02", d); err != nil {
				c.failAs(w, r, req, http.StatusBadRequest, "Date "+d+": expected YYYY-MM-DD.")
				return
			}
		}
	}
	ms, err := c.cfg.Store.Messages(r.Context(), register.MessagesParams{Limit: messagesLimit})
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the outbox failed: "+err.Error())
		return
	}
	d := messagesData{Filter: f, Channels: []register.Channel{register.ChannelXSozial, register.ChannelEmaw},
		States: register.MessageStates(), Truncated: len(ms) == messagesLimit}
	for i := len(ms) - 1; i >= 0 && len(d.Messages) < 500; i-- { // newest first
		if f.match(ms[i]) {
			d.Messages = append(d.Messages, ms[i])
		}
	}
	c.render(w, http.StatusOK, "messages", req, page{Title: "Message log", Data: d})
}

type messageData struct {
	Message   register.Message
	Entries   []register.Record
	Attempts  []register.Record
	Receipts  []register.Record
	Feedback  []register.Record
	Resends   []register.Record
	CanResend bool
}

func (c *Console) message(w http.ResponseWriter, r *http.Request, req *request) {
	id := register.MessageID(r.PathValue("id"))
	m, err := c.cfg.Store.Message(r.Context(), id)
	if errors.Is(err, register.ErrNotFound) || !id.Valid() {
		c.failAs(w, r, req, http.StatusNotFound, "No message with this ID.")
		return
	}
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the message failed: "+err.Error())
		return
	}
	d := messageData{Message: m, CanResend: req.user.Role == RoleOperator && m.State == register.MessageDead}
	for e, err := range register.All(r.Context(), c.cfg.Store, id) {
		if err != nil {
			c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
			return
		}
		rec := e.Record()
		switch {
		case e.Related() == id && e.MessageID() != id:
			if e.Event() == register.EventQueued {
				d.Resends = append(d.Resends, rec)
			}
			continue
		case e.Event() == register.EventAttempt:
			d.Attempts = append(d.Attempts, rec)
		case e.Event() == register.EventReceipt:
			d.Receipts = append(d.Receipts, rec)
		case e.Event() == register.EventFeedback:
			d.Feedback = append(d.Feedback, rec)
		}
		d.Entries = append(d.Entries, rec)
	}
	c.render(w, http.StatusOK, "message", req, page{Title: "Message " + string(id), Data: d})
}

// resend enqueues a dead message again as a new message linked to it
// (ResendOf), with the same sealed payload; the sender picks it up. A
// rejected message is not resent: the BA refused its content, so a person
// must build a new one.
func (c *Console) resend(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	id := register.MessageID(r.PathValue("id"))
	m, err := c.cfg.Store.Message(ctx, id)
	if err != nil {
		c.failAs(w, r, req, http.StatusNotFound, "No message with this ID.")
		return
	}
	if m.State != register.MessageDead {
		c.failAs(w, r, req, http.StatusConflict, "Only a dead message can be resent; this one is "+string(m.State)+".")
		return
	}
	rc, err := c.cfg.Store.Payload(ctx, m.Payload.SHA256)
	if err != nil {
		c.failAs(w, r, req, http.StatusConflict, "The sealed payload is no longer kept, so it cannot be resent: "+err.Error())
		return
	}
	rc.Close()
	n, err := c.cfg.Store.Enqueue(ctx, register.EnqueueParams{Channel: m.Channel, Endpoint: m.Endpoint, Correlation: m.Correlation,
		Payload: m.Payload, ResendOf: m.ID, MaxAttempts: m.MaxAttempts, Actor: register.User(req.user.Login),
		Detail: "resend requested in the console"})
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Enqueueing the resend failed: "+err.Error())
		return
	}
	http.Redirect(w, r, "/messages/"+url.PathEscape(string(n.ID)), http.StatusSeeOther)
}
