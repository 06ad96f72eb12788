// Package client talks to the BA's endpoints over mutual TLS: uploads with
// a stable message ID, replies (feedback, acknowledgements), the eM@w
// mailbox (list, download, remove). It speaks HTTP and TLS only: the
// outbox (flow/outbox) drives it and records what it reports.
//
// # TLS
//
// ClientTLSConfig and ServerTLSConfig build every TLS configuration from
// one function: TLS 1.2 or newer, a client certificate, and the BA's CA
// as the only root (no fallback to the system pool). The simulator uses
// ServerTLSConfig, which requires and verifies client certificates.
// Handshake checks such a configuration against an endpoint without
// uploading anything ("meldeweg config check --online").
//
// # One retry layer
//
// Each request has exactly one retry layer, go-retryablehttp, with
// exponential backoff and jitter (BackoffPolicy, a one-method RetryPolicy
// with an injectable clock). Retry-After is honoured but capped
// (RetryAfterCap, 60 s by default): go-retryablehttp alone would wait as
// long as a server asks. Every attempt re-sends the whole body, read anew
// through a Body (a file, bytes, or a sealed payload decrypted from rest),
// with Content-Length and Content-Digest set, never chunked; the receiver
// confirms ID, size and SHA-256 in its receipt before a message counts as
// sent. Timeouts bound each phase (dial, TLS handshake, response header,
// the whole attempt); the caller's context bounds all attempts together.
//
// go-resty/resty, the other HTTP library on the project's list, is not
// used: measured here (shared/notes/libraries.md), its retries sent a
// retried upload with an empty body and the server answered 200 — silent
// data loss — and it ignored Retry-After. Stacking it on go-retryablehttp
// would add a second retry layer, which the project rules out.
//
// # What is final
//
// TLS and certificate failures and 4xx answers other than 408, 425 and
// 429 are final. Connection errors, 408, 425, 429, 500, 502, 503 and 504,
// a garbled receipt and a download whose hash does not match are retried.
// An upload body that cannot be opened or read from its source is final
// too (ErrUploadBody, wrapping the source's error): sending again cannot
// fix the source.
//
// A TLS failure is a *TLSError that names the certificate (subject,
// issuer, SHA-256 fingerprint as openssl prints it) and what was expected
// of it: the server name and the pinned CA, or, when the server refused
// the handshake, the client certificate it was shown.
//
// # Every attempt reported
//
// Config.OnAttempt is told before every attempt. How each attempt ended
// (status code, or a class of error such as "connection reset"; never a
// body) goes to the observer of the request's context
// (WithAttemptObserver), so that the outbox can record every attempt of
// an upload in the register.
//
// # Limits
//
// The pinned CAs named in a TLSError come from x509.CertPool.Subjects,
// which cannot list the system pool; the client never uses that pool. A
// request's observer is called on the requesting goroutine and delays the
// request while it runs. With TLS 1.3 a server's refusal of the client
// certificate reaches the client only after its own side of the
// handshake: an upload already writing its body may first see the
// connection break, which is retried, and the refusal comes with the next
// attempt.
package client
