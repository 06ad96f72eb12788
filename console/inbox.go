package console

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// Work item states of the eM@w inbox, recorded as register entries
// ("received", then "taken-over", then "done").
const (
	ItemNew       = "new"
	ItemTakenOver = "taken over"
	ItemDone      = "done"
)

// Purposes are the purposes a case worker may state before personal
// fields are shown. They are a fixed list so that what the register
// records is never free text that could hold personal data.
var Purposes = []string{
	"Bearbeitung der Anmeldung (process the Anmeldung)",
	"Kontaktaufnahme mit dem Teilnehmer (contact the participant)",
	"Rückfrage der Agentur (query from the Agentur)",
	"Klärung eines Fehlers (resolve an error)",
}

type item struct {
	ID        register.MessageID
	Type      string
	Massnahme string
	Received  time.Time
	Deadline  time.Time
	Overdue   bool
	State     string
	By        string
	entry     register.Entry
}

var (
	receivedTypeRe = regexp.MustCompile(`^received ([A-Za-z]+) for `)
	emawMeasureRe  = regexp.MustCompile(`^emaw massnahme=([0-9/]+)`)
)

// inboxItems reads the inbound eM@w messages and their work state from
// the register; with u, only the measures assigned to u.
func (c *Console) inboxItems(ctx context.Context, now time.Time, u *User) ([]item, error) {
	byID := map[register.MessageID]*item{}
	var order []register.MessageID
	for e, err := range register.All(ctx, c.cfg.Store, "") {
		if err != nil {
			return nil, err
		}
		if e.Channel() != register.ChannelEmaw || e.Direction() != register.DirectionIn {
			continue
		}
		switch e.Event() {
		case register.EventReceived:
			it := &item{ID: e.MessageID(), Received: e.Time(), State: ItemNew, entry: e, Type: "message"}
			if m := receivedTypeRe.FindStringSubmatch(e.Detail()); m != nil {
				it.Type = m[1]
			}
			if m := emawMeasureRe.FindStringSubmatch(e.Correlation().String()); m != nil {
				it.Massnahme = m[1]
			}
			it.Deadline = it.Received.Add(c.cfg.ReplyWithin)
			if _, dup := byID[it.ID]; !dup {
				byID[it.ID] = it
				order = append(order, it.ID)
			}
		case register.EventTakenOver:
			if it := byID[e.MessageID()]; it != nil && it.State == ItemNew {
				it.State, it.By = ItemTakenOver, e.Actor().Name()
			}
		case register.EventDone:
			if it := byID[e.MessageID()]; it != nil && it.State == ItemTakenOver {
				it.State = ItemDone
			}
		}
	}
	var out []item
	for _, id := range order {
		it := byID[id]
		if u != nil && !u.Assigned(it.Massnahme) {
			continue
		}
		it.Overdue = it.State != ItemDone && now.After(it.Deadline)
		out = append(out, *it)
	}
	slices.SortStableFunc(out, func(a, b item) int { return a.Deadline.Compare(b.Deadline) })
	return out, nil
}

type inboxData struct {
	Items      []item
	Massnahmen string
}

func (c *Console) inbox(w http.ResponseWriter, r *http.Request, req *request) {
	items, err := c.inboxItems(r.Context(), req.now, &req.user)
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
		return
	}
	c.render(w, http.StatusOK, "inbox", req, page{Title: "eM@w inbox", Data: inboxData{Items: items, Massnahmen: strings.Join(req.user.Massnahmen, ", ")}})
}

type itemData struct {
	Item     item
	Purposes []string
	Purpose  string
	Personal string
	CanOpen  bool
}

// findItem returns the work item id if the user may see it.
func (c *Console) findItem(w http.ResponseWriter, r *http.Request, req *request) (item, bool) {
	id := register.MessageID(r.PathValue("id"))
	items, err := c.inboxItems(r.Context(), req.now, &req.user)
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
		return item{}, false
	}
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
	}
	c.failAs(w, r, req, http.StatusNotFound, "No inbox item with this ID among the measures assigned to you.")
	return item{}, false
}

func (c *Console) inboxItem(w http.ResponseWriter, r *http.Request, req *request) {
	it, ok := c.findItem(w, r, req)
	if !ok {
		return
	}
	c.render(w, http.StatusOK, "item", req, page{Title: it.Type, Data: itemData{Item: it, Purposes: Purposes, CanOpen: c.cfg.Open != nil}})
}

// inboxView records the access with the stated purpose, then shows the
// personal fields in the response to the POST (never in a URL).
func (c *Console) inboxView(w http.ResponseWriter, r *http.Request, req *request) {
	it, ok := c.findItem(w, r, req)
	if !ok {
		return
	}
	purpose := r.PostFormValue("purpose")
	d := itemData{Item: it, Purposes: Purposes, CanOpen: c.cfg.Open != nil}
	if !slices.Contains(Purposes, purpose) {
		c.render(w, http.StatusBadRequest, "item", req, page{Title: it.Type, Error: "State the purpose of this access: choose one from the list.", Data: d})
		return
	}
	if c.cfg.Open == nil {
		c.failAs(w, r, req, http.StatusServiceUnavailable, "This console cannot open inbound messages (no key configured).")
		return
	}
	// The access is recorded in the transaction that reads (Store.Access):
	// if it cannot be recorded, nothing is shown.
	var text string
	_, err := c.cfg.Store.Access(r.Context(), &register.AccessParams{
		Actor: register.User(req.user.Login), View: "console: personal fields of " + it.Type, Purpose: purpose,
		Channel: register.ChannelEmaw, MessageID: it.ID, Correlation: it.entry.Correlation(),
	}, func(io.Reader) error {
		var err error
		text, err = c.cfg.Open(r.Context(), it.entry)
		return err
	})
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "The message could not be opened, or the access could not be recorded, so nothing is shown: "+err.Error())
		return
	}
	d.Purpose, d.Personal = purpose, text
	c.render(w, http.StatusOK, "item", req, page{Title: it.Type, Data: d})
}

// itemMu serialises work item changes within this process, so that two
// case workers cannot both take over one item here.
var itemMu sync.Mutex

func (c *Console) inboxTake(w http.ResponseWriter, r *http.Request, req *request) {
	c.moveItem(w, r, req, ItemNew, register.EventTakenOver, "took over "+"the work item")
}

func (c *Console) inboxDone(w http.ResponseWriter, r *http.Request, req *request) {
	c.moveItem(w, r, req, ItemTakenOver, register.EventDone, "finished the work item")
}

func (c *Console) moveItem(w http.ResponseWriter, r *http.Request, req *request, from string, ev register.Event, what string) {
	itemMu.Lock()
	defer itemMu.Unlock()
	it, ok := c.findItem(w, r, req)
	if !ok {
		return
	}
	if it.State != from {
		c.failAs(w, r, req, http.StatusConflict, "This item is "+it.State+" already.")
		return
	}
	if _, err := c.cfg.Store.Append(r.Context(), c.itemEntry(it, ev, req, what+" ("+it.Type+")")); err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Recording the change failed: "+err.Error())
		return
	}
	http.Redirect(w, r, "/inbox/"+string(it.ID), http.StatusSeeOther)
}

func (c *Console) itemEntry(it item, ev register.Event, req *request, detail string) register.AppendParams {
	return register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw, Event: ev,
		Actor: register.User(req.user.Login), MessageID: it.ID, Correlation: it.entry.Correlation(), Detail: detail}
}
