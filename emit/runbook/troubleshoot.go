package runbook

import (
	"fmt"
	"path"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// The runbook's Troubleshooting and Browsing sections: per repository,
// restic run as the backup user with the repository's password file,
// environment file (read by systemd, never by a shell) and the
// runtime's cache, as the restore sections run it, but with read access
// only (CAP_DAC_READ_SEARCH, as the runtime's own restic).

// browseView is one job's snapshots in one repository: what to list,
// the path to show with restic ls, the name to look for with restic
// find.
type browseView struct {
	Job     string
	Tag     string
	Path    string
	Pattern string
}

// troubleViews fills rv's MountUnit (NFS) and Browse (one per job that
// writes to the repository).
func troubleViews(p *plan.Plan, rv *repoView) error {
	if rv.NFS != nil {
		if err := escape.CheckSystemdPath(rv.NFS.Mountpoint); err != nil {
			return fmt.Errorf("runbook: repository %s: mountpoint: %w", rv.Name, err)
		}
		rv.MountUnit = escape.SystemdUnitNameFromPath(rv.NFS.Mountpoint, ".mount")
	}
	for _, j := range p.Jobs {
		for _, name := range j.Repositories {
			if name != rv.Name {
				continue
			}
			b := browseView{Job: j.Name, Tag: j.JobTag}
			switch {
			case len(j.Paths) > 0:
				b.Path = j.Paths[0]
			case len(j.Dumps) > 0:
				b.Path = j.Dumps[0].SnapshotPath()
			default:
				continue
			}
			// restic find matches each name with filepath.Match: the
			// path's last element, escaped, finds that folder or file.
			b.Pattern = includePattern(path.Base(b.Path))
			rv.Browse = append(rv.Browse, b)
		}
	}
	return nil
}

// readFunc is the shell function bakc_restic of the Troubleshooting and
// Browsing sections for repository r: restic as the backup user, with
// CAP_DAC_READ_SEARCH only (it reads the secret files; it restores
// nothing), the repository's credentials read by systemd-run as for a
// unit's EnvironmentFile=, and the runtime's cache.
func readFunc(p *plan.Plan, r repoView) string {
	restic := "restic"
	s := "bakc_restic() {\n"
	if r.EnvironmentFile != "" {
		s += "  systemd-run --quiet --collect --wait --pipe " +
			escape.ShellQuote("--property=EnvironmentFile="+escape.Glob(r.EnvironmentFile)) + " \\\n"
		restic = `"$(command -v restic)"`
	}
	indent := "  "
	if r.EnvironmentFile != "" {
		indent = "    "
	}
	s += indent + fmt.Sprintf("setpriv --reuid=%d --regid=%d --clear-groups --inh-caps=+dac_read_search --ambient-caps=+dac_read_search \\\n", p.User.UID, p.User.GID)
	s += "    " + restic + " --repo " + escape.ShellQuote(r.URL) + " --password-file " + escape.ShellQuote(r.PasswordFile) +
		" --cache-dir " + escape.ShellQuote(p.Paths.Cache)
	if r.SFTPOption != "" {
		s += " \\\n    -o " + escape.ShellQuote(r.SFTPOption)
	}
	return s + ` "$@"` + "\n}"
}
