package main

import (
	"meldeweg.dev/meldeweg/cmd/meldeweg/internal/settings"
	"meldeweg.dev/meldeweg/schemas"
	"meldeweg.dev/meldeweg/xsozial"
)

func xsozialCommand() *command {
	return &command{
		name:    "xsozial",
		summary: "build, check and read feedback of XSozial-BA-SGB II deliveries",
		usage: `xsozial run --month YYYY-MM
xsozial build --traeger NR --month YYYY-MM --in DIR --out FILE
xsozial check FILE
xsozial feedback FILE [--dataset FILE --source DIR]`,
		help: `The monthly § 51b SGB II delivery: build the dataset from the JSON Lines
source a case-management system exports, check it in the three stages of the
BA's VTXSozial (RTX, VTX, PTX), and read the BA's feedback, mapping each
finding back to its source line. The schema bundle (and with it the rule
table and the Schlüsselkatalog) is the one in force for the reporting month;
the embedded ones are models built from public facts, not the BA's.`,
		sub: []*command{xsozialRunCommand(), xsozialBuildCommand(), xsozialCheckCommand(), xsozialFeedbackCommand()},
	}
}

// traegerFlag is --traeger, which overrides "traeger".
func traegerFlag(value *string) func() []settings.Flag {
	return func() []settings.Flag { return []settings.Flag{{Name: "--traeger", Field: "traeger", Value: *value}} }
}

// xsozialTraeger returns the Trägernummer of the settings ("" when none
// is configured).
func xsozialTraeger(e *env) (string, error) {
	c, err := e.settings()
	if err != nil {
		return "", err
	}
	return c.Traeger, nil
}

// xsozialBundle returns the bundle in force for month.
func xsozialBundle(e *env, month schemas.Month) (*schemas.Bundle, error) {
	reg, err := e.registry()
	if err != nil {
		return nil, err
	}
	return reg.Select(xsozial.Standard, month)
}
