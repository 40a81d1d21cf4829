package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
)

type snapshotsOptions struct {
	nodeOptions
	repo string
	json bool
}

const snapshotsLong = `List the snapshots of this node in a repository of the installed plan,
oldest first: of one job (restic's --host NODE --tag job:JOB, the tags the
runtime gives every snapshot of the job), or of every job without JOB.

The table shows each snapshot's short ID, time (in this machine's time
zone), host, paths, tags and size (the bytes the backup read; restic 0.17
and later record it, older ones show "-"). --json prints restic's own JSON.

The repository is --repo, or else the job's first repository on a disk or
NFS export of the node (local, nfs), or else its first. restic runs as the
units run it (see "bakc restic --help").

Exit codes:
  0  success
  1  the plan cannot be read, names no such job or repository, the
     repository's preflight failed, or restic failed
  2  usage error`

func newSnapshotsCmd(e *env) *cobra.Command {
	var opts snapshotsOptions
	cmd := &cobra.Command{
		Use:   "snapshots [JOB] [--repo REPO]",
		Short: "List a job's snapshots in a repository of the plan",
		Long:  snapshotsLong,
		Example: `  bakc snapshots system
  bakc snapshots plex --repo cloud-secondary
  bakc snapshots --repo nas-primary --json`,
		ValidArgsFunction: completeFirstJob,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError("snapshots takes at most one job")
			}
			job := ""
			if len(args) == 1 {
				job = args[0]
			}
			return runSnapshots(e, opts, job)
		},
	}
	addNodeFlags(cmd, &opts.nodeOptions)
	cmd.Flags().StringVar(&opts.repo, "repo", "", "the `REPO`sitory to list (default: the job's nearest)")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print restic's JSON")
	registerRepoFlagCompletion(cmd)
	return cmd
}

func runSnapshots(e *env, opts snapshotsOptions, jobName string) error {
	p, err := opts.readPlan()
	if err != nil {
		return err
	}
	var job *plan.Job
	var repo *plan.Repository
	if jobName != "" {
		if job, err = planJob(p, jobName); err != nil {
			return err
		}
		if repo, err = jobRepository(p, job, opts.repo); err != nil {
			return err
		}
	} else if repo, err = nodeRepository(p, opts.repo); err != nil {
		return err
	}
	rs, err := resticForRepository(p, opts.nodeOptions, repo.Name, nil)
	if err != nil {
		return err
	}
	tag := ""
	if job != nil {
		tag = job.JobTag
	}
	var raw []byte
	err = rs.Run(context.Background(), restic.SnapshotsArgs(p.Node.Name, tag), func(line []byte) {
		raw = append(append(raw, line...), '\n')
	})
	if err != nil {
		return err
	}
	if opts.json {
		_, err := e.stdout.Write(raw)
		return err
	}
	var snaps []restic.Snapshot
	if err := json.Unmarshal(raw, &snaps); err != nil {
		return fmt.Errorf("restic snapshots: reading its JSON: %w", err)
	}
	what := "every job of " + p.Node.Name
	if job != nil {
		what = "job " + job.Name + " of " + p.Node.Name
	}
	fmt.Fprintf(e.stdout, "Snapshots of %s in repository %s (%s), oldest first:\n\n", what, repo.Name, repo.URL)
	if len(snaps) == 0 {
		fmt.Fprintln(e.stdout, "(none)")
		return nil
	}
	writeSnapshotTable(e, snaps)
	return nil
}

// writeSnapshotTable prints snapshots as a table.
func writeSnapshotTable(e *env, snaps []restic.Snapshot) {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tHOST\tPATHS\tTAGS\tSIZE")
	for _, s := range snaps {
		size := "-"
		if s.Summary != nil {
			size = runtime.FormatBytes(s.Summary.TotalBytesProcessed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Short(), s.Time.Local().Format("2006-01-02 15:04:05"),
			s.Hostname, strings.Join(s.Paths, " "), strings.Join(s.Tags, ","), size)
	}
	tw.Flush()
}

// nodeRepository is the repository a command on the whole node reads:
// --repo, or else the node's first repository on a disk or NFS export,
// or else its first.
func nodeRepository(p *plan.Plan, given string) (*plan.Repository, error) {
	if given != "" {
		r, ok := p.Repository(given)
		if !ok {
			return nil, &exitError{code: exitConfig, err: fmt.Errorf("the plan has no repository %q (repositories: %s)", given, strings.Join(runtime.RepositoryNames(p), ", "))}
		}
		return r, nil
	}
	if len(p.Repositories) == 0 {
		return nil, &exitError{code: exitConfig, err: fmt.Errorf("the plan has no repository")}
	}
	for i := range p.Repositories {
		if k := p.Repositories[i].Kind; k == plan.KindLocal || k == plan.KindNFS {
			return &p.Repositories[i], nil
		}
	}
	return &p.Repositories[0], nil
}
