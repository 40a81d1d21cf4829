package units

import (
	"fmt"
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// What a job's hooks and dumps need from its backup service (see
// plan.Needs): the folders they write, the programs on their PATH, and
// the users they run as.

// stepCapabilities bound what the root process of a backup service can
// do when the service starts as root only so that a hook or a dump can
// run as a user other than the backup user (docs/security.md):
//
//	CAP_SETUID/SETGID    start the hook or dump as its user, and restic
//	                     as the backup user
//	CAP_DAC_READ_SEARCH  read every file, as restic does
//	CAP_KILL             signal those processes, which run as other uids
//	CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN
//	                     write the runtime's state, log and metrics
//	                     files, which belong to the backup user
//
// That is zfsCapabilities without CAP_SYS_ADMIN: no snapshot, no mount.
var stepCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID",
}

// DefaultPath is systemd's own PATH for system services on a host with
// /bin and /sbin (systemd-path search-binaries-default on Debian 12).
// A plain unit that sets Environment=PATH= keeps it after the job's
// folders, so that the programs a host has in the usual places stay
// found.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RunsAsOtherUser reports whether a hook or dump of the job runs as a
// user other than the backup user, so that the service must start as
// root to switch to it.
func RunsAsOtherUser(p *plan.Plan, j *plan.Job) bool {
	for _, n := range j.StepNeeds() {
		if n.User != "" && n.User != p.User.Name {
			return true
		}
	}
	return false
}

// JobWritablePaths are the ReadWritePaths= of a job's backup service:
// the runtime's folders, the folders of its repositories, RunDir for a
// ZFS snapshot job, and every path its hooks declare in writes; sorted,
// outermost only. The compiler checks hooks' writes against the same
// list, so that the check and the unit cannot disagree.
func JobWritablePaths(p *plan.Plan, j *plan.Job) []string {
	var repos []*plan.Repository
	for _, name := range j.Repositories {
		if r, ok := p.Repository(name); ok {
			repos = append(repos, r)
		}
	}
	dirs := writablePaths(p, repos)
	if j.Snapshot == plan.SnapshotZFS {
		dirs = append(dirs, RunDir)
	}
	return outermost(append(dirs, stepWrites(j)...))
}

// stepWrites are the paths the job's hooks declare they write.
func stepWrites(j *plan.Job) []string {
	var out []string
	for _, n := range j.StepNeeds() {
		out = append(out, n.Writes...)
	}
	return out
}

// addStepWrites adds the paths the job's hooks declare they write to
// ReadWritePaths=, after the service's own folders (dirs) and except
// those inside one of them. Each has systemd's "-" prefix: a declared
// folder that does not exist is ignored instead of failing the whole
// service at start, and the runtime's preflight names it.
func addStepWrites(s *section, dirs []string, j *plan.Job) {
	for _, w := range outermost(stepWrites(j)) {
		if slices.ContainsFunc(dirs, func(d string) bool { return isInside(w, d) }) {
			continue
		}
		s.add("ReadWritePaths", "-"+escape.SystemdPath(w))
	}
}

// stepPackages are the Nix packages the job's hooks and dumps need,
// sorted, each once.
func stepPackages(j *plan.Job) []string {
	var out []string
	for _, n := range j.StepNeeds() {
		out = append(out, n.Packages...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// stepPath are the folders the job's hooks and dumps put before PATH,
// in the order first declared, each once.
func stepPath(j *plan.Job) []string {
	var out []string
	for _, n := range j.StepNeeds() {
		for _, d := range n.Path {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// pathEnvironment is the Environment= value of a plain unit whose job
// declares path folders: PATH with them before DefaultPath. Empty when
// the job declares none (systemd's default stays).
func pathEnvironment(j *plan.Job) string {
	dirs := stepPath(j)
	if len(dirs) == 0 {
		return ""
	}
	return escape.SystemdEnvironment("PATH", strings.Join(append(dirs, DefaultPath), ":"))
}

// checkSteps refuses hook and dump settings a unit could not carry: a
// user name systemd would not accept, a written path or PATH folder
// that is not a clean absolute path (or holds a ":", which splits
// PATH), a package that is not a Nix attribute path.
func (c *checker) checkSteps(field string, p *plan.Plan, j *plan.Job) {
	for _, n := range j.StepNeeds() {
		if n.User != "" {
			c.check(field+": user", escape.CheckUserName(n.User))
		}
		for _, w := range n.Writes {
			c.check(field+": writes", escape.CheckSystemdPath(w))
		}
		for _, d := range n.Path {
			c.check(field+": path", escape.CheckSystemdPath(d))
			if strings.Contains(d, ":") {
				c.check(field+": path", errColonInPath(d))
			}
		}
		for _, pkg := range n.Packages {
			c.check(field+": packages", CheckPackage(pkg))
		}
	}
	if len(stepPath(j)) > 0 {
		c.check(field+": path", escape.CheckSystemdEnvironment("PATH", strings.Join(stepPath(j), ":")))
	}
}

func errColonInPath(d string) error {
	return fmt.Errorf("%q holds a colon, which separates the folders of PATH", d)
}

// CheckPackage reports why name is not a Nix attribute path of plain
// identifiers ("postgresql", "python3Packages.psycopg"), which backup.nix
// writes as pkgs.<name> without quoting, or nil.
func CheckPackage(name string) error {
	return plan.CheckPackage(name)
}
