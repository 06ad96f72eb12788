// Package baapi is the wire protocol model between Meldeweg and the
// Bundesagentur für Arbeit (BA) endpoints: URL paths, headers, receipts,
// inbox listings and error bodies. It holds pure types and pure functions
// only; the client (transport/client) and the simulator (transport/sim)
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
// delivery.
package baapi
