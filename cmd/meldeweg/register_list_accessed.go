package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"meldeweg.dev/meldeweg/transport/register"
)

// accessedJSON is one read of personal data in "register list --accessed
// --format json".
type accessedJSON struct {
	Seq           int64     `json:"seq"`
	Time          time.Time `json:"time"`
	Actor         string    `json:"actor"`
	ActorKind     string    `json:"actor_kind"`
	View          string    `json:"view"`
	Purpose       string    `json:"purpose"`
	Channel       string    `json:"channel,omitempty"`
	MessageID     string    `json:"message_id,omitempty"`
	Correlation   string    `json:"correlation,omitempty"`
	PayloadSHA256 string    `json:"payload_sha256,omitempty"`
	PayloadSize   int64     `json:"payload_size,omitempty"`
}

// runRegisterListAccessed lists the "accessed" entries.
func runRegisterListAccessed(e *env, o *registerListOptions) int {
	s, _, err := openExistingRegister(e)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	out := []accessedJSON{}
	for en, err := range register.All(context.Background(), s, "") {
		if err != nil {
			return e.failf(exitError, "reading the register: %v", err)
		}
		view, purpose, ok := register.AccessOf(en)
		if !ok || en.Seq() <= o.after {
			continue
		}
		a := accessedJSON{Seq: en.Seq(), Time: en.Time(), Actor: en.Actor().Name(), ActorKind: actorKind(en.Actor()), View: view, Purpose: purpose,
			Channel: string(en.Channel()), MessageID: string(en.MessageID()), Correlation: en.Correlation().String()}
		if ref := en.Payload(); !ref.IsZero() {
			a.PayloadSHA256, a.PayloadSize = ref.SHA256.String(), ref.Size
		}
		out = append(out, a)
		if o.limit > 0 && len(out) == o.limit {
			break
		}
	}
	if o.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return e.failf(exitError, "%v", err)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tWHO\tAS\tVIEW\tWHAT\tPURPOSE")
	for _, a := range out {
		what := a.MessageID
		switch {
		case a.PayloadSHA256 != "":
			what = "sha256:" + a.PayloadSHA256[:16] + "…"
		case a.Correlation != "":
			what = a.Correlation
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Seq, a.Time.Format("2006-01-02T15:04:05Z"), a.Actor, a.ActorKind, a.View, dash(what), a.Purpose)
	}
	tw.Flush()
	return exitOK
}

// actorKind says how the actor was identified.
func actorKind(a register.Actor) string {
	switch a.Kind() {
	case register.ActorUser:
		return "console-user"
	case register.ActorOperator:
		return "os-user"
	}
	return string(a.Kind())
}
