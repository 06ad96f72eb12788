package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"meldeweg.dev/meldeweg/emaw/msg"
)

var emawTestdata = filepath.Join("..", "..", "testdata", "emaw")

// runEmawCLI runs meldeweg in-process.
func runEmawCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func emawGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(emawTestdata, "cli", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestEmawNewEveryType builds every golden event with the CLI and
// compares the XML byte for byte with the golden message.
func TestEmawNewEveryType(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(emawTestdata, "events", "*", "*.json"))
	if len(files) < len(msg.Catalogue()) {
		t.Fatalf("%d event files, want at least %d", len(files), len(msg.Catalogue()))
	}
	for _, in := range files {
		dir, typ := filepath.Base(filepath.Dir(in)), strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(dir+"/"+typ, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "out", "event.xml")
			os.Mkdir(filepath.Dir(out), 0o755)
			args := []string{"emaw", "new", typ, "--in", in, "--out", out}
			if info, _ := msg.Lookup(msg.Type(typ)); info.Attachment {
				pdf := filepath.Join(tmp, "EX-"+typ+".pdf")
				os.WriteFile(pdf, msg.ExamplePDF(), 0o644)
				args = append(args, "--attach", pdf)
			}
			code, stdout, stderr := runEmawCLI(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			got, _ := os.ReadFile(out)
			want, err := os.ReadFile(filepath.Join(emawTestdata, "messages", dir, typ+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("emaw new output differs from the golden message:\n%s", got)
			}
			// show prints the golden text.
			code, stdout, stderr = runEmawCLI(t, "emaw", "show", out)
			wantShow, _ := os.ReadFile(filepath.Join(emawTestdata, "show", dir, typ+".txt"))
			if code != exitOK || stdout != string(wantShow) {
				t.Errorf("emaw show: exit %d, stderr %q\n%s", code, stderr, stdout)
			}
		})
	}
}

func TestEmawNewRefuses(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(tmp, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	ev, _ := os.ReadFile(filepath.Join(emawTestdata, "events", "out", "Austritt.json"))
	noVerbleib := write("a.json", strings.Replace(string(ev), `"Verbleib": "03"`, `"Verbleib": ""`, 1))
	badJSON := write("b.json", "{\n  \"Kopf\": {\n    \"NachrichtID\": 17\n  }\n}\n")
	wfz, _ := os.ReadFile(filepath.Join(emawTestdata, "events", "out", "WochenFehlzeit.json"))
	old := write("c.json", strings.Replace(string(wfz), "2026-03-10T08:00:00+01:00", "2024-03-10T08:00:00+01:00", 1))
	korr, _ := os.ReadFile(filepath.Join(emawTestdata, "events", "out", "Korrektur.json"))
	unknownRef := write("k.json", strings.Replace(string(korr), `"Bezug": "EX-Eintritt"`, `"Bezug": "EX-nie-gesendet"`, 1))
	state := filepath.Join(emawTestdata, "state.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown type", []string{"Anmeldung", "--in", noVerbleib}, exitError, `unknown eM@w message type "Anmeldung"`},
		{"Austritt without Verbleib", []string{"Austritt", "--in", noVerbleib}, exitFindings, "Austritt EX-Austritt: Austritt/Verbleib: where the participant went"},
		{"JSON type error", []string{"Eintritt", "--in", badJSON}, exitError, "b.json:3:22: field Kopf.NachrichtID: expected string"},
		{"WochenFehlzeit dated when 2.15 was in force", []string{"WochenFehlzeit", "--in", old}, exitFindings, "not valid against emaw@2.15"},
		{"Korrektur of an unsent event", []string{"Korrektur", "--in", unknownRef, "--state", state}, exitFindings, "none was sent under this ID [korrektur]"},
		{"PDF missing", []string{"Beurteilung", "--in", noVerbleib}, exitError, "give it with --attach"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(tmp, fmt.Sprintf("never-%d.xml", i))
			code, stdout, stderr := runEmawCLI(t, append([]string{"emaw", "new"}, append(tt.args, "--out", out)...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q (stdout %q)", code, stderr, tt.code, tt.want, stdout)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was written", out)
			}
			if strings.Contains(stderr, "123A456789") || strings.Contains(stderr, "Mustermann") {
				t.Errorf("stderr shows personal data: %s", stderr)
			}
		})
	}
}

