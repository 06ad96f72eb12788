package console

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

var xsozialKeyRe = regexp.MustCompile(`^xsozial traeger=([0-9]+) month=([0-9]{4}-[0-9]{2})( test)?$`)

type deliveryRow struct {
	Traeger string
	Months  []deliveryCell
}

type deliveryCell struct {
	Month, State, ID string
	Test             bool
}

type certRow struct {
	Name, Subject string
	NotAfter      time.Time
	DaysLeft      int
	Warn          bool
}

type dashboardData struct {
	Deliveries []deliveryRow
	Outbox     map[register.MessageState]int
	States     []register.MessageState
	Inbox      map[string]int
	Certs      []certRow
	Truncated  bool
}

const messagesLimit = 10000

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, req *request) {
	ctx := r.Context()
	ms, err := c.cfg.Store.Messages(ctx, register.MessagesParams{Limit: messagesLimit})
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the outbox failed: "+err.Error())
		return
	}
	d := dashboardData{Outbox: map[register.MessageState]int{}, States: register.MessageStates(), Inbox: map[string]int{},
		Truncated: len(ms) == messagesLimit}
	// Per Träger and month, the newest production message decides.
	latest := map[string]map[string]deliveryCell{}
	for _, m := range ms {
		if m.Channel == register.ChannelEmaw {
			d.Outbox[m.State]++
			continue
		}
		k := xsozialKeyRe.FindStringSubmatch(m.Correlation.String())
		if k == nil {
			continue
		}
		if latest[k[1]] == nil {
			latest[k[1]] = map[string]deliveryCell{}
		}
		month := k[2]
		if k[3] != "" {
			month += " test"
		}
		latest[k[1]][month] = deliveryCell{Month: month, State: string(m.State), ID: string(m.ID), Test: k[3] != ""}
	}
	for t, months := range latest {
		row := deliveryRow{Traeger: t}
		for _, cell := range months {
			row.Months = append(row.Months, cell)
		}
		slices.SortFunc(row.Months, func(a, b deliveryCell) int { return strings.Compare(b.Month, a.Month) })
		d.Deliveries = append(d.Deliveries, row)
	}
	slices.SortFunc(d.Deliveries, func(a, b deliveryRow) int { return strings.Compare(a.Traeger, b.Traeger) })
	items, err := c.inboxItems(ctx, req.now, nil)
	if err != nil {
		c.failAs(w, r, req, http.StatusInternalServerError, "Reading the register failed: "+err.Error())
		return
	}
	for _, it := range items {
		d.Inbox[it.State]++
		if it.Overdue {
			d.Inbox["overdue"]++
		}
	}
	for _, ce := range c.cfg.Certificates {
		left := ce.Cert.NotAfter.Sub(req.now)
		d.Certs = append(d.Certs, certRow{Name: ce.Name, Subject: ce.Cert.Subject.CommonName, NotAfter: ce.Cert.NotAfter,
			DaysLeft: int(left.Hours() / 24), Warn: left < c.cfg.ExpiryWarning})
	}
	slices.SortFunc(d.Certs, func(a, b certRow) int { return a.NotAfter.Compare(b.NotAfter) })
	c.render(w, http.StatusOK, "dashboard", req, page{Title: "Dashboard", Data: d})
}
