package units

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
)

// checkPlan refuses every value of the plan that cannot be carried into
// a unit file as itself. The compiler rejects those values with a
// diagnostic pointing at the source; this is the last line of defence
// for a plan written by hand or by another build, so that no unit is
// ever written with a value systemd would read differently.
func checkPlan(p *plan.Plan) error {
	var c checker
	u := p.User
	c.check("user.name", escape.CheckUserName(u.Name))
	c.check("user.group", escape.CheckUserName(u.Group))
	if u.UID <= 0 || u.GID <= 0 {
		c.check("user", fmt.Errorf("uid %d and gid %d must be fixed ids above 0", u.UID, u.GID))
	}
	c.check("paths.plan", checkAbsolute(p.Paths.Plan))
	c.check("paths.plan", escape.CheckSystemdExecArg(p.Paths.Plan))
	c.check("paths.state", escape.CheckSystemdPath(p.Paths.State))
	c.check("paths.cache", escape.CheckSystemdPath(p.Paths.Cache))
	c.check("paths.log", escape.CheckSystemdPath(p.Paths.Log))
	c.check("paths.docs", escape.CheckSystemdPath(p.Paths.DocsDir()))
	c.check("monitoring.textfile_dir", escape.CheckSystemdPath(p.Monitoring.TextfileDir))
	c.check("monitoring.error_log", escape.CheckSystemdPath(p.Monitoring.ErrorLog))
	if p.Monitoring.ErrorLog == "/" {
		c.check("monitoring.error_log", fmt.Errorf("is not a file"))
	}
	if p.Monitoring.OnFailureUnit != "" {
		c.check("monitoring.on_failure_unit", escape.CheckSystemdUnitName(p.Monitoring.OnFailureUnit))
	}
	for _, r := range p.Repositories {
		field := fmt.Sprintf("repository %q", r.Name)
		c.check(field+": name", checkName(r.Name))
		switch r.Kind {
		case plan.KindLocal:
			c.check(field+": url", escape.CheckSystemdPath(r.URL))
		case plan.KindNFS:
			if r.NFS == nil {
				c.check(field, fmt.Errorf("is an nfs repository without its mount"))
				break
			}
			// The compiler's and Validate's own rule: every
			// setting the mountpoint reaches can carry it.
			c.check(field+": nfs.mountpoint", plan.CheckNFSMountpoint(r.NFS.Mountpoint))
			c.check(field+": nfs source", checkToken(r.NFS.Source()))
			c.check(field+": nfs.options", checkMountOptions(r.NFS.Options))
			c.check(field+": nfs", r.NFS.CheckFstab())
		}
		if r.SSH != nil {
			c.checkSSH(field, p, r.SSH)
		}
		c.checkSchedule(field+": prune.schedule", r.Prune.Schedule)
		if r.Verify != nil {
			c.checkSchedule(field+": verify.schedule", r.Verify.Schedule)
		}
		if r.RestoreTest != nil {
			c.checkSchedule(field+": restore_test.schedule", r.RestoreTest.Schedule)
		}
	}
	for _, j := range p.Jobs {
		field := fmt.Sprintf("job %q", j.Name)
		c.check(field+": name", checkName(j.Name))
		c.check(field+": description", escape.CheckSystemdLine(j.Description))
		c.checkSchedule(field+": schedule", j.Schedule)
		if j.OnFailureUnit != "" {
			c.check(field+": on_failure_unit", escape.CheckSystemdUnitName(j.OnFailureUnit))
		}
		for _, name := range j.Repositories {
			if _, ok := p.Repository(name); !ok {
				c.check(field+": repositories", fmt.Errorf("names %q, which the plan does not have", name))
			}
		}
		if j.Snapshot != plan.SnapshotNone && j.Snapshot != plan.SnapshotZFS {
			c.check(field+": snapshot", fmt.Errorf("is %q, neither %q nor %q", j.Snapshot, plan.SnapshotNone, plan.SnapshotZFS))
		}
		c.checkSteps(field, p, &j)
		res := j.Resources
		if res.Nice < -20 || res.Nice > 19 {
			c.check(field+": resources.nice", fmt.Errorf("%d is outside -20..19", res.Nice))
		}
		c.check(field+": resources.io_scheduling_class", checkToken(res.IOSchedulingClass))
		for name, v := range map[string]string{"cpu_quota": res.CPUQuota, "memory_max": res.MemoryMax} {
			if v != "" {
				c.check(field+": resources."+name, checkToken(v))
			}
		}
		if res.TimeoutStart != "" {
			// A time span may have spaces inside ("2h 30min").
			c.check(field+": resources.timeout_start", escape.CheckSystemdLine(res.TimeoutStart))
		}
	}
	return c.err()
}

// checker collects every problem, so that one run reports them all.
type checker struct{ errs []error }

func (c *checker) check(field string, err error) {
	if err != nil {
		c.errs = append(c.errs, fmt.Errorf("%s: %w", field, err))
	}
}

func (c *checker) checkSchedule(field string, s plan.Schedule) {
	if s.Calendar == "" {
		c.check(field, fmt.Errorf("has no calendar expression"))
	}
	c.check(field+".calendar", escape.CheckSystemdLine(s.Calendar))
	if s.RandomizedDelay != "" {
		c.check(field+".randomized_delay", escape.CheckSystemdLine(s.RandomizedDelay))
	}
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	// Sorted for a stable message (the resources map above is not).
	msgs := make([]string, len(c.errs))
	for i, e := range c.errs {
		msgs[i] = e.Error()
	}
	slices.Sort(msgs)
	return fmt.Errorf("the plan has values that cannot be written into unit files:\n  %s", strings.Join(msgs, "\n  "))
}

// checkName accepts the names that become part of unit names
// (bakc-backup-<job>.service): letters, digits and _ . : -, and nothing
// that systemd reads specially in a unit name (@ makes a template
// instance, \ an escape, % a specifier).
func checkName(name string) error {
	if name == "" {
		return errors.New("is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_.:-", c) >= 0:
		default:
			return fmt.Errorf("contains %q; names that become unit names may hold only letters, digits and _ . : -", c)
		}
	}
	if len(name) > 200 {
		return errors.New("is longer than 200 characters, too long for a unit name")
	}
	return nil
}

// checkToken accepts one word written verbatim into a setting that does
// not expand anything (CPUQuota=, MemoryMax=, a time span): no
// whitespace, nothing systemd's line reader treats specially.
func checkToken(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if err := escape.CheckSystemdLine(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, " ") {
		return errors.New("contains a space")
	}
	return nil
}

// checkMountOptions accepts options that can be joined with commas into
// Options= and an fstab line.
func checkMountOptions(opts []string) error {
	for _, o := range opts {
		if err := checkToken(o); err != nil {
			return fmt.Errorf("option %q: %w", o, err)
		}
		if strings.Contains(o, ",") {
			return fmt.Errorf("option %q contains a comma, which separates options", o)
		}
	}
	return nil
}

func checkAbsolute(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("%q is not a clean absolute path", p)
	}
	return nil
}
