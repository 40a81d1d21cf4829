package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler"
)

const validateLong = `Check a whole fleet: bakc.hcl at or above DIR (default: the current
folder) and every host file below it, every node and NAS together, and the
rules between them (two nodes sharing an export, quotas over a NAS's
capacity). Diagnostics are printed as Terraform prints them, or as JSON with
--json. Given a host file instead of a folder, check that node alone with
its bakc.hcl.

Exit codes:
  0  the fleet is valid (warnings may have been printed)
  1  the configuration has errors
  2  usage error`

func newValidateCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [DIR | FILE]",
		Short: "Check a whole fleet (or one host file)",
		Long:  validateLong,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			target := "."
			if len(args) == 1 {
				target = args[0]
			}
			return runValidate(e, target, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print diagnostics as one line of JSON on stderr, also when there are none")
	return cmd
}

func runValidate(e *env, target string, asJSON bool) error {
	var f *compiler.Fleet
	var diags hcl.Diagnostics
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		f, diags = compiler.LoadNodeFile(target)
	} else {
		f, diags = compiler.LoadFleet(target)
	}
	if !diags.HasErrors() {
		diags = append(diags, f.Validate()...)
	}
	if asJSON {
		writeJSONDiagnostics(e, f.FilesFor(diags), diags)
	} else {
		printDiagnostics(e, f, diags, false)
	}
	if diags.HasErrors() {
		return silentExit(exitConfig)
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "The fleet is valid: %s, %s.\n", count(len(f.NodeNames()), "node"), count(len(f.NASNames()), "NAS"))
	}
	return nil
}

func count(n int, what string) string {
	if n == 1 || what == "NAS" {
		return fmt.Sprintf("%d %s", n, what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
