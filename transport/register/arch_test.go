package register_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// listed is what "go list -json" says of a package.
type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-json"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

const module = "meldeweg.dev/meldeweg/"

// The register is the shared vocabulary at the bottom (style: river's
// rivertype): it depends on no other Meldeweg package, and the client,
// the delivery and the simulator depend on it, never the reverse.
func TestRegisterIsALeaf(t *testing.T) {
	for _, p := range goList(t, module+"transport/register") {
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module) && !strings.HasPrefix(d, module+"transport/register/") {
				t.Errorf("%s depends on %s; the register must not depend on other Meldeweg packages", p.ImportPath, d)
			}
		}
	}
}
