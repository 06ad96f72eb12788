package emaw

// The code lists (Schlüssel) below are model assumptions: the BA's
// Schlüsselverzeichnisse are not public. The categories and names follow
// the public descriptions (attendance types Ferien/Urlaub, Berufsschule,
// Praktikum, Prüfungstag; absence types krank with Erst-/Folgebescheinigung,
// Kind krank, entschuldigt, unentschuldigt, MuSchG/Elternzeit); the
// two-digit values are ours.

// TagesartKind says whether a Tagesart counts as attendance or absence.
type TagesartKind string

const (
	// Present: the participant took part (in the measure, at school, in a
	// placement, at an exam, or on scheduled leave).
	Present TagesartKind = "anwesend"
	// Absent: a Fehlzeit; reported only as whole days.
	Absent TagesartKind = "fehlend"
)

// Tagesart is one code of the attendance list: what a participant did on
// one day.
type Tagesart struct {
	Code string
	Name string
	Kind TagesartKind
}

var tagesarten = []Tagesart{
	{"01", "anwesend", Present},
	{"02", "Ferien/Urlaub", Present},
	{"03", "Berufsschule", Present},
	{"04", "Praktikum", Present},
	{"05", "Prüfungstag", Present},
	{"06", "Feiertag/maßnahmefrei", Present},
	{"20", "krank mit Erstbescheinigung", Absent},
	{"21", "krank mit Folgebescheinigung", Absent},
	{"22", "Kind krank", Absent},
	{"23", "entschuldigt gefehlt", Absent},
	{"24", "unentschuldigt gefehlt", Absent},
	{"25", "Mutterschutz/Elternzeit", Absent},
}

// Tagesarten lists every Tagesart, attendance first.
func Tagesarten() []Tagesart { return append([]Tagesart(nil), tagesarten...) }

// LookupTagesart returns the Tagesart with code, and false if there is none.
func LookupTagesart(code string) (Tagesart, bool) {
	code = trimCode(code)
	for _, t := range tagesarten {
		if t.Code == code {
			return t, true
		}
	}
	return Tagesart{}, false
}

// Schluessel is one entry of a plain code list.
type Schluessel struct {
	Code string
	Name string
}

var austrittsgruende = []Schluessel{
	{"01", "Maßnahme regulär beendet"},
	{"02", "Abbruch durch die teilnehmende Person"},
	{"03", "Kündigung durch den Träger"},
	{"04", "Arbeitsaufnahme"},
	{"05", "Ausbildungsaufnahme"},
	{"06", "Krankheit"},
	{"07", "Umzug"},
	{"09", "sonstiger Grund"},
}

var verbleibe = []Schluessel{
	{"01", "betriebliche Ausbildung"},
	{"02", "außerbetriebliche Ausbildung"},
	{"03", "sozialversicherungspflichtige Beschäftigung"},
	{"04", "weitere Maßnahme"},
	{"05", "arbeitslos/arbeitsuchend"},
	{"06", "Schule"},
	{"08", "unbekannt"},
	{"09", "sonstiger Verbleib"},
}

// Austrittsgruende lists the codes for why a participant left.
func Austrittsgruende() []Schluessel { return append([]Schluessel(nil), austrittsgruende...) }

// Verbleibe lists the codes for where a participant went after leaving.
func Verbleibe() []Schluessel { return append([]Schluessel(nil), verbleibe...) }

// LookupSchluessel finds code in list.
func LookupSchluessel(list []Schluessel, code string) (Schluessel, bool) {
	code = trimCode(code)
	for _, s := range list {
		if s.Code == code {
			return s, true
		}
	}
	return Schluessel{}, false
}
