// Package console is Meldeweg's web console for operators, auditors
// (data-protection officers), case workers and admins: server-rendered
// pages (html/template, assets embedded, no JavaScript) behind an
// http.Handler, served over HTTPS on its own listener (NewServer, Serve).
// "meldeweg console" runs it standalone; "meldeweg serve" can mount the
// same handler.
//
// # Access
//
// Users are local logins in a users file (JSON, mode 0600, rewritten
// atomically with transport/atomicfile; see Users), not in the register
// database: password hashes must be changeable and removable, and the
// register is append-only. Passwords are hashed with argon2id at RFC
// 9106's second recommended parameters (t=3, 64 MiB, p=4, 16-byte salt,
// 32-byte key) and compared in constant time; an unknown login costs a
// hash too.
//
// A login starts a server-side session; the cookie (__Host- prefix,
// Secure, HttpOnly, SameSite=Strict) holds only its random ID. Sessions
// end after IdleTimeout without use, after MaxSession in any case, at
// logout, and when an admin disables the user. Every POST must carry the
// session's CSRF token (a hidden form field) and, if the browser sends
// one, an Origin (or Sec-Fetch-Site) of this console; the login form uses
// a double-submit token cookie. MaxFailures failed logins within
// LockoutWindow lock the login name and, counted separately, the client
// address for Lockout.
//
// Every response carries a Content-Security-Policy without inline script
// or style (default-src 'none'), X-Frame-Options DENY, Referrer-Policy
// no-referrer, nosniff and Cache-Control no-store. No URL holds personal
// data: pages are addressed by message IDs, the message search takes
// only non-personal keys, and personal fields are shown only in the
// response to a POST.
//
// # Roles
//
// Routes lists every route with the roles allowed; guard enforces it on
// the server before any handler runs:
//
//   - operator: dashboard, message log and detail, resend of a dead
//     message (a new message with ResendOf and the same sealed payload).
//   - auditor: dashboard, message log, register head, "verify now",
//     export (JSON Lines), access log. Read-only towards the outbox.
//   - caseworker: the eM@w inbox of the Maßnahmen assigned to them.
//   - admin: users (add, disable, enable).
//
// # What the register records
//
// Entries of actor kind "user" (register.User): "accessed" when a case
// worker views an inbound message's personal fields, with the purpose
// chosen from Purposes (a fixed list, so no free text that could carry
// personal data reaches the register); "taken-over" and "done" for the
// inbox's work items (new → taken over → done); "admin" for user
// changes (channel "console"); and the "queued" entry of a resend. The
// auditor's access log lists them. The access is recorded before the
// data is shown; if recording fails, nothing is shown.
//
// # Limits
//
//   - Hold/release of a message is not offered: it needs a new outbox
//     state, and the outbox table's state CHECK constraint needs a
//     migration (not done here).
//   - Pages read the register from the start on every request (inbox,
//     access log, register head) and at most 10,000 outbox messages; fine
//     for tens of thousands of entries, not for millions.
//   - Sessions and login throttling live in memory: a restart logs
//     everyone out and forgets failures; several instances do not share
//     them.
//   - Two console processes can both take over one work item; within one
//     process takeovers are serialised, and the first "taken-over" entry
//     counts.
//   - The reply deadline of an inbound message is ReplyWithin after its
//     receipt, a house rule; the BA sets none in the message.
//   - No login by client certificate; no alerts, job runs, checkpoints or
//     the check report on the pages yet; feedback is shown as its
//     register entries (the findings summary), not mapped to source lines.
package console
