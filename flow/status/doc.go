// Package status reads where things stand from the register alone, so that
// it answers the same with or without a running service: the XSozial
// deliveries per Träger and month, the outbox, the eM@w mailbox, and — from
// what the caller hands in — the eM@w deadlines and the certificates.
//
// # Contract
//
// Read makes one pass over the register's entries (register.All) and
// builds a Report. It never writes to the register and never opens a
// payload. Every field it fills comes from an entry's plain fields
// (event, message ID, related message, correlation key, time) or from the
// entry details Meldeweg itself writes ("built …, Lieferart 2, …",
// "check PASSED: …", "abgelehnt: 2 Fehler, 0 Hinweise (R1, R2)",
// "received AnmeldungBAE for …"), which hold no personal data. Deadlines
// (Deadlines) and certificates (Certificates) are computed from what the
// caller read with its configuration; Read does not load keys.
//
// A delivery line is one Träger, month and kind (production or test,
// register.XSozialTestKey); its deliveries are the message IDs recorded
// under the line's correlation key, in the order of their first entry. A
// line's Status is that of its last delivery; CorrectionPending is true
// when the last delivery that reached the BA was rejected and no later
// one has been queued. A test delivery that an older version recorded
// under the production key (its "built" entry names an _T.xml file) is
// counted as a test delivery, as flow/monthly does.
//
// The JSON form of Report (its struct tags) is stable: fields are added,
// never renamed or removed; docs/operations.md documents them.
//
// # Limits
//
//   - The register does not record mailbox polls that found nothing, so
//     the mailbox reports the time of the last inbound entry
//     (LastInboundAt), not the time of the last poll.
//   - Rule counts come from the feedback detail, which names the Fehler
//     and Hinweise totals and the distinct rule codes with Fehler; how
//     often each rule fired is in the sealed feedback, which Read does
//     not open.
//   - XSozial deliveries queued without a correlation key ("meldeweg
//     send" of a dataset) belong to no line; they are listed as
//     Unassigned.
//   - Read holds one small record per message in memory: a register of a
//     million messages costs some hundred MB.
package status
