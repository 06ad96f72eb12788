// Package source reads the JSON Lines source format a case-management
// system exports for XSozial-BA-SGB II and builds the monthly dataset from
// it.
//
// # The source format
//
// A source is a directory of files named *.jsonl, read in byte order of
// their names as one stream. Each line is one JSON object, a record; its
// "satz" names the record type, the other members are its Merkmale by the
// names below. Empty lines are allowed; nothing else is: an unknown member,
// a missing required one, a value of the wrong shape, a nested value or a
// file that is not *.jsonl stops the build with file, line and field.
//
//	satz         module  members (Merkmal)
//	bg           2       bg (2.1), aktenzeichen (2.2), bewilligung_beginn (2.3),
//	                     bewilligung_ende (2.4), einstellungsgrund (2.5, optional),
//	                     wohnflaeche (2.6), kdu (2.7), zahlmonat (2.8), zahlbetrag (2.9)
//	person       3       bg, kundennummer (3.1), monat (3.2), geburtsdatum (3.3),
//	                     geschlecht (3.4), staatsangehoerigkeit (3.5),
//	                     aufenthaltsstatus (3.6, optional), stellung (3.7),
//	                     erwerbsfaehig (3.8), einkommen (3.9),
//	                     schulabschluss (3.10, optional, from schema 4.3.0)
//	anspruch     7       bg, kundennummer (7.1), leistungsart (7.2), betrag (7.3),
//	                     minderung (7.4, optional), anspruchsmonat (7.9)
//	massnahme    13      bg, kundennummer (13.1), art (13.2), beginn (13.3),
//	                     ende (13.4, optional), wochenstunden (13.5), kosten (13.6)
//	arbeitsuche  14      bg, kundennummer (14.1), status (14.2), beginn (14.3),
//	                     ende (14.4, optional), abgangsgrund (14.5, optional)
//	widerspruch  16      bg, kundennummer (16.1), art (16.2), eingang (16.3),
//	                     gegenstand (16.4), erledigung (16.5, optional),
//	                     ergebnis (16.6, optional)
//	but          18      bg, kundennummer (18.1), leistung (18.2), betrag (18.3),
//	                     bedarfsmonat (18.5)
//	finanzen     1       monat (1.1), regelbedarf (1.2), unterkunft (1.3),
//	                     eingliederung (1.4), einnahmen (1.5)
//
// Value shapes: months "YYYY-MM" and dates "YYYY-MM-DD" as strings; amounts
// (kdu, zahlbetrag, einkommen, betrag, minderung, kosten, finanzen) as JSON
// numbers with at most two decimals, not negative; wohnflaeche and
// wochenstunden as JSON numbers with at most one decimal; erwerbsfaehig as
// true/false; keys of the Schlüsselkatalog as strings of digits ("1");
// bg as "12345BG0000042"; kundennummer as "123A456789". null is the same as
// leaving a member out. Example:
//
//	{"satz":"bg","bg":"12345BG0000001","aktenzeichen":"AZ-1","bewilligung_beginn":"2026-07-01","bewilligung_ende":"2026-12-31","wohnflaeche":62.5,"kdu":640,"zahlmonat":"2026-10","zahlbetrag":1432.17}
//	{"satz":"person","bg":"12345BG0000001","kundennummer":"123A000001","monat":"2026-10","geburtsdatum":"1984-03-09","geschlecht":"2","staatsangehoerigkeit":"0","stellung":"1","erwerbsfaehig":true,"einkommen":0}
//
// # Order
//
// The records of one BG must stand together (in any order among
// themselves); the build writes them in the schema's order, keeping their
// order within a type. A BG whose records reappear after another BG's
// stops the build (the error names both places). This keeps memory flat:
// one BG at a time is held. finanzen records may stand anywhere.
//
// # The snapshot
//
// [Build] writes the reporting month and the [xsozial.WaitingMonths]
// months before it: month records (2.8, 3.2, 7.9, 18.5, 1.1) outside that
// window, and period records (13, 14, 16) that end before it or start
// after the reporting month, are left out and counted in [Stats.Outside],
// never silently. Output is deterministic: the same input and options give
// a byte-identical file.
package source
