package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/restic"
)

type restoreOptions struct {
	nodeOptions
	snapshot string
	time     string
	target   string
	repo     string
	dump     string
	dryRun   bool
	inPlace  bool
	yes      bool
}

// restoreRoot is where a restore makes its fresh folder when no
// --target is given: on disk (not a tmpfs /tmp), kept across reboots
// for a while (systemd cleans /var/tmp after 30 days), one folder per
// restore.
const restoreRoot = "/var/tmp/bakc-restore"

const restoreLong = `Restore files of a job by the paths they have on this node (what you see,
such as /persist/var/lib/plex, also for a ZFS snapshot job, whose
snapshots record the original paths), from one of the job's snapshots in
one of its repositories, into a fresh folder: the files come back below it
under their original paths, and nothing live is touched. bakc prints what
it restored, where, and the rsync or cp line that puts it back.

PATH is a file or folder a path of the job holds, or a folder above the
job's paths; relative paths are taken from the current folder. --dump
NAME restores a dump of the job instead: into a file below the target,
and bakc prints the pipe into the dump's restore_command.

Which snapshot: the job's newest in the repository that holds every PATH
(restic's --host NODE --tag job:JOB), or the one --snapshot names (an ID
or its prefix; "latest" is the default), or the newest taken at or before
--time. --time reads a small part of systemd's timestamp syntax
(systemd.time(7)), in this machine's time zone unless it says otherwise:

  now, today, yesterday               (today and yesterday at 00:00)
  "2 days ago", "3h ago", -1w         (a systemd time span before now)
  2026-11-28, "2026-11-28 02:00", "2026-11-28 02:00:00 UTC"
  14:30                               (today at that time)
  @1795827600                         (Unix time)
  2026-11-28T02:00:00Z                (RFC 3339)

Where: --target DIR (it must not exist or be empty), or else a new folder
below ` + restoreRoot + `. --in-place restores over the live files at the
original paths instead (files the snapshot has are replaced, files it
lacks are left alone); it asks for "yes" on the terminal first, or takes
--yes.

The repository is --repo, or else the job's first repository on a disk or
NFS export of the node (local, nfs), or else its first. Run as root,
restic restores as the backup user with the capabilities to put owners,
groups and modes back; run as anyone else, the files belong to that user.
--dry-run chooses the snapshot and prints the restic command, and
restores nothing.

Exit codes:
  0  restored (or, with --dry-run, what would be)
  1  the plan cannot be read, names no such job, repository or dump; no
     snapshot fits; restic failed; a path came back missing from the
     snapshot (excluded, or not there then); or --in-place was not
     confirmed
  2  usage error (also --in-place without a terminal to ask and no --yes)`

