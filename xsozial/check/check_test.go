package check

import (
	"os/exec"
	"strings"
	"testing"
)

func TestCleanSyntheticDatasetPasses(t *testing.T) {
	for _, month := range []string{"2026-03", "2026-10"} {
		t.Run(month, func(t *testing.T) {
			path, _ := buildSynth(t, 300, month, false)
			rep := checkPath(t, path)
			if !rep.Passed {
				var b strings.Builder
				rep.WriteText(&b)
				t.Fatalf("clean dataset did not pass:\n%s", b.String())
			}
			if len(rep.Findings) != 0 {
				t.Errorf("clean dataset has %d findings", len(rep.Findings))
			}
			if rep.Figures.BGs != 300 {
				t.Errorf("BGs = %d, want 300", rep.Figures.BGs)
			}
			// xmllint as the independent referee of the XSD stage.
			b := bundleFor(t, mustMonth(month))
			xsd := "../../schemas/bundles/xsozial-ba-sgb2-" + b.Version + "/xsozial-ba-sgb2.xsd"
			out, err := exec.Command("xmllint", "--noout", "--stream", "--schema", xsd, path).CombinedOutput()
			if err != nil {
				t.Fatalf("xmllint rejects the built dataset: %v\n%s", err, out)
			}
		})
	}
}

func TestInjectedFaultsAreFoundByTheirRules(t *testing.T) {
	for _, month := range []string{"2026-03", "2026-10"} {
		t.Run(month, func(t *testing.T) {
			path, faults := buildSynth(t, 60, month, true)
			rep := checkPath(t, path)
			if rep.Passed {
				t.Fatal("faulty dataset passed")
			}
			want := map[string]int{}
			for _, f := range faults {
				want[f.Rule]++
			}
			got := rep.Rules()
			for r := range want {
				if got[r] == 0 {
					t.Errorf("fault for %s not found", r)
				}
			}
			for r := range got {
				if want[r] == 0 {
					var lines []string
					for _, f := range rep.Findings {
						if f.Rule == r {
							lines = append(lines, f.String())
						}
					}
					t.Errorf("unexpected rule %s:\n%s", r, strings.Join(lines, "\n"))
				}
			}
			if st := rep.Stage(StageVTX); st.Status != StatusPassed {
				t.Errorf("VTX = %+v, want passed (faults are semantic)", st)
			}
		})
	}
}
