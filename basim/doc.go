// Package basim is a BA counterpart for the demo and the tests: an mTLS
// server speaking the baapi wire model. It stores and deduplicates
// uploads, judges them with a Checker (decrypt, verify, validate), answers
// XSozial deliveries with feedback files and eM@w uploads with OK/NOK
// acknowledgements, offers inbound eM@w messages for download, and on
// request injects faults.
//
// The package holds one idea per file: server.go (configuration,
// listener, TLS, routing, timeouts), handlers.go (one handler per
// endpoint), store.go (what the simulator keeps on disk), checker.go
// (judging an accepted upload), mailbox.go (the files offered for
// download) and faults.go (injected failures).
//
// # Durable record
//
// Every first upload of a message ID is written to Config.Dir/uploads and
// recorded as one line of Config.Dir/accepted.jsonl, both synced, before
// the receipt goes out. The file is the simulator's proof of what it
// accepted: tests read it (ReadAccepted) to check that every message
// arrived exactly once. A restarted simulator reloads it, so duplicates
// are dropped across restarts too.
//
// Every reply is written to Config.Dir/replies/<channel>/<id>.json (synced,
// through a rename) before it is offered. A restarted simulator serves the
// stored reply instead of judging the upload again: a sealed reply is
// randomised, and the same message must never get two different answers.
// Only an upload whose check was cut short by a shutdown is judged again.
//
// # Limits
//
// The simulator is a model, not the BA: one process, state in one
// directory, one mailbox per channel for all clients, no authorisation
// beyond "the client certificate chains to the configured CA". Files in
// Dir/inbox/<channel>/ are offered again after a restart even when they
// were collected (DELETE) before.
package basim
