package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/schemas"
)

// Exit codes, the same for every command.
const (
	// exitOK: the command did what was asked; checked input was found good.
	exitOK = 0
	// exitFindings: the input was checked and found wanting (invalid,
	// rejected, expiring).
	exitFindings = 1
	// exitError: usage, configuration or I/O error; nothing was judged.
	exitError = 2
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one (sub)command of the meldeweg binary. Each lives in a file
// of its own that returns it from a constructor.
type command struct {
	name    string
	summary string
	// usage is the synopsis line(s), without the leading "meldeweg".
	usage string
	// help is the long text after the synopsis: description, POSITIONAL
	// ARGUMENTS, EXIT CODES, EXAMPLES.
	help string
	// setFlags declares the command's flags, each bound to a field of the
	// command's options struct (made in its constructor).
	setFlags func(fs *flag.FlagSet)
	// settingsFlags, if set, returns the parsed flags that override
	// configuration fields (--register, --url, --traeger, …); the run's
	// settings are resolved with them when the command first asks (so a
	// command may still adjust its options before that).
	settingsFlags func() []settings.Flag
	// run does the work with flags parsed into the options and the
	// positional args left.
	run func(e *env, args []string) int
	sub []*command
}

// commands is the top-level command list; one line per command.
func commands() []*command {
	return []*command{
		validateCommand(),
		schemasCommand(),
		versionCommand(),
		simCommand(),
		sendCommand(),
		pollCommand(),
		sealCommand(),
		openCommand(),
		pkiCommand(),
		certsCommand(),
		statusCommand(),
		configCommand(),
		registerCommand(),
		backupCommand(),
		restoreCommand(),
		xsozialCommand(),
		testdataCommand(),
		emawCommand(),
		keysCommand(),
		usersCommand(),
		consoleCommand(),
		serveCommand(),
	}
}

// env is what a command runs with: its streams and the global options.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	name           string // "meldeweg validate", for messages

	schemaDirs []string
	configPath string
	tenant     string // --tenant

	flags func() []settings.Flag // the command's flags that override fields
	set   *settings.Settings     // resolved once; see settings()
	reg   *schemas.Registry
}

// failf reports an error on stderr and returns code.
func (e *env) failf(code int, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s: %s\n", e.name, fmt.Sprintf(format, args...))
	return code
}

// registry loads the schema bundles once: embedded ones, the configured
// ones and those in --schema-dir.
func (e *env) registry() (*schemas.Registry, error) {
	if e.reg != nil {
		return e.reg, nil
	}
	c, err := e.settings()
	if err != nil {
		return nil, err
	}
	r, err := schemas.Load(schemas.Options{Dirs: c.SchemaDirs, Manifests: c.Bundles, ManifestDir: c.Dir})
	if err != nil {
		return nil, err
	}
	e.reg = r
	return r, nil
}

const globalHelp = `Meldeweg, the gateway between social-service organisations and the
Bundesagentur für Arbeit (XSozial-BA-SGB II, eM@w).

USAGE
  meldeweg [GLOBAL OPTIONS] COMMAND [ARGS]

GLOBAL OPTIONS (allowed anywhere on the line)
  --config FILE      configuration file (JSON; default: $MELDEWEG_CONFIG, else none)
  --schema-dir DIR   add the schema bundles in DIR to schema_dirs (repeatable)
  --tenant NAME      the tenant whose register, keys, certificates and endpoints
                     to use (default: $MELDEWEG_TENANT, else the only one configured)
  --version          print the version and exit
  --help, -h         this help; "meldeweg COMMAND --help" for a command's

CONFIGURATION
  Every setting is taken, in this order of precedence, from
    flags > environment > configuration file > defaults.
  Each single-valued field of the file has an environment variable named
  MELDEWEG_ and the field's path in capitals, "." as "_": work_dir is
  MELDEWEG_WORK_DIR, endpoints.emaw.url is MELDEWEG_ENDPOINTS_EMAW_URL. An
  empty variable counts as unset. Relative paths in the file are relative
  to the file, others to the working directory. The configuration is
  checked when it loads: an unknown field, a bad value, a missing file, or
  a key, password or personal-data path open to others is an error naming
  the field and where the value came from.

EXIT CODES
  0  success; checked input was found good
  1  the input was checked and found wanting (invalid, rejected, expiring)
  2  usage, configuration or I/O error

COMMANDS
`

