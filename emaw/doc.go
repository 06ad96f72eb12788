// Package emaw holds the shared vocabulary of eM@w (elektronische
// Maßnahmeabwicklung), the exchange of participant and measure events
// between measure providers (Träger) and the Bundesagentur für Arbeit:
// Maßnahmenummer, Verfahrenszweig, participant keys, calendar dates and
// weeks, and the code lists (Schlüssel) for attendance, exits and
// acknowledgements.
//
// The sub-packages do the work and import this one, never the reverse:
//
//   - [meldeweg.dev/meldeweg/emaw/msg]: one Go type per message type, built
//     with etree and read back; every message is validated against the
//     schema bundle in force for its date before anything else happens.
//   - [meldeweg.dev/meldeweg/emaw/rules]: business rules beyond the XSD and
//     the correction rules over a small "sent events" store.
//   - [meldeweg.dev/meldeweg/emaw/pack]: the nested, deterministic upload
//     ZIP and the safe unpacker for inbound ZIPs.
//   - [meldeweg.dev/meldeweg/emaw/ack]: OK/NOK acknowledgement files,
//     writer and parser, linked to the events they answer.
//   - [meldeweg.dev/meldeweg/emaw/due]: what is due when, from an in-memory
//     state of measures, participants and sent events.
//
// # Model, not the BA's schema
//
// The BA does not publish the eM@w schemas. The bundles emaw@2.15 and
// emaw@2.18 embedded in the binary are models built from public facts
// (see the project's domain notes); where the public record is silent the
// model makes an assumption, and the doc comment says so. An operator who
// holds the official bundle adds it with --schema-dir; it then decides.
package emaw
