package main

import (
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/emit/runbook"
)

type docsOptions struct {
	output      string
	restoreRoot string
	json        bool
}

const docsLong = `Print the runbook of a node as Markdown: its jobs, paths, schedules (as
written and as systemd reads them), retention in words, repositories (with
the NFS export each one mounts), and the exact commands to restore each
path of each job from each of its repositories.

The restore commands run restic as the backup user, which owns the
repositories, with the capabilities to restore owners and modes; they
restore below --restore-root (one folder per job, under the original
paths), so that nothing live is overwritten.

FILE is the node's host file; the nearest bakc.hcl above it is read too.

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors; nothing was written
  2  usage error`

func newDocsCmd(e *env) *cobra.Command {
	var opts docsOptions
	cmd := &cobra.Command{
		Use:   "docs FILE",
		Short: "Print a node's runbook (what is backed up, and how to restore it) as Markdown",
		Long:  docsLong,
		Example: `  bakc docs hosts/forge.hcl
  bakc docs hosts/forge.hcl -o out/forge/runbook.md`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("docs needs the host file of one node")
			}
			return runDocs(e, opts, args[0])
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write the runbook to this file atomically instead of stdout")
	cmd.Flags().StringVar(&opts.restoreRoot, "restore-root", runbook.DefaultRestoreRoot, "the folder the restore commands restore into")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runDocs(e *env, opts docsOptions, file string) error {
	p, _, err := loadNodePlan(e, file, opts.json)
	if err != nil {
		return err
	}
	md, err := runbook.Render(p, runbook.Options{RestoreRoot: opts.restoreRoot})
	if err != nil {
		return err
	}
	return writeOutput(e, opts.output, md)
}
