// Package msg builds and reads eM@w messages: one Go type per message type
// of the catalogue, in both directions (BA to provider and provider to BA).
//
// A message is a Go struct that embeds [Kopf] (the header every message
// carries) and adds its own fields. Field names are the XML element names
// and the JSON keys, in the order of the schema, so
//
//	{"Kopf": {...}, "Teilnehmer": {...}, "Eintrittsdatum": "2026-03-02"}
//
// is an [Eintritt] for "meldeweg emaw new Eintritt --in FILE".
//
// # Validation comes first
//
// A [Codec] writes and reads messages. Marshal builds the XML with etree and
// validates it against the schema bundle in force before returning any
// bytes; Unmarshal validates the bytes before it looks at anything but the
// header fields it needs to choose the bundle. The bundle in force is the
// one of standard "emaw" whose first month is the latest not after the
// month of Kopf.Erstellt (see [schemas.Registry.Select]): a message dated
// 2024-06 is judged by emaw@2.15, one dated 2025-02 by emaw@2.18, and the
// message's version attribute must match.
//
// Business rules beyond the XSD live in package rules; a message that
// passes Marshal or Unmarshal is schema-valid, not necessarily acceptable.
//
// # Hostile input
//
// Unmarshal and ValidateDocument judge the first bytes before they parse
// anything: input that does not begin like XML ([Sniff]) is refused at once
// with [ErrNotXML], naming what kind of data was found and at which byte,
// never quoting it. Choosing the bundle reads at most the first 64 KiB;
// text outside the root element and elements nested deeper than [MaxDepth]
// (32; the schemas nest four) are refused there, with line and column
// ([ErrTooDeep]). Both refine [ErrNotMessage]. Past that point libxml2
// validates and stops at its own depth limit of 256.
//
// # Personal data
//
// Teilnehmer and Person implement slog.LogValuer and log nothing personal.
// Schema problems in personal fields (Kundennummer, Cosachid, Familienname,
// Vorname, Geburtsdatum) have the offending value removed from the message
// text. Print and PrintJSON redact those fields unless asked not to.
package msg
