package xsd

// Defaults of [Limits], as libxml2's own parser limits where it has one.
const (
	// DefaultMaxTextLength is libxml2's XML_MAX_TEXT_LENGTH.
	DefaultMaxTextLength = 10_000_000
	// DefaultMaxNameLength is libxml2's XML_MAX_NAME_LENGTH.
	DefaultMaxNameLength = 50_000
	// DefaultMaxIDs bounds the ID set at about 100 MB for short IDs.
	DefaultMaxIDs = 1_000_000
)

// Limits bound what one validation may cost, whatever the document. A
// document beyond a limit is refused (a [Security] problem; parsing stops).
type Limits struct {
	// MaxTextLength is the longest text node, CDATA section or attribute
	// value, in bytes. Defaults to DefaultMaxTextLength (10,000,000).
	MaxTextLength int
	// MaxNameLength is the longest element or attribute name or namespace
	// prefix, in bytes. Defaults to DefaultMaxNameLength (50,000).
	MaxNameLength int
	// MaxIDs is how many distinct xs:ID values plus xs:IDREF values not yet
	// resolved where they occur a document may hold. Defaults to
	// DefaultMaxIDs (1,000,000).
	MaxIDs int
}

func (l Limits) withDefaults() Limits {
	if l.MaxTextLength <= 0 {
		l.MaxTextLength = DefaultMaxTextLength
	}
	if l.MaxNameLength <= 0 {
		l.MaxNameLength = DefaultMaxNameLength
	}
	if l.MaxIDs <= 0 {
		l.MaxIDs = DefaultMaxIDs
	}
	return l
}

// Options tune one validation. The zero value is the default.
type Options struct {
	Limits Limits
	// MaxProblems is how many problems are reported; the rest are only
	// counted (Result.Omitted), and validation still reads the document to
	// its end, so the verdict stays exact. 0 reports every problem.
	MaxProblems int
}