func TestEmawPackUnpack(t *testing.T) {
	tmp := t.TempDir()
	var xmls []string
	for _, typ := range []string{"Eintritt", "Beurteilung", "AnwesenheitMonat"} {
		out := filepath.Join(tmp, "EX-"+typ+".xml")
		args := []string{"emaw", "new", typ, "--in", filepath.Join(emawTestdata, "events", "out", typ+".json"), "--out", out}
		if typ == "Beurteilung" {
			pdf := filepath.Join(t.TempDir(), "EX-Beurteilung.pdf")
			os.WriteFile(pdf, msg.ExamplePDF(), 0o644)
			args = append(args, "--attach", pdf)
		}
		if code, _, stderr := runEmawCLI(t, args...); code != exitOK {
			t.Fatalf("new %s: %s", typ, stderr)
		}
		xmls = append(xmls, out)
	}
	up1, up2 := filepath.Join(tmp, "up1.zip"), filepath.Join(tmp, "up2.zip")
	if code, _, stderr := runEmawCLI(t, append([]string{"emaw", "pack", "--out", up1}, xmls...)...); code != exitOK {
		t.Fatalf("pack: %s", stderr)
	}
	// Another order, same bytes.
	code, stdout, stderr := runEmawCLI(t, "emaw", "pack", "--out", up2, xmls[2], xmls[0], xmls[1])
	if code != exitOK {
		t.Fatalf("pack: %s", stderr)
	}
	b1, _ := os.ReadFile(up1)
	b2, _ := os.ReadFile(up2)
	if !bytes.Equal(b1, b2) {
		t.Errorf("two packs of the same events differ")
	}
	emawGolden(t, "pack.txt", []byte(strings.ReplaceAll(stdout, tmp, "$TMP")))

	dir := filepath.Join(tmp, "in")
	code, stdout, stderr = runEmawCLI(t, "emaw", "unpack", up1, "--out", dir, "--require-manifest")
	if code != exitOK {
		t.Fatalf("unpack: exit %d %s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "EX-Beurteilung", "EX-Beurteilung.pdf"))
	if !bytes.Equal(got, msg.ExamplePDF()) {
		t.Errorf("unpacked PDF differs")
	}
	want, _ := os.ReadFile(xmls[0])
	if got, _ := os.ReadFile(filepath.Join(dir, "EX-Eintritt", "EX-Eintritt.xml")); !bytes.Equal(got, want) {
		t.Errorf("unpacked XML differs")
	}
	// The upload and what it unpacks to hold personal data: owner only.
	if st, err := os.Stat(up1); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("upload %s: %v %v, want 0600", up1, st.Mode(), err)
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("unpacked %s is %04o, want %04o", path, info.Mode().Perm(), want)
		}
		return nil
	})

	// An archive with a traversal entry is refused and nothing is written.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("../../evil.zip")
	w.Write([]byte("x"))
	zw.Close()
	evil := filepath.Join(tmp, "evil.zip")
	os.WriteFile(evil, buf.Bytes(), 0o644)
	dir2 := filepath.Join(tmp, "in2")
	code, _, stderr = runEmawCLI(t, "emaw", "unpack", evil, "--out", dir2)
	if code != exitFindings || !strings.Contains(stderr, `entry "../../evil.zip": path leaves the extraction directory; nothing was extracted`) {
		t.Errorf("evil.zip: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(dir2); err == nil {
		t.Errorf("%s was created", dir2)
	}
	// Not a ZIP.
	code, _, stderr = runEmawCLI(t, "emaw", "unpack", xmls[0], "--out", dir2)
	if code != exitFindings || !strings.Contains(stderr, "not a ZIP archive") {
		t.Errorf("XML as ZIP: exit %d, %s", code, stderr)
	}
}

func TestEmawAckAndDue(t *testing.T) {
	state := filepath.Join(emawTestdata, "state.json")
	code, stdout, stderr := runEmawCLI(t, "emaw", "ack", "--state", state, filepath.Join(emawTestdata, "acks", "quittung.xml"))
	if code != exitFindings {
		t.Errorf("ack: exit %d, want %d; %s", code, exitFindings, stderr)
	}
	emawGolden(t, "ack.txt", []byte(strings.ReplaceAll(stdout, emawTestdata, "$TESTDATA")))

	code, stdout, stderr = runEmawCLI(t, "emaw", "due", "--date", "2026-03-05", "--in", state)
	if code != exitFindings {
		t.Errorf("due: exit %d, want %d; %s", code, exitFindings, stderr)
	}
	emawGolden(t, "due.txt", []byte(stdout))
	code, stdout, _ = runEmawCLI(t, "emaw", "due", "--date", "2026-02-03", "--in", state, "--format", "json")
	if code != exitOK {
		t.Errorf("due early February: exit %d, want 0", code)
	}
	emawGolden(t, "due-2026-02-03.json", []byte(stdout))

	code, stdout, _ = runEmawCLI(t, "emaw", "show", filepath.Join(emawTestdata, "acks", "quittung.xml"))
	if code != exitOK {
		t.Errorf("show quittung: exit %d", code)
	}
	emawGolden(t, "show-quittung.txt", []byte(stdout))
}

// Defects: "emaw new … --out out/EX-Eintritt.xml" failed when out/ did
// not exist, with an error naming a hidden temporary file; and it wrote
// the message (Kundennummer, cosachid) and its PDF 0644. The directory is
// now created 0700 (and the command says so), the files are 0600.
func TestEmawNewWritesPrivately(t *testing.T) {
	for _, exists := range []bool{false, true} {
		t.Run(map[bool]string{false: "missing directory", true: "existing directory"}[exists], func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "out", "EX-Beurteilung.xml")
			if exists {
				os.Mkdir(filepath.Dir(out), 0o700)
			}
			pdf := filepath.Join(tmp, "luv.pdf")
			if err := os.WriteFile(pdf, msg.ExamplePDF(), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runEmawCLI(t, "emaw", "new", "Beurteilung", "--in", filepath.Join(emawTestdata, "events", "out", "Beurteilung.json"),
				"--attach", pdf, "--out", out)
			if code != exitOK {
				t.Fatalf("emaw new: exit %d\n%s%s", code, stdout, stderr)
			}
			if said := strings.Contains(stderr, "created directory "+filepath.Dir(out)+" (0700)"); said == exists {
				t.Errorf("stderr says the directory was created: %v, want %v:\n%s", said, !exists, stderr)
			}
			st, err := os.Stat(filepath.Dir(out))
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("directory %s: %v, %v; want 0700", filepath.Dir(out), st.Mode(), err)
			}
			entries, _ := os.ReadDir(filepath.Dir(out))
			if len(entries) != 2 {
				t.Errorf("%d files written, want the message and its PDF", len(entries))
			}
			for _, en := range entries {
				info, _ := en.Info()
				if info.Mode().Perm() != 0o600 {
					t.Errorf("%s is %04o, want 0600", en.Name(), info.Mode().Perm())
				}
			}
		})
	}
}
