// Package outbox moves messages between this instance and the BA. It is
// the one outbox: the flows (monthly, exchange) and cmd call it, and it
// drives the transport packages:
//
//	Submit   seal the plain payload for the BA (transport/cms) and queue
//	         it in the register (transport/register) with a "sealed"
//	         entry that keeps the sealed form, encrypted at rest
//	         (register/payload), in the same transaction;
//	Deliver  claim the message, upload it over mutual TLS
//	         (transport/client) and record the outcome as a guarded
//	         transition, until the BA's receipt confirms it or it is
//	         rejected or dead; Send is Submit and Deliver with one commit
//	         fewer;
//	Reply    fetch the BA's answer to a message and open it (decrypt,
//	         verify the BA's signature and chain); Reopen opens a kept one
//	         again, by the same rule;
//	Settle   record what the answer means, acknowledged or rejected,
//	         keeping the answer with its "feedback" entry.
//
// The package is channel-neutral. What a payload is (an XSozial dataset,
// an eM@w ZIP) and what a reply means (a Rückmeldung, an OK/NOK file) is
// for the flows to say. Every step leaves its entry in the register, so a
// delivery can be followed — and resumed after a crash — from the
// register alone.
//
// # What a failed attempt means
//
// One function, decide, says what a failed upload means for its message,
// and the outbox records it as one guarded transition:
//
//	the BA's answer or the network failed     retry-wait, with backoff
//	(connection, timeout, 408, 425, 429, 5xx, (Outbox.Backoff); dead once the
//	corrupt receipt)                          message's attempts are used up
//	the BA refused the upload as such (4xx)   dead at once
//	the BA holds another body under the ID    dead at once (409 conflict); a
//	                                          resend needs a new message ID
//	TLS trust or certificate failure          dead at once; the reason names
//	                                          the certificate and what was
//	                                          expected
//	the kept payload fails authentication     dead at once: corrupt payload,
//	(corruption, tampering)                   naming its SHA-256; never sent
//	the payload is not kept (deleted)         dead at once
//	ctx ended                                 nothing recorded; the message
//	                                          stays in sending for its lease
//
// The HTTP client retries within one claim (transport/client); each HTTP
// attempt is recorded as an "attempt" entry with its outcome (status code
// or a class of error such as "connection reset"; never a body). Attempts
// that the client retries are appended as they happen; the last one
// commits together with the transition it leads to.
//
// # Leases and dead workers
//
// A claimed message is in sending, held by Outbox.Worker ("HOST-PID").
// If that process dies mid-upload, another worker takes the message over
// when the lease (Outbox.Lease) expires; Deliver says on Outbox.Logger
// what it waits for and until when. A holder on the same host whose
// process no longer runs is provably gone: its message is reclaimed at
// once, through the same guarded transitions (retry-wait for the failed
// attempt, then a claim).
//
// # The envelope
//
// Uploads are signed with the sender's signing certificate and encrypted
// to the BA's encryption certificate, in the endpoint's profile. Answers
// and inbound files are signed by the BA and encrypted to the receiver's
// encryption certificate in profile compat (transport/baapi, "Envelope");
// they are opened with the compat floor whatever the upload profile, when
// they come in (Open) and when they are read again (Reopen) alike.
//
// # Limits
//
// A dead holder is recognised only on the same host and only by its
// process ID: a process ID reused by an unrelated process makes the
// outbox wait for the lease, and a holder on another host is always
// waited for. A process killed while it was sending the last of its
// message's attempts is waited for too, since reclaiming it would make
// the message dead. MarkDead is not bound to an attempt (the register's
// transition), so a worker whose lease expired mid-upload can still mark
// a message dead that another worker has meanwhile reclaimed. An answer
// of the BA is opened in memory, bounded by Outbox.MaxAnswerBytes.
//
// Payloads name the key they were sealed with, so a wrong payload key is
// told apart from tampering: payload.ErrWrongKey leaves the message as it
// is (the configuration is wrong, not the message), payload.ErrCorrupt
// marks it dead.
package outbox
