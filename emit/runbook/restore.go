package runbook

import (
	"fmt"
	"path"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// How the runbook's restore commands are built. They run restic the way
// the runtime does: as the plan's backup user, which owns every
// repository (an NFS export squashes root, so root itself could not even
// read it), with the repository's password file, its environment file
// and the runtime's cache. setpriv gives that restic the capabilities it
// needs to put back every file as it was — owner, group, mode, special
// files — into a target only root may write to.

// restoreCaps are the capabilities restic keeps as the backup user:
// chown and fowner/fsetid to restore owners and modes, dac_override and
// dac_read_search to write anywhere under the target and read the secret
// files, mknod for device files.
var restoreCaps = []string{"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "mknod"}

// capList is setpriv's syntax for adding restoreCaps: "+chown,+fowner,…".
func capList() string {
	out := make([]string, len(restoreCaps))
	for i, c := range restoreCaps {
		out[i] = "+" + c
	}
	return strings.Join(out, ",")
}

// includePattern turns a path into a restic --include pattern that
// matches exactly that path (and everything below it): restic reads
// include patterns with filepath.Match per path element, so "*", "?",
// "[", "]" and "\" are escaped with a backslash.
func includePattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if strings.IndexByte(`\*?[]`, p[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// manualMountOptions are the NFS mount options to give mount(8) by hand:
// the plan's, without those that only mean something in fstab or to
// systemd (noauto, _netdev, nofail, x-systemd.*, …).
func manualMountOptions(opts []string) []string {
	var out []string
	for _, o := range opts {
		name, _, _ := strings.Cut(o, "=")
		switch {
		case strings.HasPrefix(name, "x-"), strings.HasPrefix(name, "comment"):
		case name == "noauto", name == "auto", name == "_netdev", name == "nofail",
			name == "user", name == "users", name == "owner", name == "group", name == "defaults":
		default:
			out = append(out, o)
		}
	}
	return out
}

// checkRestoreInputs refuses plan values the restore commands could not
// carry exactly. The compiler rejects all of these already; the runbook
// checks again because a wrong restore command is worse than none.
func checkRestoreInputs(p *plan.Plan) error {
	abs := func(what, v string) error {
		if !path.IsAbs(v) || path.Clean(v) != v {
			return fmt.Errorf("runbook: %s %q is not an absolute, clean path", what, v)
		}
		return nil
	}
	for _, s := range []string{p.Node.Name, p.User.Name} {
		if strings.ContainsRune(s, 0) {
			return fmt.Errorf("runbook: %q contains a NUL byte", s)
		}
	}
	if p.Node.Name == "" {
		return fmt.Errorf("runbook: the plan has no node name")
	}
	if err := abs("the cache folder", p.Paths.Cache); err != nil {
		return err
	}
	for _, r := range p.Repositories {
		if err := abs("the password file of repository "+r.Name, r.PasswordFile); err != nil {
			return err
		}
		if r.EnvironmentFile != "" {
			// "." looks a name without a slash up in PATH.
			if err := abs("the environment file of repository "+r.Name, r.EnvironmentFile); err != nil {
				return err
			}
		}
		if r.NFS != nil {
			if err := abs("the mountpoint of repository "+r.Name, r.NFS.Mountpoint); err != nil {
				return err
			}
		}
		if strings.ContainsRune(r.URL+r.PasswordFile+r.EnvironmentFile, 0) {
			return fmt.Errorf("runbook: repository %s contains a NUL byte", r.Name)
		}
	}
	for _, j := range p.Jobs {
		// restic 0.14 splits --tag on commas ("a,b" means both tags).
		if j.JobTag == "" || strings.ContainsAny(j.JobTag, ",\x00") {
			return fmt.Errorf("runbook: job %s: tag %q cannot be given to restic --tag", j.Name, j.JobTag)
		}
		if err := checkDumpInputs(j); err != nil {
			return err
		}
		// A hook is printed whole in a code block: a control character
		// other than newline and tab would end a line there (CR) or be
		// shown otherwise than sh reads it.
		for _, h := range []string{j.Hooks.PreBackup, j.Hooks.PostBackup, j.Hooks.OnFailure} {
			for _, c := range h {
				if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c >= 0x80 && c <= 0x9f || c == '\u2028' || c == '\u2029' {
					return fmt.Errorf("runbook: job %s: a hook holds the control character %U", j.Name, c)
				}
			}
		}
		for _, jp := range j.Paths {
			if err := abs("the path of job "+j.Name, jp); err != nil {
				return err
			}
			if strings.ContainsRune(jp, 0) {
				return fmt.Errorf("runbook: job %s: path %q contains a NUL byte", j.Name, jp)
			}
		}
	}
	return nil
}

// restoreFunc is the shell function bakc_restic of the Restore and
// Disaster recovery sections for repository r, with its comment: restic
// as the backup user with restoreCaps, the repository's credentials read
// by systemd-run as for a unit's EnvironmentFile= (never by the shell),
// and the runtime's cache.
func restoreFunc(p *plan.Plan, r repoView) string {
	caps := capList()
	restic := "restic"
	var s string
	if r.EnvironmentFile != "" {
		s = "# restic as the backup user, allowed to restore owners and modes, with the\n" +
			"# repository's credentials read by systemd as for a unit's EnvironmentFile=\n" +
			"# (not by the shell, which would run what the file holds).\n" +
			"bakc_restic() {\n" +
			"  systemd-run --quiet --collect --wait --pipe " + escape.ShellQuote("--property=EnvironmentFile="+escape.Glob(r.EnvironmentFile)) + " \\\n" +
			"    setpriv"
		restic = `"$(command -v restic)"`
	} else {
		s = "# restic as the backup user, allowed to restore owners and modes.\n" +
			"bakc_restic() {\n" +
			"  setpriv"
	}
	s += fmt.Sprintf(" --reuid=%d --regid=%d --clear-groups \\\n", p.User.UID, p.User.GID) +
		"    --inh-caps=" + caps + " --ambient-caps=" + caps + " \\\n" +
		"    " + restic + " --repo " + escape.ShellQuote(r.URL) + " --password-file " + escape.ShellQuote(r.PasswordFile) +
		" --cache-dir " + escape.ShellQuote(p.Paths.Cache)
	if r.SFTPOption != "" {
		s += " \\\n    -o " + escape.ShellQuote(r.SFTPOption)
	}
	return s + ` "$@"` + "\n}"
}
