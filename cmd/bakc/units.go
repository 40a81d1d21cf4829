package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/internal/atomicfile"
)

type unitsOptions struct {
	output  string
	program string
	json    bool
}

const unitsLong = `Write a node's systemd units as plain files, for hosts that are not NixOS:
per job bakc-backup-<job>.service and .timer; per repository
bakc-verify-<repo>, bakc-restore-test-<repo> and bakc-prune-<repo> services
and timers; for NFS repositories the .mount and .automount units; and
plan.json (the node's plan), runbook.md (its runbook, linked into
paths.docs, /var/lib/backup-docs by default, by the tmpfiles), bakc-tmpfiles.conf (the runtime's folders),
bakc-sysusers.conf (the backup user with its fixed uid) and, when an sftp
repository gives its host keys inline, known_hosts. They are the same
units, key for key, as those of "bakc compile" for NixOS.

Every file is computed before the first is written: when the configuration
has errors nothing is written. The files are written all or nothing: a
folder that does not exist is made beside its place and renamed into it;
into a folder that exists (it may be /etc/systemd/system) the files are
first written to a hidden folder inside it, and only when every one of
them was written is each renamed over its target, atomically. Files of an
earlier run that this run no longer writes are named in a warning, not
removed.

Install on the host (see docs/nixos.md for NixOS):
  cp DIR/*.service DIR/*.timer DIR/*.mount DIR/*.automount /etc/systemd/system/
  install -D -m 0644 DIR/plan.json /etc/bakc/plan.json
  install -D -m 0644 DIR/runbook.md /etc/bakc/runbook.md   # beside the plan
  install -D -m 0644 DIR/known_hosts /etc/bakc/known_hosts   # if written
  cp DIR/bakc-sysusers.conf /etc/sysusers.d/bakc.conf && systemd-sysusers
  cp DIR/bakc-tmpfiles.conf /etc/tmpfiles.d/bakc.conf && systemd-tmpfiles --create
  systemctl daemon-reload && systemctl enable --now bakc-*.timer

A node that replicates its ZFS datasets to its NAS (docs/replication.md)
also gets bakc-sanoid.service and .timer (Debian's sanoid, on
bakc-sanoid.conf), bakc-replication-allow.service, and the NAS's key for
the send user:
  install -D -m 0644 DIR/bakc-sanoid.conf /etc/bakc/sanoid/sanoid.conf
  install -D -m 0644 DIR/bakc-send.authorized_keys /var/lib/bakc-send/.ssh/authorized_keys
  systemctl enable --now bakc-replication-allow.service

Exit codes:
  0  success (warnings may have been printed)
  1  the configuration has errors; nothing was written
  2  usage error`

func newUnitsCmd(e *env) *cobra.Command {
	var opts unitsOptions
	cmd := &cobra.Command{
		Use:     "units FILE -o DIR",
		Short:   "Write a node's systemd units, plan and tmpfiles/sysusers files into a folder",
		Long:    unitsLong,
		Example: `  bakc units hosts/forge.hcl -o out/forge/units --bakc /usr/bin/bakc`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError("units needs the host file of one node")
			}
			if opts.output == "" {
				return usageError("units needs -o DIR, the folder to write the units into")
			}
			if !filepath.IsAbs(opts.program) {
				return usageError("--bakc %q is not an absolute path; systemd runs the units' program by its absolute path", opts.program)
			}
			return runUnits(e, opts, args[0])
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "the folder to write the files into (created if missing)")
	cmd.Flags().StringVar(&opts.program, "bakc", unitfile.DefaultProgram, "the absolute path of bakc on the host, which the services run")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runUnits(e *env, opts unitsOptions, file string) error {
	p, _, err := loadNodePlan(e, file, opts.json)
	if err != nil {
		return err
	}
	files, err := unitfile.Render(p, opts.program)
	if err != nil {
		return err
	}
	return writeUnitDir(e, opts.output, files)
}

// writeUnitDir writes files into dir all or nothing (atomicfile.WriteDir)
// and warns about the files an earlier run wrote there that this one
// did not.
func writeUnitDir(e *env, dir string, files []unitfile.File) error {
	written := map[string]bool{}
	out := make([]atomicfile.File, len(files))
	for i, f := range files {
		out[i] = atomicfile.File{Name: f.Name, Data: f.Data}
		written[f.Name] = true
	}
	if err := atomicfile.WriteDir(dir, out, 0o644); err != nil {
		return err
	}
	warnStaleUnits(e, dir, written)
	return nil
}

// warnStaleUnits names the files in dir that an earlier run of bakc
// wrote (their first line is bakc's header) and this run did not: units
// of a job or repository that is gone, which systemd would still run.
// They are not removed, since dir may be /etc/systemd/system itself.
func warnStaleUnits(e *env, dir string, written map[string]bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range entries {
		if written[ent.Name()] || !ent.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue
		}
		first, _ := bufio.NewReader(f).ReadBytes('\n')
		f.Close()
		if bytes.HasPrefix(first, []byte("# Generated by bakc from ")) {
			fmt.Fprintf(e.stderr, "bakc: warning: %s was written by an earlier bakc run and is no longer part of this node; remove it (and disable it on the host) if it is installed\n",
				strings.TrimPrefix(filepath.Join(dir, ent.Name()), "./"))
		}
	}
}
