package runtime

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/snapshot"
)

// dryRun prints every command the run would run, in order, as shell
// lines a person could copy, and what it would check or write as
// comments. It runs nothing, takes no lock and writes no file.
func (r *backupRun) dryRun() {
	w := r.o.out()
	p, job := r.plan, r.job
	comment(w, "bakc run backup %s --dry-run: what a run does; nothing is run or written", job.Name)
	comment(w, "lock %s", LockPath(p.Paths.State, "backup", job.Name))
	if job.Snapshot == plan.SnapshotZFS {
		comment(w, "in a private mount namespace (re-executed, or the unit's PrivateMounts=yes)")
		comment(w, "destroy leftovers of killed runs: snapshots, clones and mounts named bakc-%s-<time>", job.Name)
	}
	if len(job.Paths) > 0 {
		comment(w, "preflight: source paths exist: %s", strings.Join(job.Paths, " "))
	}
	r.dryRunSteps(w)
	for _, n := range job.ResticNeeds() {
		comment(w, "preflight: restic version says %s or newer (%s)", n.Since, n.Option)
	}
	if r.cred != nil {
		comment(w, "restic runs as uid %d, gid %d, with the ambient capability CAP_DAC_READ_SEARCH", r.cred.Uid, r.cred.Gid)
	}
	for _, rr := range r.repos {
		repo := rr.repo
		comment(w, "preflight %s: password file %s readable", repo.Name, repo.PasswordFile)
		for _, n := range repo.ResticNeeds() {
			comment(w, "preflight %s: restic version says %s or newer (%s)", repo.Name, n.Since, n.Option)
		}
		if repo.EnvironmentFile != "" {
			comment(w, "preflight %s: restic's environment read from %s", repo.Name, repo.EnvironmentFile)
		}
		if repo.NFS != nil {
			comment(w, "preflight %s: %s mounted from %s (NFS), touched first to trigger its automount", repo.Name, repo.NFS.Mountpoint, repo.NFS.Source())
		}
		if repo.Mountpoint != "" && repo.Mountpoint != "/" {
			comment(w, "preflight %s: %s is a mount point (the repository's disk), touched first to trigger its automount", repo.Name, repo.Mountpoint)
		} else if repo.Kind == plan.KindLocal && repo.Mountpoint == "" && repo.Init {
			comment(w, "preflight %s: never created on the root file system (the plan gives no mountpoint)", repo.Name)
		}
		if repo.SSH != nil {
			comment(w, "preflight %s: ssh on PATH, identity %s readable, host keys in %s; one ssh login with restic's sftp.command", repo.Name, repo.SSH.IdentityFile, repo.SSH.KnownHostsFile)
		}
		switch {
		case repo.Kind == plan.KindLocal || repo.Kind == plan.KindNFS:
			if repo.Init {
				comment(w, "preflight %s: if %s/config is missing, and still is under the repository lock (exclusive):", repo.Name, repo.URL)
				printCommand(w, rr.restic.Argv(restic.InitArgs()))
			} else {
				comment(w, "preflight %s: %s/config exists (init = false: a missing repository fails the run)", repo.Name, repo.URL)
			}
		case isURLRepository(repo):
			comment(w, "preflight %s: opened within %v, or left out of the run (category network); restic >= 0.17.1 gets --stuck-request-timeout %v for it", repo.Name, r.o.openTimeout(), max(r.o.openTimeout()/stuckRequestShare, time.Second))
			printCommand(w, rr.restic.Argv(restic.CatConfigArgs()))
			if repo.Init {
				comment(w, "preflight %s: if that finds no repository, and again under the repository lock (exclusive):", repo.Name)
				printCommand(w, rr.restic.Argv(restic.InitArgs()))
			}
		}
	}
	if h := job.Hooks.PreBackup; h != "" {
		printCommand(w, []string{"sh", "-c", h})
	}
	excludes := ""
	if lines := excludeLines(p, job); len(lines) > 0 {
		excludes = excludeFilePath(p, job)
		comment(w, "write %s:", excludes)
		for _, e := range lines {
			comment(w, "  %s", e)
		}
	}
	for _, rr := range r.repos {
		if len(job.Dumps) == 0 {
			break
		}
		comment(w, "%s: lock %s (shared), waiting up to %v; restic >= 0.16 gets what is left as --retry-lock", rr.repo.Name, rr.guard.path, rr.guard.wait)
		for _, d := range job.Dumps {
			comment(w, "dump %s, before any snapshot: the command's output is restic's stdin; restic's snapshot counts only if the command exits 0", d.Name)
			printPipe(w, d.Command, rr.restic.Argv(restic.StdinArgs(restic.BackupOptions{
				Tags: append(slices.Clone(backupTags(job)), d.Tag), Host: p.Node.Name, Time: r.snapshotTime(),
			}, d.Filename)))
		}
	}
	if job.Snapshot == plan.SnapshotZFS {
		name := snapshot.Name(job.Name, r.start)
		for _, ds := range topDatasets(job.Datasets) {
			printCommand(w, []string{"zfs", "snapshot", "-r", ds + "@" + name})
		}
		comment(w, "show each snapshot read-only at its dataset's mountpoint (%s), children below it", strings.Join(datasetMountpoints(job.Datasets), ", "))
		comment(w, "show again, live and on top of the views, what the run and restic use below them (docs/snapshots.md)")
		comment(w, "if `restic features` lists %s (restic >= 0.17): RESTIC_FEATURES=%s for restic backup", restic.FeatureDeviceIDForHardlinks, restic.FeatureDeviceIDForHardlinks)
	}
	if dir := resticTempDir(p.Paths.Cache); dir != "" {
		comment(w, "restic runs with TMPDIR=%s", dir)
	}
	for _, rr := range r.repos {
		pol := forgetOptions(p, job, rr.repo.Name)
		comment(w, "%s: lock %s (shared), waiting up to %v; restic >= 0.16 gets what is left as --retry-lock", rr.repo.Name, rr.guard.path, rr.guard.wait)
		if len(job.Paths) > 0 {
			printCommand(w, rr.restic.Argv(restic.BackupArgs(pathsBackupOptions(p, job, excludes, r.snapshotTime()))))
		}
		if pol.Policy.Empty() {
			comment(w, "no retention: forget does not run")
		} else {
			comment(w, "after a complete backup only (the paths and every dump), with the same lock exclusive:")
			printCommand(w, rr.restic.Argv(restic.ForgetArgs(pol)))
		}
	}
	if job.Snapshot == plan.SnapshotZFS {
		comment(w, "always: unmount the views, destroy the clones and the snapshots")
	}
	if h := job.Hooks.PostBackup; h != "" {
		comment(w, "on success:")
		printCommand(w, []string{"sh", "-c", h})
	}
	if h := job.Hooks.OnFailure; h != "" {
		comment(w, "on failure (with BAKC_ERROR set):")
		printCommand(w, []string{"sh", "-c", h})
	}
	comment(w, "metrics to %s", backupMetricsPath(p.Monitoring.TextfileDir, job.Name))
	comment(w, "state to %s", statePath(p.Paths.State, "backup", job.Name))
	comment(w, "one JSON line per failure to %s", p.Monitoring.ErrorLog)
}