func newRestoreCmd(e *env) *cobra.Command {
	var opts restoreOptions
	cmd := &cobra.Command{
		Use:   "restore JOB PATH... [--snapshot ID | --time TIME] [--target DIR | --in-place]",
		Short: "Restore files of a job by their original paths, from a snapshot chosen by time, into a fresh folder",
		Long:  restoreLong,
		Example: `  bakc restore system /persist/var/lib/plex
  bakc restore system /home/alice/notes.txt --time "2 days ago"
  bakc restore system /persist/etc/ssh --snapshot 4f3a2b1c --target /root/ssh-restore
  bakc restore databases --dump postgres
  bakc restore system /home/alice/notes.txt --in-place`,
		ValidArgsFunction: completeRestoreArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageError("restore needs a job of the plan and the paths to restore: bakc restore JOB PATH...")
			case opts.dump == "" && len(args) < 2:
				return usageError("restore needs the paths to restore after the job (or --dump NAME): bakc restore %s PATH...", args[0])
			case opts.dump != "" && len(args) > 1:
				return usageError("restore --dump takes no paths: a dump is one file")
			case opts.snapshot != "" && opts.time != "":
				return usageError("give --snapshot or --time, not both")
			case opts.inPlace && opts.target != "":
				return usageError("give --target or --in-place, not both")
			case opts.inPlace && opts.dump != "":
				return usageError("a dump is restored into a file (and printed as a pipe into its restore command), never in place")
			}
			return runRestore(e, opts, args[0], args[1:])
		},
	}
	addNodeFlags(cmd, &opts.nodeOptions)
	f := cmd.Flags()
	f.StringVar(&opts.snapshot, "snapshot", "", "restore this snapshot (`ID` or a prefix of it, or latest)")
	f.StringVar(&opts.time, "time", "", "restore the newest snapshot taken at or before `TIME` (\"2 days ago\", \"2026-11-28 02:00\")")
	f.StringVar(&opts.target, "target", "", "restore below this new or empty `DIR`ectory (default: a new folder below "+restoreRoot+")")
	f.StringVar(&opts.repo, "repo", "", "restore from this `REPO`sitory of the job (default: its nearest)")
	f.StringVar(&opts.dump, "dump", "", "restore the job's dump `NAME` into a file")
	f.BoolVar(&opts.dryRun, "dry-run", false, "choose the snapshot and print the restic command; restore nothing")
	f.BoolVar(&opts.inPlace, "in-place", false, "restore over the live files at the original paths (asks first)")
	f.BoolVarP(&opts.yes, "yes", "y", false, "with --in-place: do not ask")
	registerRepoFlagCompletion(cmd)
	cmd.RegisterFlagCompletionFunc("dump", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		p := completePlan(cmd)
		if p == nil || len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		j, ok := p.Job(args[0])
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, d := range j.Dumps {
			names = append(names, d.Name)
		}
		return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// completeRestoreArgs completes the job, then the job's paths (and files
// below them, by the shell).
func completeRestoreArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return completeJobs(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	p := completePlan(cmd)
	if p == nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	j, ok := p.Job(args[0])
	if !ok {
		return nil, cobra.ShellCompDirectiveDefault
	}
	if paths := withPrefix(j.Paths, toComplete); len(paths) > 0 && !slices.Contains(paths, toComplete) {
		return paths, cobra.ShellCompDirectiveNoSpace
	}
	return nil, cobra.ShellCompDirectiveDefault
}

// restoreRequest is a restore, resolved against the plan.
type restoreRequest struct {
	plan *plan.Plan
	job  *plan.Job
	repo *plan.Repository
	// paths are the absolute paths asked for; jobPaths the job's paths
	// that hold them (the snapshot must have each).
	paths, jobPaths []string
	dump            *plan.Dump
}

func runRestore(e *env, opts restoreOptions, jobName string, args []string) error {
	p, err := opts.readPlan()
	if err != nil {
		return err
	}
	j, err := planJob(p, jobName)
	if err != nil {
		return err
	}
	repo, err := jobRepository(p, j, opts.repo)
	if err != nil {
		return err
	}
	req := &restoreRequest{plan: p, job: j, repo: repo}
	if opts.dump != "" {
		for i := range j.Dumps {
			if j.Dumps[i].Name == opts.dump {
				req.dump = &j.Dumps[i]
			}
		}
		if req.dump == nil {
			var names []string
			for _, d := range j.Dumps {
				names = append(names, d.Name)
			}
			return &exitError{code: exitConfig, err: fmt.Errorf("job %s has no dump %q (dumps: %s)", j.Name, opts.dump, orNone(names))}
		}
	} else if err := req.resolvePaths(args); err != nil {
		return err
	}
	rs, err := resticForRepository(p, opts.nodeOptions, repo.Name, restic.RestoreCapabilities)
	if err != nil {
		return err
	}
	ctx := context.Background()
	snap, err := req.chooseSnapshot(ctx, rs, opts)
	if err != nil {
		return err
	}
	if req.dump != nil {
		return restoreDump(ctx, e, opts, req, rs, snap)
	}
	return restorePaths(e, opts, req, rs, snap)
}

// resolvePaths makes the paths absolute and finds the job's paths that
// hold them.
func (req *restoreRequest) resolvePaths(args []string) error {
	for _, a := range args {
		abs, err := filepath.Abs(a)
		if err != nil {
			return err
		}
		var holders []string
		for _, jp := range req.job.Paths {
			if within(abs, jp) || within(jp, abs) {
				holders = append(holders, jp)
			}
		}
		if len(holders) == 0 {
			return &exitError{code: exitConfig, err: fmt.Errorf("%s is not backed up by job %s (its paths: %s)", abs, req.job.Name, orNone(req.job.Paths))}
		}
		req.paths = append(req.paths, abs)
		for _, h := range holders {
			if !slices.Contains(req.jobPaths, h) {
				req.jobPaths = append(req.jobPaths, h)
			}
		}
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// chooseSnapshot lists the job's snapshots in the repository and picks
// the one to restore from: of those holding what is asked for, the one
// --snapshot names, the newest at or before --time, or the newest.
func (req *restoreRequest) chooseSnapshot(ctx context.Context, rs *restic.Restic, opts restoreOptions) (restic.Snapshot, error) {
	fail := func(format string, args ...any) (restic.Snapshot, error) {
		return restic.Snapshot{}, &exitError{code: exitConfig, err: fmt.Errorf(format, args...)}
	}
	snaps, err := rs.Snapshots(ctx, req.plan.Node.Name, req.job.JobTag)
	if err != nil {
		return restic.Snapshot{}, err
	}
	what := "holding " + strings.Join(req.paths, ", ")
	var fits []restic.Snapshot
	for _, s := range snaps {
		if req.holds(s) {
			fits = append(fits, s)
		}
	}
	if req.dump != nil {
		what = "of dump " + req.dump.Name
	}
	where := fmt.Sprintf("job %s of %s in repository %s", req.job.Name, req.plan.Node.Name, req.repo.Name)
	if len(fits) == 0 {
		return fail("there is no snapshot of %s %s (%d snapshots of the job there)", where, what, len(snaps))
	}
	switch {
	case opts.time != "":
		at, err := calendar.ParseTimestamp(opts.time, now())
		if err != nil {
			return restic.Snapshot{}, usageError("--time: %v", err)
		}
		var best *restic.Snapshot
		for i := range fits {
			if !fits[i].Time.After(at) && (best == nil || fits[i].Time.After(best.Time)) {
				best = &fits[i]
			}
		}
		if best == nil {
			return fail("there is no snapshot of %s %s taken at or before %s; the oldest is %s from %s",
				where, what, at.Local().Format("2006-01-02 15:04:05 MST"), fits[0].Short(), fits[0].Time.Local().Format("2006-01-02 15:04:05 MST"))
		}
		return *best, nil
	case opts.snapshot != "" && opts.snapshot != "latest":
		var found []restic.Snapshot
		for _, s := range fits {
			if strings.HasPrefix(s.ID, opts.snapshot) {
				found = append(found, s)
			}
		}
		switch {
		case len(found) == 1:
			return found[0], nil
		case len(found) > 1:
			return fail("snapshot %q is ambiguous: %d snapshots of %s start with it; give more of its ID", opts.snapshot, len(found), where)
		}
		for _, s := range snaps {
			if strings.HasPrefix(s.ID, opts.snapshot) {
				return fail("snapshot %s of %s does not hold %s (its paths: %s)", s.Short(), where, strings.Join(append(req.paths, dumpPaths(req.dump)...), ", "), strings.Join(s.Paths, ", "))
			}
		}
		return fail("snapshot %q is not a snapshot of %s; list them with: bakc snapshots %s --repo %s", opts.snapshot, where, req.job.Name, req.repo.Name)
	}
	newest := fits[0]
	for _, s := range fits[1:] {
		if s.Time.After(newest.Time) {
			newest = s
		}
	}
	return newest, nil
}

func dumpPaths(d *plan.Dump) []string {
	if d == nil {
		return nil
	}
	return []string{d.SnapshotPath()}
}

// holds reports whether a snapshot of the job has what is asked for:
// every job path holding a requested path (restic records the job's
// paths as the snapshot's), or the dump's file and tag.
func (req *restoreRequest) holds(s restic.Snapshot) bool {
	if s.Hostname != req.plan.Node.Name || !slices.Contains(s.Tags, req.job.JobTag) {
		return false
	}
	if req.dump != nil {
		return slices.Contains(s.Tags, req.dump.Tag) && slices.Contains(s.Paths, req.dump.SnapshotPath())
	}
	for _, jp := range req.jobPaths {
		if !slices.Contains(s.Paths, jp) {
			return false
		}
	}
	return true
}

// prepareTarget returns the folder to restore below: --target (made if
// missing; it must be empty), "/" in place, or a new folder below
// restoreRoot. With dryRun nothing is made.
func prepareTarget(opts restoreOptions, job string, snap restic.Snapshot) (string, error) {
	switch {
	case opts.inPlace:
		return "/", nil
	case opts.target != "":
		t, err := filepath.Abs(opts.target)
		if err != nil {
			return "", err
		}
		if t == "/" {
			return "", usageError("--target / restores over the live files: say --in-place")
		}
		entries, err := os.ReadDir(t)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if opts.dryRun {
				return t, nil
			}
			return t, os.MkdirAll(t, 0o700)
		case err != nil:
			return "", err
		case len(entries) > 0:
			return "", &exitError{code: exitConfig, err: fmt.Errorf("--target %s is not empty: restore into a new or empty folder, so that what comes back is not mixed with what is there", t)}
		}
		return t, nil
	}
	name := job + "-" + snap.Short() + "-"
	if opts.dryRun {
		return filepath.Join(restoreRoot, name+"XXXXXX"), nil
	}
	if err := os.MkdirAll(restoreRoot, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(restoreRoot, name)
}

func restorePaths(e *env, opts restoreOptions, req *restoreRequest, rs *restic.Restic, snap restic.Snapshot) error {
	target, err := prepareTarget(opts, req.job.Name, snap)
	if err != nil {
		return err
	}
	args := []string{"restore", snap.ID, "--target", target}
	for _, p := range req.paths {
		args = append(args, "--include", restic.IncludePattern(p))
	}
	fmt.Fprintf(e.stdout, "Snapshot %s of job %s, taken %s, in repository %s (%s).\n",
		snap.Short(), req.job.Name, snap.Time.Local().Format("2006-01-02 15:04:05 MST"), req.repo.Name, req.repo.URL)
	if opts.dryRun {
		fmt.Fprintf(e.stdout, "Would restore into %s:\n", target)
		for _, p := range req.paths {
			fmt.Fprintf(e.stdout, "  %s -> %s\n", p, filepath.Join(target, p))
		}
		fmt.Fprintf(e.stdout, "with:\n  %s\n", shellLine(rs.Argv(args)))
		return nil
	}
	if opts.inPlace {
		if err := confirmInPlace(e, opts, req, snap); err != nil {
			return err
		}
	}
	cmd := rs.Command(context.Background(), args)
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	if err := cmd.Run(); err != nil {
		return &exitError{code: exitConfig, err: fmt.Errorf("restic restore failed (%v); %s may hold part of it", err, target)}
	}
	var missing []string
	for _, p := range req.paths {
		if _, err := os.Lstat(filepath.Join(target, p)); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &exitError{code: exitConfig, err: fmt.Errorf("snapshot %s has no %s: the job excludes it, or it was not there when the snapshot was taken (restic restored nothing for it into %s)",
			snap.Short(), strings.Join(missing, ", "), target)}
	}
	if opts.inPlace {
		fmt.Fprintf(e.stdout, "Restored in place:\n")
		for _, p := range req.paths {
			fmt.Fprintf(e.stdout, "  %s (%s)\n", p, describe(p))
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "Restored into %s:\n", target)
	for _, p := range req.paths {
		fmt.Fprintf(e.stdout, "  %s -> %s (%s)\n", p, filepath.Join(target, p), describe(filepath.Join(target, p)))
	}
	fmt.Fprintf(e.stdout, "\nCheck it, then put it back over the live files (files the snapshot lacks stay; rsync's --delete removes them):\n")
	for _, p := range req.paths {
		src := filepath.Join(target, p)
		if fi, err := os.Lstat(src); err == nil && fi.IsDir() {
			fmt.Fprintf(e.stdout, "  rsync -aHAX --numeric-ids %s %s\n", escape.ShellQuote(src+"/"), escape.ShellQuote(p+"/"))
		} else {
			fmt.Fprintf(e.stdout, "  cp -a %s %s\n", escape.ShellQuote(src), escape.ShellQuote(p))
		}
	}
	if !isRoot() {
		fmt.Fprintf(e.stdout, "\nbakc ran as uid %d, not as root: the restored files belong to that user, not to their owners. Restore as root to put owners back.\n", os.Geteuid())
	}
	return nil
}

// describe says what a restored path is: "folder, 12 entries", "file,
// 1.2 KiB", "symlink".
func describe(p string) string {
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
		return "missing"
	case fi.IsDir():
		entries, _ := os.ReadDir(p)
		return fmt.Sprintf("folder, %d entries", len(entries))
	case fi.Mode().IsRegular():
		return fmt.Sprintf("file, %d bytes", fi.Size())
	case fi.Mode()&os.ModeSymlink != 0:
		return "symlink"
	}
	return fi.Mode().Type().String()
}

// confirmInPlace asks for "yes" on the terminal before a restore over
// the live files, unless --yes was given.
func confirmInPlace(e *env, opts restoreOptions, req *restoreRequest, snap restic.Snapshot) error {
	if opts.yes {
		return nil
	}
	if !isTerminalReader(e.stdin) || !isTerminal(e.stderr) {
		return usageError("--in-place restores over the live files at %s; without a terminal to ask, give --yes as well", strings.Join(req.paths, ", "))
	}
	fmt.Fprintf(e.stderr, "This restores %s from snapshot %s (%s) over the live files: files the snapshot has are replaced, files it lacks stay.\nType yes to go on: ",
		strings.Join(req.paths, ", "), snap.Short(), snap.Time.Local().Format("2006-01-02 15:04:05 MST"))
	answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		return &exitError{code: exitConfig, err: errors.New("not confirmed; nothing was restored")}
	}
	return nil
}

func restoreDump(ctx context.Context, e *env, opts restoreOptions, req *restoreRequest, rs *restic.Restic, snap restic.Snapshot) error {
	d := req.dump
	target, err := prepareTarget(opts, req.job.Name, snap)
	if err != nil {
		return err
	}
	file := filepath.Join(target, filepath.FromSlash(d.Filename))
	dumpArgs := restic.DumpArgs(snap.ID, d.SnapshotPath())
	bakcRestic := []string{"bakc", "restic"}
	if opts.plan != defaultPlanPath {
		bakcRestic = append(bakcRestic, "--plan", opts.plan)
	}
	pipe := shellLine(append(append(bakcRestic, req.repo.Name, "--"), dumpArgs...))
	fmt.Fprintf(e.stdout, "Snapshot %s of dump %s of job %s, taken %s, in repository %s (%s).\n",
		snap.Short(), d.Name, req.job.Name, snap.Time.Local().Format("2006-01-02 15:04:05 MST"), req.repo.Name, req.repo.URL)
	if opts.dryRun {
		fmt.Fprintf(e.stdout, "Would write %s with:\n  %s > %s\n", file, shellLine(rs.Argv(dumpArgs)), escape.ShellQuote(file))
	} else {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return err
		}
		// A dump holds a database: readable by root alone.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = rs.Dump(ctx, snap.ID, d.SnapshotPath(), f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(file)
			return &exitError{code: exitConfig, err: fmt.Errorf("restoring dump %s: %w", d.Name, err)}
		}
		fi, _ := os.Stat(file)
		fmt.Fprintf(e.stdout, "Restored %s into %s (%d bytes).\n", d.SnapshotPath(), file, fi.Size())
	}
	if into := dumpRestoreCommand(d); into != nil {
		fmt.Fprintf(e.stdout, "\nTo load it into the database, as %s, from the file:\n  %s < %s\n", dumpUser(d), shellLine(into), escape.ShellQuote(file))
		fmt.Fprintf(e.stdout, "or straight from the repository:\n  %s | %s\n", pipe, shellLine(into))
	} else {
		fmt.Fprintf(e.stdout, "\nThe dump has no restore_command; to stream it elsewhere:\n  %s | …\n", pipe)
	}
	return nil
}

// dumpRestoreCommand is the dump's restore command with the switch to
// its user in front (runuser), as the runbook prints it; nil without
// one.
func dumpRestoreCommand(d *plan.Dump) []string {
	if len(d.RestoreCommand) == 0 {
		return nil
	}
	if u := d.User; u != "" && u != "root" {
		return append([]string{"runuser", "-u", u, "--"}, d.RestoreCommand...)
	}
	return d.RestoreCommand
}

func dumpUser(d *plan.Dump) string {
	if d.User == "" {
		return "root"
	}
	return d.User
}

// shellLine is argv as one line sh reads back as argv.
func shellLine(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = escape.ShellQuote(a)
	}
	return strings.Join(words, " ")
}

// isTerminalReader is isTerminal for an input.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}
