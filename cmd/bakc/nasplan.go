package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/nas"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/internal/atomicfile"
	"github.com/holthome/bakc/zfs"
)

// exitDiffers is `nas-plan --check`'s exit code when the NAS differs from
// the configuration.
const exitDiffers = 3

type nasPlanOptions struct {
	nas     string
	fleet   string
	format  string
	check   bool
	output  string
	json    bool
	program string
}

const nasPlanLong = `Print what a NAS needs for NODE: a POSIX sh script to run as root on the
NAS, or (--format nix) the same as NixOS configuration for a NAS that runs
NixOS. It creates the node's ZFS datasets with their properties and quotas
where they are missing, gives repository datasets to the backup user's
uid and gid, writes /etc/exports.d/bakc-NODE.exports whole and reloads the
exports, and creates the replication user with its key (restricted to
zfs receive from the node's address) and its zfs allow rights. The script
changes only what differs and prints every change; run again, it changes
nothing and says so.

With --nas NAS, print it for every node of that NAS. The fleet is the
nearest bakc.hcl at or above --fleet (default: the current folder).

With --check, print nothing to run: read the NAS's current state (run it
on the NAS; ZFS properties through go-zfs) and list only where it differs
from the configuration. It does not read zfs allow rights, and sees sizes
as zfs shows them (to 3 digits); the script compares both exactly.

The environment variables BAKC_NAS_ROOT, BAKC_EXPORTFS and
BAKC_ZFS_DELEGATE, read by the script (and BAKC_NAS_ROOT by --check), are
for tests only; see docs/nas.md.

With --format units -o DIR, write a NAS without NixOS its replication
files (docs/replication.md): per replicated dataset of its nodes
bakc-replicate-NODE-DATASET.service (bakc run replicate with Debian's
syncoid, as root) and .timer, bakc-nas-sanoid.service and .timer (Debian's
sanoid pruning the copies by their keep policies), and to install:
  cp DIR/*.service DIR/*.timer /etc/systemd/system/
  install -D -m 0644 DIR/bakc-nas-sanoid.conf /etc/bakc/nas-sanoid/sanoid.conf
  install -D -m 0644 DIR/bakc-replication-known_hosts /etc/bakc/replication-known_hosts
  cp DIR/bakc-nas-tmpfiles.conf /etc/tmpfiles.d/bakc-nas.conf && systemd-tmpfiles --create
  systemctl daemon-reload && systemctl enable --now bakc-replicate-*.timer bakc-nas-sanoid.timer

Exit codes:
  0  success (warnings may have been printed); with --check, the NAS
     is as configured
  1  the configuration has errors (nothing was written), or the
     command failed
  2  usage error, or an unknown node or NAS
  3  with --check: the NAS differs from the configuration`

func newNASPlanCmd(e *env) *cobra.Command {
	var opts nasPlanOptions
	cmd := &cobra.Command{
		Use:   "nas-plan NODE | nas-plan --nas NAS",
		Short: "Print the NAS side of a node (datasets, exports, replication user) as a script or NixOS config",
		Long:  nasPlanLong,
		Example: `  bakc nas-plan luna > luna-nas.sh     # review, copy to nas-1, run as root
  bakc nas-plan luna --format nix        # for a NAS that runs NixOS
  bakc nas-plan --nas nas-1              # every node of nas-1
  bakc nas-plan luna --check             # on nas-1: what differs`,
		RunE: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usageError("nas-plan takes one node name")
			case len(args) == 0 && opts.nas == "":
				return usageError("nas-plan needs a node name, or --nas NAS")
			case opts.format != "sh" && opts.format != "nix" && opts.format != "units":
				return usageError("--format must be sh, nix or units, not %q", opts.format)
			case opts.format == "units" && opts.output == "" && !opts.check:
				return usageError("--format units needs -o DIR, the folder to write the files into")
			case opts.format == "units" && !filepath.IsAbs(opts.program):
				return usageError("--bakc %q is not an absolute path; systemd runs the units' program by its absolute path", opts.program)
			case opts.check && opts.output != "":
				return usageError("--check prints differences; it writes no file (-o)")
			}
			node := ""
			if len(args) == 1 {
				node = args[0]
			}
			return runNASPlan(e, opts, node)
		},
	}
	cmd.Flags().StringVar(&opts.nas, "nas", "", "the NAS: every node of it, or the NAS that NODE must be on")
	cmd.Flags().StringVar(&opts.fleet, "fleet", ".", "the fleet (a folder at or below its bakc.hcl)")
	cmd.Flags().StringVar(&opts.format, "format", "sh", "sh (a POSIX shell script), nix (NixOS configuration) or units (a plain NAS's replication units, into -o DIR)")
	cmd.Flags().StringVar(&opts.program, "bakc", unitfile.DefaultProgram, "with --format units: the absolute path of bakc on the NAS, which the units run")
	cmd.Flags().BoolVar(&opts.check, "check", false, "compare the NAS this runs on with the configuration and print the differences; change nothing")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to this file atomically instead of stdout")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runNASPlan(e *env, opts nasPlanOptions, node string) error {
	f, err := loadFleet(e, opts.fleet, opts.json)
	if err != nil {
		return err
	}
	p, err := findNASPlan(e, f, opts, node)
	if err != nil {
		return err
	}
	if opts.check {
		return checkNAS(e, p)
	}
	if opts.format == "units" {
		return writeNASUnits(e, p, opts)
	}
	var data []byte
	if opts.format == "nix" {
		data, err = nas.Nix(p)
	} else {
		data, err = nas.Script(p)
		if err == nil {
			warnReplicationNotScripted(e, p)
		}
	}
	if err != nil {
		return err
	}
	if opts.output == "" || opts.output == "-" {
		_, err = e.stdout.Write(data)
		return err
	}
	perm := os.FileMode(0o644)
	if opts.format == "sh" {
		perm = 0o755
	}
	return atomicfile.Write(opts.output, data, perm)
}

