package due_test

import (
	"fmt"

	"meldeweg.dev/meldeweg/emaw"
	"meldeweg.dev/meldeweg/emaw/due"
)

// A participant who left on 4 March: the March attendance is due at once,
// February's by the 9th.
func ExampleList() {
	s := due.State{
		Massnahmen: []due.Measure{{Nummer: "123/21/1/26", Verfahrenszweig: "01",
			Beginn: emaw.MustDate("2026-01-05"), Ende: emaw.MustDate("2026-12-18")}},
		Teilnehmer: []due.Participant{{Ref: "TN-B", Massnahme: "123/21/1/26", Verfahrenszweig: "01",
			Eintritt: emaw.MustDate("2026-02-02"), Austritt: emaw.MustDate("2026-03-04")}},
	}
	items, err := due.List(s, emaw.MustDate("2026-03-05"))
	if err != nil {
		panic(err)
	}
	for _, it := range items {
		fmt.Println(it.Deadline, it.Status, it.Type, it.Teilnehmer, it.Period, "-", it.Reason)
	}
	// Output:
	// 2026-03-04 overdue AnwesenheitMonat TN-B 2026-03 - at once: exit on 2026-03-04
	// 2026-03-09 due AnwesenheitMonat TN-B 2026-02 - by the 9th of the following month
}
