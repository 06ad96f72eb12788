package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"
)

// The documentation's commands are run by TestDocs, so that README.md and
// docs/*.md cannot drift from the code. The rules for a Markdown file:
//
//   - A fenced block with the language "console" is run. Its lines that
//     start with "$ " are commands; a command continues on the next line
//     after a trailing backslash, and a here-document's lines belong to the
//     command that opens it. Every other line is output the command must
//     print (standard output and error together), in that order, though
//     not necessarily on adjacent lines; "…" in a line stands for any text,
//     a line of only "…" for any lines. A command must exit 0 unless its
//     line ends in a comment "# exit N".
//   - Every other block that holds commands (language sh, bash or shell, or
//     any block with a line starting with "$ " or "meldeweg ") must be
//     marked with an HTML comment on the line before its fence:
//     <!-- not run: REASON -->. A console block may be marked too.
//
// The runnable blocks of one file run in order, in one bash process, in a
// fresh directory that holds a copy of the repository's testdata/, with
// this test binary on PATH as "meldeweg" (see TestMain). So a file reads
// like a session at the repository's root: later blocks use what earlier
// ones made, and shell variables carry over. Background jobs ("&") are
// killed when the file's session ends.

// docFiles are the Markdown files whose commands are run, relative to the
// repository root.
func docFiles(t *testing.T, repo string) []string {
	t.Helper()
	files := []string{"README.md"}
	more, err := filepath.Glob(filepath.Join(repo, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(more) == 0 {
		t.Fatalf("no docs/*.md under %s", repo)
	}
	for _, f := range more {
		rel, _ := filepath.Rel(repo, f)
		files = append(files, rel)
	}
	return files
}

// docCommand is one "$ " command of a runnable block, with what it must
// print and the exit code it must end with.
type docCommand struct {
	line   int // line of the "$ " in the file
	text   string
	output []string
	exit   int
}

// docBlock is a fenced code block.
type docBlock struct {
	line   int // line of the opening fence
	lang   string
	notRun string // the reason from <!-- not run: … -->, or ""
	body   []string
}

var (
	notRunMarker = regexp.MustCompile(`^<!--\s*not run:\s*(\S.*?)\s*-->$`)
	exitComment  = regexp.MustCompile(`\s#\s*exit\s+(\d+)\b[^'"]*$`)
	hereDoc      = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
)

// parseBlocks returns the fenced code blocks of a Markdown file.
func parseBlocks(text string) ([]docBlock, error) {
	var (
		blocks []docBlock
		cur    *docBlock
		fence  string
		prev   string // previous non-blank line outside blocks
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		trimmed := strings.TrimSpace(l)
		if cur != nil {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "" {
				blocks = append(blocks, *cur)
				cur = nil
				prev = trimmed
				continue
			}
			cur.body = append(cur.body, l)
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			i := strings.IndexFunc(trimmed, func(r rune) bool { return r != rune(trimmed[0]) })
			if i < 0 {
				i = len(trimmed)
			}
			fence = trimmed[:i]
			lang, _, _ := strings.Cut(strings.TrimSpace(trimmed[i:]), " ")
			cur = &docBlock{line: n, lang: lang}
			if m := notRunMarker.FindStringSubmatch(prev); m != nil {
				cur.notRun = m[1]
			}
			continue
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: code block not closed", cur.line)
	}
	return blocks, sc.Err()
}

// holdsCommands tells whether a block that is not a console block looks
// like one a reader would type.
func (b docBlock) holdsCommands() bool {
	switch b.lang {
	case "sh", "bash", "shell", "console":
		return true
	}
	for _, l := range b.body {
		if strings.HasPrefix(l, "$ ") || strings.HasPrefix(l, "meldeweg ") {
			return true
		}
	}
	return false
}

// commands splits a console block into its commands.
func (b docBlock) commands() ([]docCommand, error) {
	var cmds []docCommand
	for i := 0; i < len(b.body); i++ {
		l := b.body[i]
		if !strings.HasPrefix(l, "$ ") {
			if len(cmds) == 0 {
				if strings.TrimSpace(l) == "" {
					continue
				}
				return nil, fmt.Errorf("line %d: output before the first \"$ \" command", b.line+1+i)
			}
			if s := strings.TrimSpace(l); s != "" && s != "…" {
				c := &cmds[len(cmds)-1]
				c.output = append(c.output, s)
			}
			continue
		}
		c := docCommand{line: b.line + 1 + i, text: strings.TrimPrefix(l, "$ ")}
		for strings.HasSuffix(c.text, `\`) && i+1 < len(b.body) {
			i++
			c.text += "\n" + b.body[i]
		}
		// The exit comment ends the command's last line (before a
		// here-document's body).
		last := c.text[strings.LastIndex(c.text, "\n")+1:]
		if m := exitComment.FindStringSubmatch(last); m != nil {
			c.exit, _ = strconv.Atoi(m[1])
		}
		if m := hereDoc.FindStringSubmatch(c.text); m != nil {
			for i+1 < len(b.body) {
				i++
				c.text += "\n" + b.body[i]
				if strings.TrimSpace(b.body[i]) == m[1] {
					break
				}
			}
		}
		cmds = append(cmds, c)
	}
	return cmds, nil
}

// outputPattern turns a documented output line into a regular expression
// for a whole line: "…" matches any text, and any run of spaces matches any
// other (table columns widen with their content).
func outputPattern(line string) *regexp.Regexp {
	parts := strings.Split(line, "…")
	for i, p := range parts {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
		if strings.TrimSpace(p) != "" && i > 0 && p[0] == ' ' {
			parts[i] = `\s` + parts[i]
		}
		if strings.TrimSpace(p) != "" && i < len(parts)-1 && p[len(p)-1] == ' ' {
			parts[i] += `\s`
		}
	}
	return regexp.MustCompile(`^\s*` + strings.Join(parts, `.*`) + `\s*$`)
}

// missingOutput returns the first documented line that the output does not
// show (in order), or "".
func missingOutput(want []string, got string) string {
	lines := strings.Split(got, "\n")
	at := 0
	for _, w := range want {
		re := outputPattern(w)
		found := false
		for at < len(lines) {
			at++
			if re.MatchString(lines[at-1]) {
				found = true
				break
			}
		}
		if !found {
			return w
		}
	}
	return ""
}

func TestDocs(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is needed to run the documentation's commands")
	}
	if _, err := exec.LookPath("meldeweg"); err != nil {
		t.Fatalf("meldeweg is not on PATH; TestMain should have put this test binary there: %v", err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range docFiles(t, repo) {
		t.Run(strings.ReplaceAll(file, "/", "_"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join(repo, file))
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := parseBlocks(string(data))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			var cmds []docCommand
			for _, b := range blocks {
				switch {
				case b.notRun != "":
				case b.lang == "console":
					cs, err := b.commands()
					if err != nil {
						t.Fatalf("%s: %v", file, err)
					}
					cmds = append(cmds, cs...)
				case b.holdsCommands():
					t.Errorf("%s:%d: a %q block with commands is neither run (```console with \"$ \" prompts) nor marked <!-- not run: REASON -->",
						file, b.line, b.lang)
				}
			}
			if len(cmds) > 0 {
				runDocCommands(t, repo, file, cmds)
			}
		})
	}
}

