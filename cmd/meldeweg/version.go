package main

import (
	"fmt"
)

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version",
		usage:   "version",
		help: `EXIT CODES
  0  always`,
		run: func(e *env, _ []string) int {
			fmt.Fprintf(e.stdout, "meldeweg %s\n", version)
			return exitOK
		},
	}
}