// run is the whole program: it parses args, runs one command and returns
// its exit code. main only calls it, and tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, name: "meldeweg"}
	rest, err := e.takeGlobal(args)
	if err != nil {
		return e.failf(exitError, "%v", err)
	}
	if len(rest) == 0 {
		printCommandList(stderr, globalHelp, commands())
		return exitError
	}
	switch rest[0] {
	case "--version", "-version":
		fmt.Fprintf(stdout, "meldeweg %s\n", version)
		return exitOK
	case "--help", "-help", "-h", "help":
		printCommandList(stdout, globalHelp, commands())
		return exitOK
	}
	return dispatch(e, "meldeweg", commands(), rest)
}

// takeGlobal removes the global options from anywhere in args.
func (e *env) takeGlobal(args []string) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (name != "schema-dir" && name != "config" && name != "tenant") {
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch name {
		case "schema-dir":
			e.schemaDirs = append(e.schemaDirs, val)
		case "tenant":
			e.tenant = val
		default:
			e.configPath = val
		}
	}
	return rest, nil
}

func dispatch(e *env, prefix string, cmds []*command, args []string) int {
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		e.name = prefix + " " + c.name
		if len(c.sub) > 0 && (c.run == nil || len(args) >= 2 && hasSub(c, args[1])) {
			if len(args) < 2 || strings.HasPrefix(args[1], "-") {
				if len(args) >= 2 && (args[1] == "--help" || args[1] == "-h") {
					printCommandList(e.stdout, commandHelp(e.name, c), c.sub)
					return exitOK
				}
				printCommandList(e.stderr, commandHelp(e.name, c), c.sub)
				return exitError
			}
			return dispatch(e, e.name, c.sub, args[1:])
		}
		return runCommand(e, c, args[1:])
	}
	return e.failf(exitError, "unknown command %q; run \"%s --help\" for the list", args[0], prefix)
}

// hasSub tells whether c has a subcommand called name. A command with
// both a run and subcommands ("register checkpoint") runs itself unless
// its first argument names a subcommand.
func hasSub(c *command, name string) bool {
	for _, s := range c.sub {
		if s.name == name {
			return true
		}
	}
	return false
}

func commandHelp(name string, c *command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\nUSAGE\n", name, c.summary)
	for _, l := range strings.Split(strings.TrimSpace(c.usage), "\n") {
		fmt.Fprintf(&b, "  meldeweg %s\n", strings.TrimSpace(l))
	}
	if c.help != "" {
		b.WriteString("\n" + strings.TrimRight(c.help, "\n") + "\n")
	}
	if len(c.sub) > 0 {
		b.WriteString("\nCOMMANDS\n")
	}
	return b.String()
}

func printCommandList(w io.Writer, header string, cmds []*command) {
	fmt.Fprint(w, header)
	sorted := append([]*command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

func runCommand(e *env, c *command, args []string) int {
	fs := c.flagSet(e.name)
	usage := func(w io.Writer) {
		if len(c.sub) > 0 {
			printCommandList(w, commandHelp(e.name, c), c.sub)
		} else {
			fmt.Fprint(w, commandHelp(e.name, c))
		}
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(w, "\nOPTIONS")
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		usage(e.stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n\n", e.name, err)
		usage(e.stderr)
		return exitError
	}
	e.flags = c.settingsFlags
	return c.run(e, pos)
}

// parseInterleaved parses flags that may stand before, between or after
// positional arguments ("send FILE --channel emaw"); "--" ends flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageErrorf reports wrong arguments (exit 2) with a pointer to --help.
func (e *env) usageErrorf(format string, args ...any) int {
	return e.failf(exitError, "%s (see \"%s --help\")", fmt.Sprintf(format, args...), e.name)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// flagSet returns a fresh flag set with c's flags; parse errors are
// returned, never printed or fatal.
func (c *command) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.setFlags != nil {
		c.setFlags(fs)
	}
	return fs
}
