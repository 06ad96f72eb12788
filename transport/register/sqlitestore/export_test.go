package sqlitestore

import "context"

// OpenUnbound opens file as Open does, but the store binds no tenant: it
// writes entries as Meldeweg did before tenant binding, so that tests can
// make an old register.
func OpenUnbound(ctx context.Context, file string) (*Store, error) {
	return Open(ctx, file, Options{unbound: true})
}
