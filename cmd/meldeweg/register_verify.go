package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/transport/register"
	"meldeweg.dev/meldeweg/transport/register/checkpoint"
	"meldeweg.dev/meldeweg/transport/register/payload"
)

// registerVerifyOptions are the flags of "register verify".
type registerVerifyOptions struct {
	registerOptions
	payloads, expectHead, checkpoint string
}

func (o *registerVerifyOptions) bind(fs *flag.FlagSet) {
	o.registerOptions.bind(fs)
	fs.StringVar(&o.payloads, "payloads", "", "`DIR` of the payload key, to decrypt and check every kept payload (overrides payloads)")
	fs.StringVar(&o.expectHead, "expect-head", "", "`HASH` of a head noted earlier: the chain must still contain that entry")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "signed checkpoint `FILE` (or a checkpoint directory: its newest, checked against the one before): the register must still hold its prefix unchanged")
}

func (o *registerVerifyOptions) settingsFlags() []settings.Flag {
	return append(o.registerOptions.settingsFlags(), settings.Flag{Name: "--payloads", Field: "payloads", Value: o.payloads})
}

func registerVerifyCommand() *command {
	o := &registerVerifyOptions{}
	return &command{
		name:    "verify",
		summary: "check the register against its hash chain: entries, guards, kept payloads and the outbox",
		usage:   `register verify [--register LOCATION] [--payloads DIR] [--expect-head HASH] [--checkpoint FILE|DIR]`,
		help: `Recomputes every entry's hash from its fields and the previous entry's hash,
checks that sequence numbers have no gaps and that the last entry matches
the recorded head. Then, in the same snapshot, checks what the chain vouches
for:
  - the append-only triggers on the entries are present and enabled;
  - every payload an entry kept is held, unless a later "payload-deleted"
    entry names it, and no payload is held that no entry names; each is read
    back whole and, with the payload key (--payloads), decrypted and checked
    against the size and SHA-256 its entry names;
  - every outbox message is in the state and attempt its last state entry
    says, with the payload, channel, endpoint and correlation of its
    "queued" entry.
With --expect-head, the chain must also contain the entry with that hash:
note the head hash printed here (or by export), and a later verify reveals
entries removed from the end together with a rewound head, which the chain
alone cannot see.
With --checkpoint, a signed checkpoint ("register checkpoint") is opened
with the verifier key (checkpoint_verifier_key) and the register must still
hold its prefix: its first SIZE entries recompute and end in the signed
head. This finds a register cut short, an older copy put back, and a chain
rewritten with every later hash recomputed. Given a directory, its newest
checkpoint is checked, and the one before it too (the witness check).

The output says what was checked and what was not. A finding names the
entry and the expected and found values (hashes, states), never payload
contents. A progress bar is shown on a terminal. Nothing is changed, and no
key is created.

EXIT CODES
  0  everything checked agrees with the chain
  1  the chain is broken, or a finding (the entry is named)
  2  usage error, or the register cannot be opened or read

EXAMPLES
  meldeweg register verify
  meldeweg register verify --checkpoint /mnt/witness/meldeweg/latest
  meldeweg register verify --expect-head 5e33cac1e3ca995e43a450e1a842f17342e154850f12779b3754aafc256d1048
  meldeweg register verify --register postgres://meldeweg@db.internal/meldeweg --payloads /etc/meldeweg/payloads`,
		setFlags:      o.bind,
		settingsFlags: o.settingsFlags,
		run:           func(e *env, args []string) int { return runRegisterVerify(e, o, args) },
	}
}

func runRegisterVerify(e *env, o *registerVerifyOptions, args []string) int {
	if len(args) != 0 {
		return e.usageErrorf("unexpected argument %q", args[0])
	}
	var p register.VerifyParams
	if o.expectHead != "" {
		var err error
		if p.ExpectHead, err = register.ParseHash(o.expectHead); err != nil {
			return e.usageErrorf("--expect-head: %v", err)
		}
	}
	set, err := e.settings()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	s, err := openRegister(context.Background(), set, true)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	defer s.Close()
	var noKey string
	kek, err := loadKEK(context.Background(), set)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	ps, err := payload.OpenWith(set.Payloads, s, payload.Options{Load: true, KEK: kek})
	switch {
	case errors.Is(err, payload.ErrNoKey) || errors.Is(err, payload.ErrWrongKey):
		noKey = err.Error()
	case err != nil:
		return e.failf(exitError, "%v", err)
	default:
		p.Payloads = ps
	}
	loc := set.Register.String()
	p.Progress, err = e.verifyProgress()
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	var cps []namedCheckpoint
	if o.checkpoint != "" {
		if cps, err = loadCheckpoints(set, o.checkpoint); err != nil {
			return e.failf(exitError, "%v", err)
		}
	}
	rep, err := s.Verify(context.Background(), p)
	if p.Progress != nil {
		p.Progress(register.VerifyProgress{Stage: "done"})
	}
	var ce *register.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(e.stdout, "register %s: BROKEN at entry %d: %s\n  expected %s\n  found    %s\n  %d entries before it verified\n",
			loc, ce.Seq, ce.Reason, ce.Expected, ce.Found, rep.Entries)
		return exitFindings
	case err == nil || errors.Is(err, register.ErrInconsistent):
		for _, c := range cps {
			if code := checkCheckpoint(e, s, loc, c); code != exitOK {
				return code
			}
		}
	case err != nil && !errors.Is(err, register.ErrInconsistent):
		return e.failf(exitError, "verifying %s: %v", loc, err)
	}
	code := exitOK
	if len(rep.Findings) == 0 {
		fmt.Fprintf(e.stdout, "register %s: intact, %d %s, head %s\n", loc, rep.Entries, plural(int(rep.Entries), "entry", "entries"), rep.Head)
	} else {
		code = exitFindings
		fmt.Fprintf(e.stdout, "register %s: %d %s, head %s\n", loc, len(rep.Findings), plural(len(rep.Findings), "FINDING", "FINDINGS"), rep.Head)
		for _, f := range rep.Findings {
			fmt.Fprintf(e.stdout, "  FINDING %s\n", f)
		}
	}
	if len(cps) > 0 {
		for i, n := range rep.NotChecked {
			if strings.HasPrefix(n, "signed checkpoints") {
				rep.NotChecked = append(rep.NotChecked[:i], rep.NotChecked[i+1:]...)
				break
			}
		}
		if rep.ExpectedHeadSeq == 0 {
			// The checkpoint covers what an expected head would.
			for i, n := range rep.NotChecked {
				if strings.HasPrefix(n, "entries removed from the end") {
					rep.NotChecked[i] = "entries appended after the checkpoint and removed again with the head"
				}
			}
		}
	}
	printVerifyReport(e.stdout, rep, p, noKey)
	for _, c := range cps {
		fmt.Fprintf(e.stdout, "  checkpoint %s: signature of %s good, prefix of %d %s proved (head %s)\n",
			c.path, c.cp.Origin, c.cp.Size, plural(int(c.cp.Size), "entry", "entries"), c.cp.Head)
	}
	return code
}