// runDocCommands runs the commands of one file in one bash session and
// checks every exit code and documented output.
func runDocCommands(t *testing.T, repo, file string, cmds []docCommand) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	outs := filepath.Join(dir, "out")
	for _, d := range []string{work, outs} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.CopyFS(filepath.Join(work, "testdata"), os.DirFS(filepath.Join(repo, "testdata"))); err != nil {
		t.Fatal(err)
	}

	var script strings.Builder
	script.WriteString("set -u\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
	for i, c := range cmds {
		fmt.Fprintf(&script, "# %s:%d\n{ %s\n} >%q 2>&1 </dev/null\nrc=$?\necho $rc >%q\n[ $rc -eq %d ] || exit 0\n",
			file, c.line, c.text, filepath.Join(outs, strconv.Itoa(i)), filepath.Join(outs, strconv.Itoa(i)+".rc"), c.exit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = docEnv(dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	// Whatever a command left running in its process group goes too.
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("%s: the shell session failed: %v\n%s", file, err, out)
	}

	for i, c := range cmds {
		rcData, err := os.ReadFile(filepath.Join(outs, strconv.Itoa(i)+".rc"))
		if err != nil {
			t.Fatalf("%s:%d: never finished: %s", file, c.line, c.text)
		}
		got, _ := os.ReadFile(filepath.Join(outs, strconv.Itoa(i)))
		rc, _ := strconv.Atoi(strings.TrimSpace(string(rcData)))
		if rc != c.exit {
			t.Fatalf("%s:%d: $ %s\nexited %d, the doc says %d; it printed:\n%s", file, c.line, c.text, rc, c.exit, got)
		}
		if miss := missingOutput(c.output, string(got)); miss != "" {
			t.Errorf("%s:%d: $ %s\ndid not print (in the documented order):\n  %s\nit printed:\n%s", file, c.line, c.text, miss, got)
		}
	}
}

// docEnv is the environment of a doc session: the test's, without the
// variables that would point Meldeweg at another configuration or register.
func docEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MELDEWEG_") || k == "HOME" || k == "SOURCE_DATE_EPOCH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "TZ=UTC")
}

