package runtime

import (
	"os/exec"
	"path/filepath"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// The runtime's own files and a ZFS snapshot job's views.
//
// While a ZFS snapshot job's views are shown (read-only, over the
// datasets' mountpoints, in the run's namespace), a job path may cover
// any of the runtime's own folders: luna backs up /var/lib, and the state
// folder is /var/lib/bakc. Nothing the run needs may depend on that
// (docs/snapshots.md, "The runtime's own files"). Every path the runtime
// or restic uses during the views, and what is done about it:
//
//	lock file        state/locks/: opened and flock'ed before the
//	                 snapshot; an open file is not affected by later mounts
//	exclude file     state/: written before the snapshot (writeExcludeFile)
//	state folder     shown live (the run-state and repository locks of
//	                 other phases are written there too, also mid-run)
//	restic's cache   shown live: restic writes it during the backup
//	log, error log,  written after the views are gone (finish), but shown
//	textfile folder  live so that nothing written mid-run can break
//	restic's TMPDIR  <cache>/tmp (resticTempDir), with the cache
//	local and NFS    shown live: restic writes the repository (a job that
//	repositories     covers its repository is warned about at compile time)
//	password files,  shown live: read by restic (and an sftp repository's
//	restic binary,   ssh) during the views; a view would hide them if
//	ssh identity and they were on a mount below it
//	known_hosts
//	hooks, dumps     pre_backup and the dumps run before the snapshot,
//	                 post_backup and on_failure after the views are gone:
//	                 they never see them (dump.go, dumps)
//
// "Shown live" is snapshot.WithLive: the live folder is bind-mounted over
// its place inside the views, in the run's namespace only. Writing those
// paths under /run instead would work for a ZFS job only (the other
// services may not write /run/bakc) and lose restic's cache every boot;
// writing everything before the snapshot cannot work for the cache and
// the temporary files, which restic writes while it reads.

// livePaths are the paths the run and restic use while a ZFS snapshot
// job's views are shown, which must stay live inside them (see above).
func (r *backupRun) livePaths() []string {
	p := r.plan
	paths := []string{
		p.Paths.State, p.Paths.Cache, p.Paths.Log,
		filepath.Dir(p.Monitoring.ErrorLog), p.Monitoring.TextfileDir,
	}
	for _, rr := range r.repos {
		if k := rr.repo.Kind; k == plan.KindLocal || k == plan.KindNFS {
			paths = append(paths, rr.repo.URL)
		}
		paths = append(paths, rr.repo.PasswordFile)
		if s := rr.repo.SSH; s != nil {
			// restic's ssh reads them while it connects, mid-run.
			paths = append(paths, s.IdentityFile, s.KnownHostsFile)
		}
	}
	if bin, err := exec.LookPath(r.o.restic()); err == nil {
		if abs, err := filepath.Abs(bin); err == nil {
			paths = append(paths, abs)
		}
	}
	return paths
}

// excludeLines are the lines of a job's exclude file: its patterns, then
// the runtime's own folders it leaves out (plan.OwnFoldersLeftOut),
// escaped so that restic matches exactly those paths. A folder that no
// line can carry (the compiler rejects such paths) is left in.
func excludeLines(p *plan.Plan, job *plan.Job) []string {
	// restic expands $VAR, skips "#" lines and trims white space in
	// its exclude file: each pattern goes through ResticExcludeLine,
	// so that restic reads back the pattern as the plan has it (the
	// plan's validation refused what no line can carry).
	var lines []string
	for _, pattern := range job.Exclude {
		lines = append(lines, escape.ResticExcludeLine(pattern))
	}
	for _, dir := range p.OwnFoldersLeftOut(job) {
		if escape.CheckResticExcludePath(dir) == nil {
			lines = append(lines, escape.ResticExcludePath(dir))
		}
	}
	return lines
}