// printVerifyReport says what was checked and what was not.
func printVerifyReport(w io.Writer, rep register.VerifyReport, p register.VerifyParams, noKey string) {
	fmt.Fprintf(w, "  chain: %d %s intact\n", rep.Entries, plural(int(rep.Entries), "entry", "entries"))
	if rep.ExpectedHeadSeq > 0 {
		fmt.Fprintf(w, "  expected head: entry %d of the chain\n", rep.ExpectedHeadSeq)
	}
	if len(rep.Guards) > 0 {
		fmt.Fprintf(w, "  append-only guards present: %s\n", strings.Join(rep.Guards, ", "))
	}
	pl := rep.Payloads
	if p.Payloads != nil {
		fmt.Fprintf(w, "  payloads: %d checked against their entries' size and SHA-256 (%s), %d deleted by entry\n", pl.Checked, byteSize(pl.Bytes), pl.Deleted)
	} else {
		fmt.Fprintf(w, "  payloads: %d read back whole (%s), contents not checked, %d deleted by entry\n", pl.Read, byteSize(pl.Bytes), pl.Deleted)
	}
	fmt.Fprintf(w, "  outbox: %d %s with the chain\n", rep.Messages, plural(int(rep.Messages), "message agrees", "messages agree"))
	notChecked := rep.NotChecked
	if noKey != "" {
		for i, n := range notChecked {
			if strings.HasPrefix(n, "payload contents") {
				notChecked[i] = "payload contents: " + noKey
			}
		}
	}
	fmt.Fprintf(w, "  not checked: %s\n", strings.Join(notChecked, "; "))
}

// verifyProgress draws a progress bar per stage when standard error is a
// terminal; nil otherwise.
func (e *env) verifyProgress() (func(register.VerifyProgress), error) {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, nil
	}
	var bar *progressbar.ProgressBar
	stage := ""
	return func(p register.VerifyProgress) {
		if p.Stage != stage {
			if bar != nil {
				bar.Finish()
			}
			bar, stage = nil, p.Stage
			if p.Stage == "done" {
				return
			}
			desc := "verifying entries"
			if p.Stage == "payloads" {
				desc = "reading payloads"
			}
			bar = progressbar.NewOptions64(p.Total,
				progressbar.OptionSetWriter(e.stderr),
				progressbar.OptionSetDescription(desc),
				progressbar.OptionShowBytes(p.Stage == "payloads"),
				progressbar.OptionShowCount(),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		if bar != nil {
			bar.Set64(p.Done)
		}
	}, nil
}

// byteSize prints n in decimal units.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// namedCheckpoint is an opened checkpoint and the file it came from.
type namedCheckpoint struct {
	path string
	cp   checkpoint.Checkpoint
}

// loadCheckpoints opens the checkpoint at path with the configured
// verifier key; for a directory, its newest checkpoint and the one before
// it, older first.
func loadCheckpoints(set *settings.Settings, path string) ([]namedCheckpoint, error) {
	_, vkey, err := checkpointKeys(set, false)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.IsDir() {
		if files, err = checkpoint.Kept(path); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s holds no checkpoint-SIZE files", path)
		}
		files = files[max(0, len(files)-2):]
	}
	var out []namedCheckpoint
	for _, f := range files {
		cp, err := checkpoint.ReadFile(f, vkey)
		if err != nil {
			return nil, err
		}
		out = append(out, namedCheckpoint{f, cp})
	}
	if len(out) == 2 && out[1].cp.Size < out[0].cp.Size {
		return nil, fmt.Errorf("%s: %s is smaller than %s", path, out[1].path, out[0].path)
	}
	return out, nil
}

// checkCheckpoint proves that s holds c's prefix; a failure is reported
// like a broken chain, naming the entry and both hashes.
func checkCheckpoint(e *env, s register.Store, loc string, c namedCheckpoint) int {
	_, err := checkpoint.Verify(context.Background(), s, c.cp)
	var ce *register.ChainError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(e.stdout, "register %s: BROKEN against checkpoint %s (%s, size %d) at entry %d: %s\n  expected %s\n  found    %s\n",
			loc, c.path, c.cp.Origin, c.cp.Size, ce.Seq, ce.Reason, ce.Expected, ce.Found)
		return exitFindings
	case err != nil:
		return e.failf(exitError, "checking %s against %s: %v", loc, c.path, err)
	}
	return exitOK
}
