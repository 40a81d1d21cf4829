package units

import (
	"fmt"
	"path"
	"slices"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// buildTmpfiles writes the tmpfiles.d lines that create every folder a
// service writes to (ProtectSystem=strict makes everything else
// read-only, and a missing ReadWritePaths= folder stops the service
// from starting), owned by the backup user. The metrics folder is
// readable by all, for node_exporter; local repositories only by the
// backup user. NFS mountpoints are made by their automount. With a ZFS
// snapshot job, RunDir too, for root.
func buildTmpfiles(p *plan.Plan) []string {
	modes := map[string]string{}
	for _, d := range runtimeDirs(p) {
		modes[d] = "0750"
	}
	modes[p.Monitoring.TextfileDir] = "0755"
	for i := range p.Repositories {
		if r := &p.Repositories[i]; r.Kind == plan.KindLocal {
			modes[r.URL] = "0700"
		}
	}
	dirs := make([]string, 0, len(modes))
	for d := range modes {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	lines := make([]string, len(dirs))
	for i, d := range dirs {
		lines[i] = fmt.Sprintf("d %s %s %s %s - -", escape.SystemdPath(d), modes[d], p.User.Name, p.User.Group)
	}
	// The runbook, where the seed's documentation lived: a link to the
	// copy beside the plan, which backup.nix (environment.etc) and the
	// plain units' install (bakc units) put there.
	lines = append(lines,
		fmt.Sprintf("d %s 0755 root root - -", escape.SystemdPath(p.Paths.DocsDir())),
		fmt.Sprintf("L+ %s - - - - %s", escape.SystemdPath(path.Join(p.Paths.DocsDir(), RunbookName)), escape.SystemdPath(RunbookPath(p))))
	for _, j := range p.Jobs {
		if j.Snapshot == plan.SnapshotZFS {
			// The clones of ZFS snapshot backups, which run as root.
			lines = append(lines, fmt.Sprintf("d %s 0700 root root - -", escape.SystemdPath(RunDir)))
			break
		}
	}
	return lines
}

// RunbookName is the runbook's name in the docs folder (plan.Paths's
// DocsDir, the seed's /var/lib/backup-docs by default): a link to
// RunbookPath.
const RunbookName = "runbook.md"

// RunbookPath is where the runbook is installed: beside the plan, so that
// NixOS puts it with environment.etc and it changes with the
// configuration.
func RunbookPath(p *plan.Plan) string { return path.Join(path.Dir(p.Paths.Plan), RunbookName) }

// buildSysusers writes the sysusers.d lines of the backup group and
// user, with their fixed ids (the NAS gives repositories to that uid).
func buildSysusers(p *plan.Plan) []string {
	u := p.User
	return []string{
		fmt.Sprintf("g %s %d - -", u.Group, u.GID),
		fmt.Sprintf("u %s %d:%d %q /var/empty -", u.Name, u.UID, u.GID, "bakc backups"),
	}
}
