package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"meldeweg.dev/meldeweg/transport/register"
)

func registerVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "recompute the register's hash chain and name the first broken entry",
		usage:   `register verify [--register LOCATION]`,
		help: `Recomputes every entry's hash from its fields and the previous entry's hash,
checks that sequence numbers have no gaps, and that the last entry matches
the recorded head. Prints the number of entries and the head hash; note the
head hash to check later that the register still contains it. On a broken
chain, names the first broken entry with the expected and found hashes.

EXIT CODES
  0  the chain is intact
  1  the chain is broken (the entry is named)
  2  usage error, or the register cannot be opened or read

EXAMPLES
  meldeweg register verify
  meldeweg register verify --register postgres://meldeweg@db.internal/meldeweg`,
		setFlags: func(fs *flag.FlagSet) { addRegisterFlag(fs) },
		run:      runRegisterVerify,
	}
}

func runRegisterVerify(e *env, fs *flag.FlagSet, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	s, loc, err := registerFromFlags(e, fs)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	rep, err := s.Verify(context.Background(), register.VerifyParams{})
	var ce *register.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(e.stdout, "register %s: BROKEN at entry %d: %s\n  expected %s\n  found    %s\n  %d entries before it verified\n",
			loc, ce.Seq, ce.Reason, ce.Expected, ce.Found, rep.Entries)
		return exitFindings
	case err != nil:
		return e.failf(exitError, "verifying %s: %v", loc, err)
	}
	fmt.Fprintf(e.stdout, "register %s: intact, %d %s, head %s\n", loc, rep.Entries, plural(int(rep.Entries), "entry", "entries"), rep.Head)
	return exitOK
}
