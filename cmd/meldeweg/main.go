// Command meldeweg is the gateway between German social-service
// organisations and the Bundesagentur für Arbeit: it builds, checks, seals,
// sends and registers XSozial-BA-SGB II deliveries and eM@w messages.
//
// Commands only wire packages together; the work is done in xsozial, emaw,
// schemas and transport. Run "meldeweg --help" for the list.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
