// Package xsozial is the dataset of the XSozial-BA-SGB II delivery (§ 51b
// SGB II) as Meldeweg models it: the record kinds and their Merkmale, a
// streaming writer and a streaming reader of the dataset's XML.
//
// # A model, not the BA's format
//
// The BA's schema is not public. The embedded bundles
// schemas/bundles/xsozial-ba-sgb2-*/ are models built from public facts
// (modules, Merkmal numbers, keys); this package writes and reads exactly
// their layout:
//
//	<xsozial xmlns="urn:meldeweg:modell:xsozial-ba-sgb2">
//	  <kopf>…K.1–K.9…</kopf>
//	  <bg>                         one block per Bedarfsgemeinschaft
//	    <bgnummer>…</bgnummer>     2.1
//	    <bgmonat>…</bgmonat>*      module 2, one per Zahlmonat (2.8)
//	    <person>…</person>*        module 3, one per person and month
//	    <anspruch>…</anspruch>*    module 7 (7.9 Anspruchsmonat)
//	    <massnahme>…</massnahme>*  module 13
//	    <arbeitsuche>…</arbeitsuche>* module 14
//	    <widerspruch>…</widerspruch>* module 16
//	    <but>…</but>*              module 18 (18.5 Bedarfsmonat)
//	  </bg>
//	  <finanzen>…</finanzen>*      module 1, per month
//	</xsozial>
//
// Every leaf element is one Merkmal; [Kinds] lists them with their numbers,
// so findings can name the Merkmal of any element. The writer puts one
// element per line, so a line number names one Merkmal of one record.
//
// # Full restatement and the waiting time
//
// A file is the complete snapshot of a Träger for a reporting month: the
// reporting month and the [WaitingMonths] months before it (late facts are
// reported for the month they concern). A record missing from a later file
// counts as cancelled.
//
// # Limits
//
// [Reader] is a scanner for this layout, not a general XML parser: it does
// not resolve namespaces (the XSD stage checks them), refuses DOCTYPE
// declarations and skips elements it does not know, counting them, so that
// a caller can tell a complete reading from a partial one.
package xsozial
