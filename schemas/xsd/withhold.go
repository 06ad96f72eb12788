package xsd

import (
	"regexp"
	"sync"
)

// Withheld replaces document values in messages; see [Problem.WithoutValues].
const Withheld = "(value withheld)"

// valuePatterns find the document values libxml2 (and this package) quote
// in messages. A value may itself contain quotes, so each pattern matches
// up to the words that follow the value in the message template. They are
// compiled at first use, not at start-up: most runs never withhold a value.
var valuePatterns = sync.OnceValue(func() []valuePattern {
	return []valuePattern{
		// "[facet 'pattern'] The value '2004-17-05' is not accepted by …",
		// "The value 'x' does not match the fixed value constraint 'y'",
		// "The value 'x' is not unique: …" (this package).
		{regexp.MustCompile(`(The (?:QName |actual )?value )'.*?'( is | has | does | of |;|\.|$)`), "${1}" + Withheld + "${2}"},
		// "Element 'n': 'q' is not a valid value of the atomic type 'xs:int'."
		{regexp.MustCompile(`(^|: )'.*?'( is not a valid value)`), "${1}" + Withheld + "${2}"},
		// identity constraints: "Duplicate key-sequence ['a', 'b'] in unique …",
		// "No match found for key-sequence ['a'] of keyref …"
		{regexp.MustCompile(`(key-sequence )\[.*?\]( in | of |$)`), "${1}" + Withheld + "${2}"},
		// "fixed value constraint 'y'" repeats a schema value, but the tree of
		// a failing document may hold it too; withhold it alike.
		{regexp.MustCompile(`(fixed value constraint )'.*?'(\.|$)`), "${1}" + Withheld + "${2}"},
	}
})

type valuePattern struct {
	re   *regexp.Regexp
	repl string
}

// WithoutValues returns p with every value of the document in its message
// replaced by [Withheld]. Element and attribute names, types, facets and
// the enumerations of the schema stay. Validated documents may hold
// personal data; messages meant for logs and operators go through this.
func (p Problem) WithoutValues() Problem {
	for _, vp := range valuePatterns() {
		p.Message = vp.re.ReplaceAllString(p.Message, vp.repl)
	}
	return p
}
