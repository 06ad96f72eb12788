// Package xsd validates XML documents against W3C XML Schemas with
// libxml2's streaming (SAX) validator, and gives the verdict libxml2's
// tree-based validator ("xmllint --schema") gives, with the deliberate
// exceptions listed below.
//
// Memory stays flat whatever the size of the document: nothing is built in
// memory but the element stack, the current text node where the validator
// needs its value, and the set of xs:ID values. Each problem is reported
// with line, column, element path and libxml2's message; a document that is
// not well-formed stops at the first fatal error with its position.
//
// A compiled [Schema] is immutable and may be shared by any number of
// concurrent validations; each validation has its own libxml2 context.
//
// # Never the network
//
// The package never opens a socket and reads no file on its own: every
// resource a schema refers to (xs:include, xs:import, also by absolute
// http(s) URL) is asked of the [Source] it was compiled from, and anything
// a document names (external DTD subsets, external entities) is refused. A
// document that declares DTD entities is refused at the declaration, which
// rules out XXE and entity expansion ("billion laughs") alike.
//
// # What the bridge adds to libxml2's streaming validator
//
// libxml2's streaming validator skips the checks its tree layer makes, and
// has no bounds of its own. A thin C layer (bridge.c) around its SAX
// callbacks adds:
//
//   - xs:ID and xs:IDREF: every value of a type derived from xs:ID (by
//     restriction or as list items, in attributes and in element content)
//     must be unique, and every xs:IDREF (and xs:IDREFS item) must name one.
//     A duplicate is reported at the element that repeats it, naming the
//     line of the first; a dangling reference at its element, after the end
//     of the document. The types are those the validator itself assigned
//     (read from libxml2 2.9.14's private structures, libxml2_private.h), so
//     xsi:type, substitution groups and wildcards count as they validate.
//   - at most two hand-overs per text node: the validator appends every
//     chunk the parser delivers to the value so far with xmlStrncat, which
//     measures the value each time, so a text node cost O(n²) (16 MiB: 1 s,
//     32 MiB: 100 s). The first chunk of a text node goes through as it
//     comes (a short leaf is one chunk, and is never copied); the rest is
//     gathered and handed over once where the validator keeps it (simple
//     content), passed through where it does not (mixed
//     content), and cut after its first offending chunk where text is an
//     error (element-only or empty content): time is linear, and such a text
//     node gives one error, not one per 4 KB.
//   - limits ([Limits]): text nodes, CDATA sections and attribute values
//     longer than MaxTextLength, and names longer than MaxNameLength, are
//     refused, by default at libxml2's own parser limits (10,000,000 and
//     50,000 bytes), which its streaming mode does not apply to text.
//
// # Where streaming and tree mode differ
//
// Tree mode ("xmllint --schema") is the contract. TestAgreesWithTreeMode
// runs each of the following through both and pins the verdicts.
//
// Agreeing with tree mode, by work in the bridge:
//
//   - Duplicate xs:ID attribute values: tree mode rejects them (its ID
//     table), libxml2's streaming mode and "xmllint --stream" do not. The
//     bridge rejects them.
//   - xml:id and attributes declared ID in the internal DTD subset: tree
//     mode puts their values into the same ID table, so a schema ID equal to
//     one of them anywhere in the document is invalid, while two of them
//     with the same value are not (libxml2 prints a DTD validity error but
//     the schema verdict is "valid"). The bridge does the same; the error is
//     reported at whichever of the two comes second.
//   - Attribute defaults from the internal DTD subset: libxml2's SAX parser
//     hands them to the streaming validator, which then judges attributes
//     the document does not have; a tree (without --dtdattr) has none. The
//     bridge drops them.
//   - A large non-whitespace text node in element-only content: one error,
//     as for the single text node of a tree (streaming: one per chunk).
//
// Agreeing without work (tested): xs:ENTITY values (invalid in both, as no
// unparsed entity can be declared), text split by comments or processing
// instructions (one value in both), whitespace in empty content and
// whitespace CDATA in element-only content (errors in both), elements
// under a skip wildcard (not assessed in both), xsi:schemaLocation in a
// document (ignored in both: the document is judged against the compiled
// schema only).
//
// Reported beyond tree mode, as warnings (the verdict stays tree mode's):
//
//   - Duplicate IDs in element content: libxml2 adds only attributes to its
//     ID table; XML Schema (cvc-id) makes every ID unique. The bridge
//     reports the duplicate as a warning with both lines.
//   - Dangling xs:IDREF values: libxml2 never resolves them; cvc-id
//     requires it. The bridge reports each as a warning at its element.
//
// Making these errors would reject documents that the reference accepts,
// and real XÖV examples carry dangling references (the XWasser examples
// in ../shared/conformance, TestConformanceXWasserAgainstXmllint).
//
// Deliberately different from tree mode:
//
//   - DTD entity declarations and external DTD subsets are refused (see
//     "Never the network"); xmllint expands or loads them.
//   - An xs:import or xs:include whose schemaLocation the Source cannot
//     serve makes [Compile] fail; xmllint warns and validates against what
//     it could load (TestSchemaImportsNeverFetchedFromNetwork).
//
// Not followed: ID types reached through a union (xs:union with an xs:ID
// member) are not checked for uniqueness; libxml2's tree mode does not
// check them either.
//
// # Limits
//
// libxml2 2.9 validates XML Schema 1.0, not 1.1. Positions are those of the
// start tag of the element a validity error concerns (the same line the
// tree-based validator of xmllint --schema reports); the column is that of
// the ">" closing the start tag.
//
// The bridge reads private structures of libxml2 2.9.14 (Debian 12). It
// does not compile against other libxml2 headers, and a validation refuses
// to run (an error, never a verdict) if another libxml2 is loaded at run
// time. Moving to another libxml2 means checking libxml2_private.h against
// that version's xmlschemas.c.
//
// Memory: the element stack, one text node where the validator keeps the
// value (up to about twice MaxTextLength while it is handed over: the
// bridge's copy and the validator's), and the ID set. The ID set holds at
// most MaxIDs entries (IDs plus IDREFs not yet resolved where they occur;
// default 1,000,000); each costs about 100 bytes plus its value (plus the
// element path, for an unresolved IDREF). Past MaxIDs the document is
// refused with a [Security] problem naming the limit.
//
// Problems: the same problem at the same element, repeated in a row, is
// reported once with its Count; Options.MaxProblems caps how many are
// reported (Result.Omitted counts the rest; the verdict stays exact).
// Messages quote document values verbatim; [Problem.WithoutValues] withholds
// them for logs and operators.
package xsd