func comment(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "# "+format+"\n", args...)
}

// printCommand prints argv as one shell line, every word quoted so that
// the line, pasted into a shell, runs exactly argv.
func printCommand(w io.Writer, argv []string) {
	fmt.Fprintln(w, shellLine(argv))
}

// shellLine is argv as one shell line, every word quoted.
func shellLine(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		if escape.CheckShellWord(a) != nil {
			// Not representable in a shell (a NUL byte): show it as Go
			// would, clearly not for pasting.
			words[i] = strconv.Quote(a)
			continue
		}
		words[i] = escape.ShellQuote(a)
	}
	return strings.Join(words, " ")
}

// dryRunSteps says who the hooks and dumps run as and what they need.
func (r *backupRun) dryRunSteps(w io.Writer) {
	job := r.job
	for _, h := range []struct{ name, cmd string }{
		{plan.HookPreBackup, job.Hooks.PreBackup}, {plan.HookPostBackup, job.Hooks.PostBackup}, {plan.HookOnFailure, job.Hooks.OnFailure},
	} {
		if h.cmd != "" {
			r.dryRunNeeds(w, h.name+" hook", job.HookNeeds(h.name))
		}
	}
	for _, d := range job.Dumps {
		r.dryRunNeeds(w, "dump "+d.Name, d.Needs)
	}
}

func (r *backupRun) dryRunNeeds(w io.Writer, what string, n plan.Needs) {
	who := r.stepUser(n)
	if who == "" {
		who = "bakc's own user"
	}
	comment(w, "%s runs as %s", what, who)
	if len(n.Path) > 0 {
		comment(w, "%s: PATH starts with %s", what, strings.Join(n.Path, ":"))
	}
	for _, wr := range n.Writes {
		comment(w, "preflight: %s writes %s, which must exist", what, wr)
	}
}

// printPipe prints `a … | b …` as one shell line.
func printPipe(w io.Writer, from, to []string) {
	var a, b strings.Builder
	printCommand(&a, from)
	printCommand(&b, to)
	fmt.Fprintln(w, strings.TrimSuffix(a.String(), "\n")+" | "+strings.TrimSuffix(b.String(), "\n"))
}

// topDatasets are the datasets snapshotted recursively: those not below
// another of the list (their children are in its snapshot).
func topDatasets(ds []plan.Dataset) []string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	var tops []string
next:
	for _, n := range names {
		for _, t := range tops {
			if strings.HasPrefix(n, t+"/") {
				continue next
			}
		}
		tops = append(tops, n)
	}
	return tops
}

func datasetMountpoints(ds []plan.Dataset) []string {
	var mps []string
	for _, d := range ds {
		mps = append(mps, d.Mountpoint)
	}
	return mps
}
