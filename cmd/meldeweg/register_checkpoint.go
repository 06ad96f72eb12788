package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/atomicfile"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
)

func registerCheckpointCommand() *command {
	o := &registerOptions{}
	return &command{
		name:    "checkpoint",
		summary: "sign the register's size and head hash and keep the checkpoint outside the register",
		usage: `register checkpoint [--register LOCATION]
register checkpoint keygen --origin NAME --out DIR`,
		help: `Verifies the whole register, then signs its size and head hash (a C2SP
signed note, Ed25519) with the signer key (checkpoint_signer_key) under the
register's name (checkpoint_origin), and writes it to the checkpoint
directory (checkpoint_dir) as checkpoint-SIZE and as latest. Keep that
directory apart from the register — another disk or host — so that a later
"register verify --checkpoint" can prove the register still holds what was
signed: truncation, a restored older copy and a rewritten chain are found.

Before it writes, the new checkpoint is checked against the newest one
kept (with checkpoint_verifier_key): the register must still hold that
checkpoint's prefix, or nothing is written and the command fails — the
witness check.

Last, a "checkpoint" entry records the size and head signed. Appending it
moves the head: a checkpoint covers the register before its own entry
(entries 1 to SIZE); the entry is covered by the next checkpoint.

"keygen" makes a signer key (DIR/checkpoint.key, 0600) and its verifier
key (DIR/checkpoint.pub) for the origin NAME, and prints the settings.

EXIT CODES
  0  checkpoint written and recorded (keygen: keys written)
  1  the register does not verify, or no longer holds the newest kept
     checkpoint's prefix (nothing written)
  2  usage, configuration or I/O error

EXAMPLES
  meldeweg register checkpoint keygen --origin meldeweg.example/jobcenter-12345 --out /etc/meldeweg/checkpoint
  meldeweg register checkpoint`,
		setFlags:      o.bind,
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runRegisterCheckpoint(e, args) },
		sub:           []*command{registerCheckpointKeygenCommand()},
	}
}

// checkpointKeys reads the configured signer (if sign) and verifier keys;
// each missing setting is an error naming it.
func checkpointKeys(set *settings.Settings, sign bool) (skey, vkey string, err error) {
	c := set.Checkpoints
	if sign && c.SignerKey == "" {
		return "", "", set.NotSet("checkpoint_signer_key", "")
	}
	if c.VerifierKey == "" {
		return "", "", set.NotSet("checkpoint_verifier_key", "")
	}
	if sign {
		b, err := os.ReadFile(c.SignerKey)
		if err != nil {
			return "", "", err
		}
		skey = strings.TrimSpace(string(b))
	}
	b, err := os.ReadFile(c.VerifierKey)
	if err != nil {
		return "", "", err
	}
	return skey, strings.TrimSpace(string(b)), nil
}

func runRegisterCheckpoint(e *env, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	set, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	cs := set.Checkpoints
	switch {
	case cs.Origin == "":
		return e.failf(exitError, "%v", set.NotSet("checkpoint_origin", ""))
	case cs.Dir == "":
		return e.failf(exitError, "%v", set.NotSet("checkpoint_dir", ""))
	}
	skey, vkey, err := checkpointKeys(set, true)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ctx := context.Background()
	s, err := openRegister(ctx, set, true)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	loc := set.Register.String()
	cp, err := checkpoint.Take(ctx, s, cs.Origin)
	if errors.Is(err, register.ErrChainBroken) || errors.Is(err, register.ErrInconsistent) {
		return e.failf(exitFindings, "register %s: %v; run \"meldeweg register verify\"; no checkpoint written", loc, err)
	}
	if err != nil {
		return e.failf(exitError, "register %s: %v", loc, err)
	}
	if code := witnessCheck(e, ctx, s, cs.Dir, vkey, cp); code != exitOK {
		return code
	}
	signed, err := checkpoint.Sign(cp, skey)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if err := checkpoint.WriteDir(cs.Dir, cp.Size, signed); errors.Is(err, checkpoint.ErrFork) {
		return e.failf(exitFindings, "%v", err)
	} else if err != nil {
		return e.failf(exitError, "writing the checkpoint: %v", err)
	}
	en, err := s.Append(ctx, cp.Entry(currentActor()))
	if err != nil {
		return e.failf(exitError, "checkpoint written to %s, but recording it in the register failed: %v", filepath.Join(cs.Dir, checkpoint.FileName(cp.Size)), err)
	}
	fmt.Fprintf(e.stdout, "checkpoint %s: size %d, head %s\n  written to %s and %s\n  recorded as entry %d (covered by the next checkpoint)\n",
		cp.Origin, cp.Size, cp.Head, filepath.Join(cs.Dir, checkpoint.FileName(cp.Size)), filepath.Join(cs.Dir, checkpoint.LatestName), en.Seq())
	return exitOK
}

