// Package baapi is the wire protocol model between Meldeweg and the
// Bundesagentur für Arbeit (BA) endpoints: URL paths, headers, receipts,
// inbox listings and error bodies. It holds pure types and pure functions
// only; the client (transport/client) and the simulator (basim)
// both speak it, so the two cannot drift apart.
//
// # Model, not the official interface
//
// The BA's own transport specifications are not public. This package is
// our model of them, built from the public facts in the project notes:
// an HTTPS upload with a client certificate for XSozial deliveries, and an
// asynchronous mailbox (upload, list, download, OK/NOK acknowledgement)
// for eM@w. Replacing it with the official interface means changing this
// package and the two adapters in transport/client, nothing else.
//
// # Exchange
//
// Every outbound message has a stable [MessageID], chosen once when the
// message is queued and sent unchanged with every attempt in the
// [HeaderMessageID] header and in the path. The receiver records the ID
// before it answers and drops any later upload with the same ID, answering
// it with a [Receipt] of status [ReceiptDuplicate]. A client that lost the
// answer (timeout, reset, crash) therefore simply sends again.
//
//	POST   /{channel}/v1/messages/{id}        upload; answer: 202 + Receipt
//	GET    /{channel}/v1/messages/{id}/reply  XSozial feedback file or eM@w OK/NOK;
//	                                          200 + file, 202 pending, 404 unknown ID
//	GET    /{channel}/v1/inbox                Listing of files offered for download
//	GET    /{channel}/v1/inbox/{file}         one offered file
//	DELETE /{channel}/v1/inbox/{file}         mark it collected (idempotent)
//
// Bodies are sent whole with Content-Length, never chunked, and carry a
// Content-Digest (RFC 9530, sha-256) so both sides check length and hash.
// Receipts repeat size and SHA-256 of what the receiver stored; the client
// compares them with what it sent, so a corrupt answer never counts as a
// delivery.//
// # Envelope
//
// The HTTP layer above moves opaque bytes; what travels in them is fixed
// here, because client and simulator must agree on it exactly.
//
//   - Every upload body is a CMS message made by transport/cms Seal, signed
//     by the sender's signing identity (XSozial: traeger-sign; eM@w:
//     emaw-sign) and encrypted to the BA's encryption certificate
//     (ba-encrypt), profile compat or bsi. The plaintext is, for XSozial,
//     the dataset XML file; for eM@w, the nested upload ZIP of
//     emaw/pack.Write.
//   - Every reply and every inbox file the BA serves is sealed by the BA
//     (ba-sign) to the receiver's encryption certificate (XSozial:
//     traeger-encrypt; eM@w: emaw-encrypt), profile compat. Receivers open
//     them with profile compat and verify the signer against the BA's CA.
//     The plaintext is, for an XSozial reply, a feedback file of the
//     xsozial/feedback format (angenommen, or abgelehnt with the rule
//     findings); for an eM@w reply, an OK/NOK acknowledgement of the
//     emaw/ack format with one Ergebnis per event of the upload; for an
//     eM@w inbox file of kind [KindMessage], one BA→provider message
//     (AnmeldungKontakt, AGHAnmeldung, …) of emaw/msg, valid against the
//     bundle in force for its date.
//   - An upload the BA cannot open (not CMS, not encrypted for ba-encrypt,
//     damaged, bad signature, signer not from the BA's CA, refused
//     algorithm) or, for eM@w, cannot unpack is still answered, never
//     accepted: XSozial with a feedback "abgelehnt" whose finding (stage
//     "Umschlag", rules UMS_*) says why; eM@w with a NOK carrying one
//     Ergebnis under the upload's message ID (also in Datei) and a Fehler
//     code 1010–1019 (rejected: re-sending the same bytes cannot help).
//     When the header cannot be read, the feedback's traegernummer is
//     "unbekannt" and its berichtsmonat the month of receipt, so that the
//     file still parses; the finding says what was wrong.
//   - A failure inside the BA is answered with a BA-internal error
//     (XSozial: rule BA_0500; eM@w: Fehler code 9xxx): the sender
//     re-delivers the same message unchanged.
//
// The [HeaderOutcome] header stays a convenience for logs; the sealed
// file is authoritative.
package baapi
