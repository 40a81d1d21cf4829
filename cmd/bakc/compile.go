package main

import (
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/emit/nixos"
)

type compileOptions struct {
	output string
	json   bool
}

const compileLong = `Compile a node's host file into backup.nix, a NixOS module that sets only
standard NixOS options: the plan under environment.etc."bakc/plan.json", the
backup user and group with fixed ids, fileSystems for NFS repositories,
systemd.tmpfiles.rules for the runtime's folders, and a service and a timer
for every job and every repository's verify, restore test and prune. The
services are the same, key for key, as those "bakc units" writes for hosts
that are not NixOS.

The module takes bakc from pkgs.bakc: import bakc's NixOS module
(nixosModules.default) or add its overlay. See docs/nixos.md.

FILE is the node's host file; the nearest bakc.hcl above it is read too.
The module goes to stdout, or with -o atomically to a file: on any error
nothing is written and an existing file stays as it was.

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors; nothing was written
  2  usage error`

func newCompileCmd(e *env) *cobra.Command {
	var opts compileOptions
	cmd := &cobra.Command{
		Use:   "compile FILE",
		Short: "Compile a node into backup.nix, its NixOS module",
		Long:  compileLong,
		Example: `  bakc compile hosts/forge.hcl > backup.nix
  bakc compile hosts/forge.hcl -o /etc/nixos/backup.nix`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("compile needs the host file of one node")
			}
			return runCompile(e, opts, args[0])
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write backup.nix to this file atomically instead of stdout")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runCompile(e *env, opts compileOptions, file string) error {
	p, _, err := loadNodePlan(e, file, opts.json)
	if err != nil {
		return err
	}
	module, err := nixos.Render(p)
	if err != nil {
		return err
	}
	return writeOutput(e, opts.output, module)
}
