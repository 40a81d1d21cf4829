package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/holthome/bakc/compiler/plan"
)

// What a hook or a dump runs as and with (plan.Needs): its user, with
// that user's groups and home, and its PATH. The unit gives the service
// what the steps need (emit/units); the runtime switches to each step's
// user and checks, before anything changes, that what it needs is there.

// runAs is a resolved user and environment for one hook or dump.
type runAs struct {
	// cred is nil when the step runs as bakc's own user.
	cred *syscall.Credential
	// env are HOME, USER, LOGNAME (when switching) and PATH.
	env []string
	// path is the PATH the step's program is looked up in.
	path string
	// who names the user for messages and logs.
	who string
}

// lookupUser is os/user.Lookup; tests of a user that cannot exist here
// replace nothing: a name no node has is the test.
var lookupUser = user.Lookup

// stepUser is the user a step runs as: its declared user; without one,
// the service's own user (root for a ZFS snapshot job's backup, the
// backup user otherwise) — except that when the service starts as root
// only so that another step can run as another user, a step without one
// runs as the backup user, as it would without that other step. ""
// means bakc's own user.
func (r *backupRun) stepUser(n plan.Needs) string {
	if n.User != "" {
		return n.User
	}
	if r.job.Snapshot != plan.SnapshotZFS && r.othersRunAsOtherUsers() {
		return r.plan.User.Name
	}
	return ""
}

// othersRunAsOtherUsers reports whether a step of the job names a user
// other than the backup user.
func (r *backupRun) othersRunAsOtherUsers() bool {
	for _, n := range r.job.StepNeeds() {
		if n.User != "" && n.User != r.plan.User.Name {
			return true
		}
	}
	return false
}

// resolveStep looks the step's user up and builds its environment. It
// fails when the user does not exist, or when it is another user and
// bakc is not root (the unit starts as root when a step needs it).
func (r *backupRun) resolveStep(n plan.Needs) (*runAs, error) {
	ra := &runAs{who: "bakc's own user"}
	ra.path = stepPath(n.Path, os.Getenv("PATH"))
	ra.env = append(ra.env, "PATH="+ra.path)
	name := r.stepUser(n)
	if name == "" {
		return ra, nil
	}
	ra.who = name
	u, err := lookupUser(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("the user %s does not exist on this node: create it (a database's package usually does), or change user in the configuration", name)
		}
		return nil, fmt.Errorf("looking up the user %s: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the user %s has uid %q and gid %q, which are not numbers", name, u.Uid, u.Gid)
	}
	ra.env = append(ra.env, "HOME="+u.HomeDir, "USER="+name, "LOGNAME="+name)
	if int(uid) == r.euid {
		return ra, nil
	}
	if r.euid != 0 {
		return nil, fmt.Errorf("it runs as %s (uid %d), but bakc runs as uid %d, not root, and cannot switch to it: the unit starts as root when a hook or dump names another user; install the units bakc generates for this plan, or run bakc as root", name, uid, r.euid)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("the groups of %s: %w", name, err)
	}
	for _, g := range ids {
		if id, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(id))
		}
	}
	ra.cred = cred
	return ra, nil
}

// stepPath is PATH for a step: its declared folders before inherited.
func stepPath(dirs []string, inherited string) string {
	parts := slices.Clone(dirs)
	for _, d := range filepath.SplitList(inherited) {
		if d != "" && !slices.Contains(parts, d) {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, string(filepath.ListSeparator))
}

// lookPath finds a program in path the way a shell does: a name with a
// slash as it is, anything else in the first folder that has it as an
// executable file.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := isExecutable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not in PATH (%s): declare its package (packages, for NixOS) or folder (path) in the configuration", name, path)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

// stepEnv is a step's environment: bakc's own, without what the step
// gets anew (PATH, and HOME, USER, LOGNAME when it runs as a user), then
// the step's, then extra.
func stepEnv(ra *runAs, extra ...string) []string {
	drop := map[string]bool{"NOTIFY_SOCKET": true}
	for _, kv := range ra.env {
		name, _, _ := strings.Cut(kv, "=")
		drop[name] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			env = append(env, kv)
		}
	}
	env = append(env, ra.env...)
	return append(env, extra...)
}

// checkSteps is the steps' preflight: every hook's and dump's user
// exists (and bakc can switch to it), every folder a hook declares it
// writes exists (the unit's ReadWritePaths= ignores a missing one, and
// the hook would find it read-only), and every dump's program is found.
// Nothing has changed yet when it fails.
func (r *backupRun) checkSteps() error {
	var errs []error
	for _, h := range []struct{ name, cmd string }{
		{plan.HookPreBackup, r.job.Hooks.PreBackup}, {plan.HookPostBackup, r.job.Hooks.PostBackup}, {plan.HookOnFailure, r.job.Hooks.OnFailure},
	} {
		if h.cmd == "" {
			continue
		}
		n := r.job.HookNeeds(h.name)
		if _, err := r.resolveStep(n); err != nil {
			errs = append(errs, fmt.Errorf("%s hook: %w", h.name, err))
		}
		for _, w := range n.Writes {
			if _, err := os.Stat(w); err != nil {
				errs = append(errs, fmt.Errorf("%s hook: it declares it writes %s, which is not there (%v): create it, so that the unit can make it writable", h.name, w, unwrapPath(err)))
			}
		}
	}
	for _, d := range r.job.Dumps {
		ra, err := r.resolveStep(d.Needs)
		if err != nil {
			errs = append(errs, fmt.Errorf("dump %s: %w", d.Name, err))
			continue
		}
		if _, err := lookPath(d.Command[0], ra.path); err != nil {
			errs = append(errs, fmt.Errorf("dump %s: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}
