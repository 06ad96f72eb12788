// Package bacheck is the BA side of the simulator: a [sim.Checker] that
// judges every upload the way the Bundesagentur für Arbeit would, and
// answers with a sealed reply, following the envelope convention in the
// transport/baapi package documentation.
//
// For every upload it
//
//  1. opens the CMS message with the BA's encryption key (ba-encrypt,
//     profile compat, so bsi is accepted too) and verifies the signer's
//     chain against the trusted CA. An upload that cannot be opened or
//     verified is answered "rejected", naming why (stage "Umschlag",
//     rules UMS_*; eM@w Fehler codes 1010–1019), never accepted;
//  2. XSozial: runs the same three-stage check as "meldeweg xsozial check"
//     (xsozial/check, same registry and bundles) over the plaintext as it
//     is decrypted, with the sender's Trägernummer taken from the dataset
//     header, and answers with a feedback file (xsozial/feedback):
//     angenommen, or abgelehnt with every finding;
//  3. eM@w: unpacks the nested ZIP with the safe unpacker (emaw/pack),
//     validates every event against the bundle in force for its date
//     (emaw/msg) and the business and correction rules (emaw/rules), and
//     answers with one acknowledgement (emaw/ack) with an Ergebnis per
//     event: OK, rejected (1xxx), provider not assigned (2001), participant
//     unknown (2002) or BA-internal error (9xxx);
//  4. seals the reply with the BA's signing identity (ba-sign) to the
//     receiver's encryption certificate of the channel (traeger-encrypt,
//     emaw-encrypt), profile compat.
//
// # Reaching every acknowledgement outcome
//
// "Provider not assigned" and "participant unknown" need a BA that knows
// measures and participants: give Config.Known (a JSON [Directory], the
// simulator's --known FILE). Without it nobody is checked and those two
// outcomes do not occur. The participants and measures of the inbound
// Anmeldungen the simulator offers ([Anmeldungen]) are added to it, so a
// provider that answers an Anmeldung is known. A BA-internal error is
// injected with Config.BAErrors: the first N deliveries of each event (by
// NachrichtID) get code 9001, so a client that re-delivers gets OK in the
// end.
//
// # Privacy
//
// XSozial plaintext is piped from the decryption into the check and never
// written to disk; the eM@w ZIP is held in memory only (it is bounded by
// the unpacker's limits). Findings name records by their keys as the
// check does; participant findings in acknowledgements never repeat a
// Kundennummer or cosachid. Log lines carry message IDs and outcomes only.
//
// # Limits
//
//   - One eM@w mailbox for all providers: the simulator does not separate
//     providers by client certificate, and any signer that chains to the
//     trusted CA with a signing key usage is accepted for either channel.
//   - The upload carries no file name, so the RTX file-name convention is
//     not checked; the feedback names the conventional file name built
//     from the header.
//   - The correction rules look only at events acknowledged by this
//     simulator process (kept in memory).
package bacheck