// witnessCheck proves, before cp is kept, that the register still holds
// the newest checkpoint kept in dir and that cp extends it.
func witnessCheck(e *env, ctx context.Context, s register.Store, dir, vkey string, cp checkpoint.Checkpoint) int {
	kept, err := checkpoint.Kept(dir)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if len(kept) == 0 {
		return exitOK
	}
	last := kept[len(kept)-1]
	prev, err := checkpoint.ReadFile(last, vkey)
	if err != nil {
		return e.failf(exitFindings, "the newest kept checkpoint does not open: %v; no checkpoint written", err)
	}
	if err := checkpoint.Consistent(ctx, s, prev, cp); err != nil {
		return e.failf(exitFindings, "witness check against %s: %v; no checkpoint written", last, err)
	}
	return exitOK
}

// registerCheckpointKeygenOptions are the flags of "register checkpoint
// keygen".
type registerCheckpointKeygenOptions struct{ origin, out string }

func registerCheckpointKeygenCommand() *command {
	o := &registerCheckpointKeygenOptions{}
	return &command{
		name:    "keygen",
		summary: "make a checkpoint signer key and its verifier key",
		usage:   `register checkpoint keygen --origin NAME --out DIR`,
		help: `Writes DIR/checkpoint.key (the secret signer key, 0600) and
DIR/checkpoint.pub (the verifier key) for the register named NAME, and
prints the settings that use them. DIR is created 0700; existing keys are
never replaced. Give the verifier key to whoever checks checkpoints; keep
the signer key away from the register.

EXIT CODES
  0  keys written
  2  usage error, or the keys exist or cannot be written

EXAMPLES
  meldeweg register checkpoint keygen --origin meldeweg.example/jobcenter-12345 --out /etc/meldeweg/checkpoint`,
		setFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.origin, "origin", "", "`NAME` of the register in its checkpoints, e.g. meldeweg.example/jobcenter-12345")
			fs.StringVar(&o.out, "out", "", "`DIR` to write the keys to")
		},
		run: func(e *env, args []string) int { return runCheckpointKeygen(e, o, args) },
	}
}

func runCheckpointKeygen(e *env, o *registerCheckpointKeygenOptions, args []string) int {
	switch {
	case len(args) != 0:
		return e.usageErrorf("unexpected argument %q", args[0])
	case o.origin == "" || o.out == "":
		return e.usageErrorf("--origin and --out are required")
	case strings.ContainsAny(o.origin, "+ \t\n"):
		return e.usageErrorf("--origin %q: want one word without spaces or '+'", o.origin)
	}
	skey, vkey, err := checkpoint.GenerateKey(o.origin)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if err := os.MkdirAll(o.out, 0o700); err != nil {
		return e.failf(exitError, "%v", err)
	}
	sk, vk := filepath.Join(o.out, "checkpoint.key"), filepath.Join(o.out, "checkpoint.pub")
	for _, f := range []struct {
		path string
		perm os.FileMode
		data string
	}{{sk, 0o600, skey}, {vk, 0o644, vkey}} {
		err := atomicfile.WriteNew(f.path, f.perm, func(w io.Writer) error {
			_, err := io.WriteString(w, f.data+"\n")
			return err
		})
		if err != nil {
			return e.failf(exitError, "%v", err)
		}
	}
	fmt.Fprintf(e.stdout, "signer key   %s (secret, 0600)\nverifier key %s\n\nsettings:\n  \"checkpoint_origin\": %q,\n  \"checkpoint_signer_key\": %q,\n  \"checkpoint_verifier_key\": %q\n",
		sk, vk, o.origin, sk, vk)
	return exitOK
}
