package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/user"
	"strings"

	"meldeweg.dev/meldeweg/transport/register"
)

// accessOptions are the flags of a command that can show personal data:
// the purpose that is logged with every such read, and the register it is
// logged in.
type accessOptions struct {
	registerOptions
	purpose string
}

func (o *accessOptions) bind(fs *flag.FlagSet) {
	o.registerOptions.bind(fs)
	fs.StringVar(&o.purpose, "purpose", "", "why personal data is shown (`TEXT`, no personal data): required with it, and logged in the register with who read what")
}

// needPurpose is the usage error of a read of personal data without
// --purpose; "" when one is given.
func (o *accessOptions) needPurpose(what string) string {
	if strings.TrimSpace(o.purpose) != "" {
		return ""
	}
	return what + " shows personal data: give --purpose TEXT (why; it is logged in the register with who read what)"
}

// logRead reads personal data with read inside the transaction that
// appends its "accessed" entry (register.Store.Access), as the operating
// system's user. Nothing may be shown before it returns nil. Without a
// register there is nowhere to log the read, and it refuses.
func (e *env) logRead(p *register.AccessParams, read func(kept io.Reader) error) error {
	set, err := e.settings()
	if err != nil {
		return err
	}
	ctx := context.Background()
	s, err := openRegister(ctx, set, true)
	if err != nil {
		return fmt.Errorf("personal data is shown only with a register to log the read in: %w", err)
	}
	defer s.Close()
	if p.Actor.IsZero() {
		p.Actor = osOperator()
	}
	_, err = s.Access(ctx, p, read)
	return err
}

// osOperator is the operating system's user running the command, by
// login cut to the register's alphabet, else by user ID.
func osOperator() register.Actor {
	u, err := user.Current()
	if err != nil {
		return register.Operator("unknown-user")
	}
	b := []byte(u.Username)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && strings.IndexByte("._@-", c) >= 0) {
			b[i] = '-'
		}
	}
	a := register.Operator(string(b))
	if _, err := register.ParseActor(a.String()); err != nil || len(b) == 0 || b[0] == '-' {
		return register.Operator("uid-" + u.Uid)
	}
	return a
}