func TestDocParser(t *testing.T) {
	md := "Intro\n\n" +
		"```console\n" +
		"$ meldeweg version   # exit 0\n" +
		"meldeweg …\n" +
		"$ meldeweg certs check a.pem \\\n" +
		"    b.pem   # exit 1: one expires\n" +
		"…\n" +
		"$ cat > f.json <<'EOF'\n" +
		"{\"x\": 1}\n" +
		"EOF\n" +
		"```\n\n" +
		"<!-- not run: needs systemd -->\n" +
		"```sh\n" +
		"systemctl enable --now meldeweg.timer\n" +
		"```\n\n" +
		"```json\n{\"traeger\": \"12345\"}\n```\n"
	blocks, err := parseBlocks(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 {
		t.Fatalf("got %d blocks, want 3", len(blocks))
	}
	cmds, err := blocks[0].commands()
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 3 {
		t.Fatalf("got %d commands, want 3: %+v", len(cmds), cmds)
	}
	if got, want := cmds[0].output, []string{"meldeweg …"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("output of the first command: got %q, want %q", got, want)
	}
	if cmds[1].exit != 1 || !strings.Contains(cmds[1].text, "b.pem") || cmds[1].line != 6 {
		t.Errorf("continued command: got %+v, want exit 1, two lines, line 6", cmds[1])
	}
	if !strings.HasSuffix(cmds[2].text, "\nEOF") || len(cmds[2].output) != 0 {
		t.Errorf("here-document: got %+v, want the body as part of the command", cmds[2])
	}
	if blocks[1].notRun != "needs systemd" || !blocks[1].holdsCommands() {
		t.Errorf("marked block: got %+v", blocks[1])
	}
	if blocks[2].holdsCommands() {
		t.Errorf("a JSON block holds no commands")
	}

	unmarked, _ := parseBlocks("```sh\nmeldeweg version\n```\n")
	if unmarked[0].notRun != "" || !unmarked[0].holdsCommands() {
		t.Errorf("an unmarked sh block must count as commands that are not run: %+v", unmarked[0])
	}

	for _, c := range []struct {
		want []string
		got  string
		miss string
	}{
		{[]string{"intact, … entries, head …"}, "register r.db: intact, 3 entries, head ab12\n", "intact, … entries, head …"},
		{[]string{"register r.db: intact, … entries, head …"}, "register r.db: intact, 3 entries, head ab12\n", ""},
		{[]string{"b", "a"}, "a\nb\n", "a"},
		{[]string{"a", "c"}, "a\nb\nc\n", ""},
		{[]string{"STATUS  DAYS NAME"}, "STATUS DAYS  NAME\n", ""},
		{[]string{"a b…"}, "ab c\n", "a b…"},
	} {
		if got := missingOutput(c.want, c.got); got != c.miss {
			t.Errorf("missingOutput(%q, %q) = %q, want %q", c.want, c.got, got, c.miss)
		}
	}
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// anchor is GitHub's anchor for a heading: lower case, punctuation
// dropped, spaces as hyphens.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocLinks checks that every relative link of README.md and docs/*.md
// names a file that exists and, for a Markdown file, a heading it has.
func TestDocLinks(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		data, _ := os.ReadFile(path)
		inCode := false
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "```") {
				inCode = !inCode
			}
			if m := mdHeading.FindStringSubmatch(l); m != nil && !inCode {
				a[anchor(m[1])] = true
			}
		}
		anchors[path] = a
		return a
	}
	for _, file := range docFiles(t, repo) {
		data, err := os.ReadFile(filepath.Join(repo, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			full := filepath.Join(repo, file)
			if path != "" {
				full = filepath.Join(filepath.Dir(full), path)
			}
			if _, err := os.Stat(full); err != nil {
				t.Errorf("%s: link %s: %v", file, target, err)
				continue
			}
			if frag != "" && strings.HasSuffix(full, ".md") && !anchorsOf(full)[frag] {
				t.Errorf("%s: link %s: no heading with anchor #%s in %s", file, target, frag, path)
			}
		}
	}
}