// findNASPlan returns the NAS plan to print: the whole NAS for --nas,
// else the plan of NODE's NAS with only NODE in it. It prints the
// diagnostics of the NAS concerned.
func findNASPlan(e *env, f *compiler.Fleet, opts nasPlanOptions, node string) (*plan.NASPlan, error) {
	if node != "" {
		if _, ok := f.NodeFile(node); !ok {
			return nil, usageError("the fleet has no node %q; its nodes are %s", node, strings.Join(f.NodeNames(), ", "))
		}
	}
	names := f.NASNames()
	if opts.nas != "" {
		found := false
		for _, n := range names {
			found = found || n == opts.nas
		}
		if !found {
			return nil, usageError("the fleet has no NAS %q; its NAS are %s", opts.nas, strings.Join(names, ", "))
		}
		names = []string{opts.nas}
	}
	var failed hcl.Diagnostics
	for _, name := range names {
		p, diags := f.NASPlan(name)
		if diags.HasErrors() {
			failed = append(failed, diags...)
			continue
		}
		if node == "" {
			printDiagnostics(e, f, diags, opts.json)
			return p, nil
		}
		for _, n := range p.Nodes {
			if n.Name == node {
				printDiagnostics(e, f, diags, opts.json)
				keepNode(f, p, n)
				return p, nil
			}
		}
	}
	if len(failed) > 0 {
		printDiagnostics(e, f, failed, opts.json)
		return nil, silentExit(exitConfig)
	}
	if opts.nas != "" {
		return nil, fmt.Errorf("node %s does not store backups on NAS %s; give it nas = %q in its host file, or leave out --nas", node, opts.nas, opts.nas)
	}
	return nil, fmt.Errorf("node %s stores nothing on a NAS: give it nas = \"<name>\" and a repository with an nfs block, or a dataset to receive replication", node)
}

// keepNode narrows a NAS plan to one node: its datasets, and the
// sources without the other nodes' host files.
func keepNode(f *compiler.Fleet, p *plan.NASPlan, keep plan.NASNode) {
	others := map[string]bool{}
	for _, n := range p.Nodes {
		if n.Name == keep.Name {
			continue
		}
		if file, ok := f.NodeFile(n.Name); ok {
			if rel, err := filepath.Rel(f.Root(), file); err == nil {
				others[filepath.ToSlash(rel)] = true
			}
		}
	}
	var sources []string
	for _, s := range p.Sources {
		if !others[s] {
			sources = append(sources, s)
		}
	}
	p.Sources = sources
	p.Nodes = []plan.NASNode{keep}
}

// checkNAS prints how the NAS this runs on differs from p.
func checkNAS(e *env, p *plan.NASPlan) error {
	diffs, err := nas.Check(p, zfs.PropertyReader{}, localFiles{root: os.Getenv("BAKC_NAS_ROOT")})
	if err != nil {
		return err
	}
	var nodes []string
	for _, n := range p.Nodes {
		nodes = append(nodes, n.Name)
	}
	if len(diffs) == 0 {
		fmt.Fprintf(e.stdout, "%s is as configured for %s: the script would change nothing (zfs allow rights are not checked).\n", p.NAS.Name, strings.Join(nodes, ", "))
		return nil
	}
	fmt.Fprintf(e.stdout, "%s differs from the configuration of %s in %d places:\n", p.NAS.Name, strings.Join(nodes, ", "), len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(e.stdout, "  %s\n", d)
	}
	return silentExit(exitDiffers)
}

// localFiles reads the NAS's files for --check: /etc and /home below
// root (BAKC_NAS_ROOT, for tests; empty on a NAS), dataset mountpoints
// as they are.
type localFiles struct{ root string }

func (l localFiles) ReadFile(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(l.root, path))
}

func (localFiles) Owner(path string) (int, int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, errors.New("cannot read the owner of " + path)
	}
	return int(st.Uid), int(st.Gid), nil
}

// warnReplicationNotScripted says, on stderr, which nodes of the plan
// replicate: the script creates their receive dataset, but syncoid and
// sanoid on a NAS without NixOS are not generated (docs/replication.md).
func warnReplicationNotScripted(e *env, p *plan.NASPlan) {
	var names []string
	for _, n := range p.Nodes {
		if n.Replication != nil {
			names = append(names, n.Name)
		}
	}
	if len(names) > 0 {
		fmt.Fprintf(e.stderr, "bakc nas-plan: warning: nodes that replicate ZFS datasets to %s: %s; this script creates their receive datasets; syncoid and sanoid are set up by --format nix, or on a NAS without NixOS by the units of --format units (docs/replication.md)\n", p.NAS.Name, strings.Join(names, ", "))
	}
}

// writeNASUnits is --format units: a plain NAS's replication units and
// files, written into the folder all or nothing, as `bakc units` writes
// a node's.
func writeNASUnits(e *env, p *plan.NASPlan, opts nasPlanOptions) error {
	files, err := nas.Units(p, opts.program)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError("no node of %s replicates: there are no replication units to write", p.NAS.Name)
	}
	return writeUnitDir(e, opts.output, files)
}
