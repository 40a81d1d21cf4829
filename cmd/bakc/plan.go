package main

import (
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/atomicfile"
)

type planOptions struct {
	nas    string
	fleet  string
	output string
	json   bool
}

const planLong = `Print the resolved plan of a node as JSON: every default merged, every
reference resolved, every list sorted. It is what the emitters and the
runtime read (installed as /etc/bakc/plan.json), and holds no secrets, only
paths to them.

FILE is the node's host file; the nearest bakc.hcl above it is read too.
With --nas NAME, print the NAS plan of that NAS instead (the datasets,
exports and replication users of every node using it), for the fleet at
--fleet (default: the current folder).

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors; nothing was written
  2  usage error`

func newPlanCmd(e *env) *cobra.Command {
	var opts planOptions
	cmd := &cobra.Command{
		Use:   "plan FILE | plan --nas NAME [--fleet DIR]",
		Short: "Print a node's (or a NAS's) resolved plan as JSON",
		Long:  planLong,
		Example: `  bakc plan hosts/forge.hcl
  bakc plan hosts/forge.hcl -o out/forge/plan.json
  bakc plan --nas nas-1`,
		RunE: func(_ *cobra.Command, args []string) error {
			switch {
			case opts.nas == "" && len(args) != 1:
				return usageError("plan needs the host file of one node, or --nas NAME")
			case opts.nas != "" && len(args) != 0:
				return usageError("plan --nas takes no host file; use --fleet DIR to name the fleet")
			}
			return runPlan(e, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.nas, "nas", "", "print the NAS plan of this NAS instead of a node's plan")
	cmd.Flags().StringVar(&opts.fleet, "fleet", ".", "the fleet (a folder at or below its bakc.hcl) for --nas")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write the plan to this file atomically instead of stdout")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runPlan(e *env, opts planOptions, args []string) error {
	var data []byte
	if opts.nas != "" {
		f, err := loadFleet(e, opts.fleet, opts.json)
		if err != nil {
			return err
		}
		p, diags := f.NASPlan(opts.nas)
		printDiagnostics(e, f, diags, opts.json)
		if diags.HasErrors() {
			return silentExit(exitConfig)
		}
		if data, err = plan.MarshalNAS(p); err != nil {
			return err
		}
	} else {
		p, _, err := loadNodePlan(e, args[0], opts.json)
		if err != nil {
			return err
		}
		if data, err = plan.Marshal(p); err != nil {
			return err
		}
	}
	return writeOutput(e, opts.output, data)
}

// writeOutput writes data to stdout, or atomically to path.
func writeOutput(e *env, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}
