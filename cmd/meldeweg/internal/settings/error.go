package settings

import (
	"errors"
	"fmt"
)

// ErrUnknownField: the file names a field Meldeweg does not know (a typo,
// or a field of another version).
var ErrUnknownField = errors.New("unknown field")

// ErrUnsafeMode: a key, password or personal-data path can be read by
// others than its owner.
var ErrUnsafeMode = errors.New("unsafe file mode")

// Error is a configuration error: one field, the source its value came
// from, and what is wrong with it. Resolve returns every Error it finds,
// joined (errors.Join); errors.As finds the first.
type Error struct {
	// Source is where the value was written: the configuration file as
	// given, "$VARIABLE" for the environment, "--flag" for a flag, or
	// "default".
	Source string
	// Line is the line in Source when it is a file and the line is
	// known, else 0.
	Line int
	// Field is the field's path in the file: "endpoints.emaw.cms_profile",
	// "certificates[1].path". Empty for an error of the file as a whole
	// (it cannot be read, or is not JSON).
	Field string
	// Err says what is wrong; it never holds a secret (a password or a
	// postgres:// URL's password).
	Err error
}

func (e *Error) Error() string {
	where := e.Source
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", where, e.Field, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
