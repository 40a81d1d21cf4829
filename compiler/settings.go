package compiler

import (
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/schema"
)

// Built-in defaults: what a fleet gets when bakc.hcl does not say.
const (
	defaultUser            = "bakc"
	defaultUID             = 2049 // fixed, so the NAS can give repositories to it
	defaultSchedule        = "daily"
	defaultRandomizedDelay = "30m"
	// Maintenance starts on the half hour, backups (daily, hourly, and
	// most written by hand) on the hour: with the default randomized
	// delay of 30 minutes their start windows never meet. Prune and
	// verify of a repository fall on different nights, the restore test
	// an hour later than both; 03:30 and 04:30 exist once on every
	// day of the year in the zones that change their clocks at 02:00 or
	// 03:00 (docs/schedules.md, "Default schedules").
	defaultPruneSchedule   = "Sun *-*-* 03:30:00"
	defaultVerifySchedule  = "Sat *-*-* 03:30:00"
	defaultRestoreSchedule = "*-*-01 04:30:00"
	defaultRestoreFiles    = 5
	defaultNice            = 10
	defaultIOClass         = "idle"
	errorLogName           = "errors.jsonl"
)

// builtinPaths are the runtime's folders unless configured.
var builtinPaths = plan.Paths{
	Plan:  "/etc/bakc/plan.json",
	State: "/var/lib/bakc",
	Cache: "/var/cache/bakc",
	Log:   "/var/log/bakc",
}

// builtinTextfileDir is node_exporter's textfile collector folder on
// NixOS (services.prometheus.exporters.node).
const builtinTextfileDir = "/var/lib/node_exporter/textfile_collector"

// applyUser overrides base with the attributes of u that are set.
func applyUser(base plan.User, u *schema.User) (plan.User, hcl.Diagnostics) {
	if u == nil {
		return base, nil
	}
	var diags hcl.Diagnostics
	for _, t := range []struct {
		v    *schema.Text
		dst  *string
		what string
	}{{u.Name, &base.Name, "user name"}, {u.Group, &base.Group, "group name"}} {
		if t.v == nil {
			continue
		}
		if plan.CheckUserName(t.v.Value) != nil {
			diags = append(diags, errorAt(t.v.Range, "Invalid user name",
				"The %s %q cannot be used: it must start with a lowercase letter or \"_\", hold only lowercase letters, digits, \"_\" and \"-\", and have at most 31 characters (systemd's rule for User=). Choose another name.", t.what, t.v.Value))
			continue
		}
		if d := checkSystemName(t.v, t.what == "group name"); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		*t.dst = t.v.Value
	}
	for _, n := range []struct {
		v    *schema.Number
		dst  *int
		what string
	}{{u.UID, &base.UID, "uid"}, {u.GID, &base.GID, "gid"}} {
		if n.v == nil {
			continue
		}
		id, d := wholeNumber(n.v, 0, 2147483647, "Invalid user id", n.what)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if err := plan.CheckUserID(id); err != nil {
			diags = append(diags, errorAt(n.v.Range, "Invalid user id",
				"The %s cannot be used: %s. The backup user is a user of its own, so that backups run without root's rights and repositories on a NAS can squash root (to nobody, 65534, whose files every squashed client could change). Choose a free id, such as 2049.", n.what, err))
			continue
		}
		if d := checkSystemID(n.v, id, n.what == "gid"); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		*n.dst = id
	}
	return base, diags
}

// applyPaths overrides base with the attributes of p that are set.
func applyPaths(base plan.Paths, p *schema.Paths) (plan.Paths, hcl.Diagnostics) {
	if p == nil {
		return base, nil
	}
	var diags hcl.Diagnostics
	for _, t := range []struct {
		v         *schema.Text
		dst       *string
		what      string
		placement plan.Placement
		example   string
	}{
		// backup.nix installs the plan with environment.etc."bakc/…";
		// the plain units read it from the same place.
		{p.Plan, &base.Plan, "plan path", plan.PlacePlan, builtinPaths.Plan},
		{p.State, &base.State, "state folder", plan.PlaceOwnFolder, builtinPaths.State},
		{p.Cache, &base.Cache, "cache folder", plan.PlaceOwnFolder, builtinPaths.Cache},
		{p.Log, &base.Log, "log folder", plan.PlaceOwnFolder, builtinPaths.Log},
		// Root's, readable by all (tmpfiles: d … 0755 root root), like
		// the seed's /var/lib/backup-docs: a folder of its own.
		{p.Docs, &base.Docs, "docs folder", plan.PlaceShared, plan.DefaultDocs},
	} {
		if t.v == nil {
			continue
		}
		d := checkRuntimePath(t.v, t.what)
		if !d.HasErrors() {
			d = checkPlacement(t.v, t.placement, t.what, t.example)
		}
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if d := checkSystemName(t.v, t.what == "group name"); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		*t.dst = t.v.Value
	}
	if p.Docs != nil && base.Docs == p.Docs.Value {
		diags = append(diags, checkDocsApart(p.Docs, base)...)
	}
	return base, diags
}

// checkDocsApart reports a docs folder that is one of the runtime's
// folders, or inside or around one: tmpfiles gives the docs folder to
// root (0755) and the runtime's to the backup user (0750), and the two
// lines would fight over it.
func checkDocsApart(docs *schema.Text, p plan.Paths) hcl.Diagnostics {
	for _, own := range []string{p.State, p.Cache, p.Log, path.Dir(p.Plan)} {
		if docs.Value == own || isUnder(docs.Value, own) || isUnder(own, docs.Value) {
			return hcl.Diagnostics{errorAt(docs.Range, "Docs folder among bakc's folders",
				"The docs folder %q is, holds or is inside %q, one of bakc's own folders, which belong to the backup user; the docs folder belongs to root and is readable by all. Choose a folder of its own, such as %q.", docs.Value, own, plan.DefaultDocs)}
		}
	}
	return nil
}

// checkRuntimePath reports a folder the runtime writes to that is not
// absolute and clean, or is in the read-only Nix store.
func checkRuntimePath(t *schema.Text, what string) hcl.Diagnostics {
	if d := checkAbsPath(t, what); d.HasErrors() {
		return d
	}
	if isUnder(t.Value, nixStore) {
		return hcl.Diagnostics{errorAt(t.Range, "Path in the Nix store",
			"The %s %q is in the Nix store, which is read-only at run time. Choose a path under /var or /etc.", what, t.Value)}
	}
	return nil
}

// monitoring is Monitoring before the error log's default is known.
type monitoring struct {
	plan.Monitoring
	// errorLogSet is true when error_log was configured; otherwise it
	// follows the log folder.
	errorLogSet bool
}

// applyMonitoring overrides base with the attributes of m that are set.
func applyMonitoring(base monitoring, m *schema.Monitoring) (monitoring, hcl.Diagnostics) {
	if m == nil {
		return base, nil
	}
	var diags hcl.Diagnostics
	if m.TextfileDir != nil {
		d := checkRuntimePath(m.TextfileDir, "textfile collector folder")
		if !d.HasErrors() {
			// Shared with node_exporter by design: any folder of its
			// own, not one that holds others'.
			d = checkPlacement(m.TextfileDir, plan.PlaceShared, "textfile collector folder", builtinTextfileDir)
		}
		if d.HasErrors() {
			diags = append(diags, d...)
		} else {
			base.TextfileDir = m.TextfileDir.Value
		}
	}
	if m.ErrorLog != nil {
		d := checkRuntimePath(m.ErrorLog, "error log")
		if !d.HasErrors() {
			d = checkPlacement(m.ErrorLog, plan.PlaceOwnFile, "error log", builtinPaths.Log+"/"+errorLogName)
		}
		if d.HasErrors() {
			diags = append(diags, d...)
		} else {
			base.ErrorLog, base.errorLogSet = m.ErrorLog.Value, true
		}
	}
	if m.OnFailureUnit != nil {
		if d := checkUnitName(m.OnFailureUnit); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			base.OnFailureUnit = m.OnFailureUnit.Value
		}
	}
	if m.Grace != nil {
		if d := checkTimespan(m.Grace, "monitoring grace"); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			base.Grace = m.Grace.Value
		}
	}
	return base, diags
}

// resolve fills in the error log's default below the log folder.
func (m monitoring) resolve(paths plan.Paths) plan.Monitoring {
	out := m.Monitoring
	if !m.errorLogSet {
		out.ErrorLog = path.Join(paths.Log, errorLogName)
	}
	return out
}

// checkUnitName reports a value that is not a systemd unit name as
// OnFailure= takes it: the characters of unit names, % specifiers such
// as %n (so that notify@%n.service learns which unit failed), and a
// unit type.
func checkUnitName(t *schema.Text) hcl.Diagnostics {
	if err := escape.CheckSystemdUnitName(t.Value); err != nil {
		return hcl.Diagnostics{errorAt(t.Range, "Invalid unit name",
			"%q is not a systemd unit name: it %s. Write the full name of a unit, such as \"notify-failure@%%n.service\".", t.Value, err)}
	}
	return nil
}

// ioClasses are the values of IOSchedulingClass= bakc allows.
var ioClasses = plan.IOSchedulingClasses

var cpuQuotaRE = regexp.MustCompile(`^[1-9][0-9]*%$`)

// applyResources overrides base with the attributes of r that are set.
func applyResources(base plan.Resources, r *schema.Resources) (plan.Resources, hcl.Diagnostics) {
	if r == nil {
		return base, nil
	}
	var diags hcl.Diagnostics
	if r.Nice != nil {
		n, d := wholeNumber(r.Nice, -20, 19, "Invalid nice value", "nice value")
		diags = append(diags, d...)
		if !d.HasErrors() {
			base.Nice = n
		}
	}
	if r.IOClass != nil {
		if !contains(ioClasses, r.IOClass.Value) {
			diags = append(diags, errorAt(r.IOClass.Range, "Invalid IO class",
				"%q is not an IO scheduling class. Write %s.%s", r.IOClass.Value, quotedList(ioClasses), didYouMean(r.IOClass.Value, ioClasses)))
		} else {
			base.IOSchedulingClass = r.IOClass.Value
		}
	}
	if r.CPUQuota != nil {
		if !cpuQuotaRE.MatchString(r.CPUQuota.Value) {
			diags = append(diags, errorAt(r.CPUQuota.Range, "Invalid CPU quota",
				"%q is not a CPU quota. Write a whole percentage of one CPU, such as \"50%%\"; \"200%%\" allows two CPUs.", r.CPUQuota.Value))
		} else {
			base.CPUQuota = r.CPUQuota.Value
		}
	}
	if r.MemoryMax != nil {
		if err := checkMemoryMax(r.MemoryMax.Value); err != nil {
			diags = append(diags, errorAt(r.MemoryMax.Range, "Invalid size",
				"The memory limit %s. Write a size with a binary unit, such as \"4G\" or \"512M\", a percentage of the machine's memory such as \"25%%\", or \"infinity\".", err))
		} else {
			base.MemoryMax = r.MemoryMax.Value
		}
	}
	if r.Timeout != nil {
		if d := checkTimespan(r.Timeout, "timeout"); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			base.TimeoutStart = r.Timeout.Value
		}
	}
	return base, diags
}

var percentRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)%$`)

// checkMemoryMax accepts what MemoryMax= takes: a size, a percentage,
// or infinity.
func checkMemoryMax(s string) error {
	if s == "infinity" {
		return nil
	}
	if m := percentRE.FindStringSubmatch(s); m != nil {
		if v, err := strconv.ParseFloat(m[1], 64); err != nil || v <= 0 || v > 100 {
			return fmt.Errorf("%q is not a percentage from 0 to 100", s)
		}
		return nil
	}
	n, err := parseSize(s)
	if err != nil {
		return fmt.Errorf("is wrong: %s", err)
	}
	if n < 1<<20 {
		return fmt.Errorf("%q is less than 1M, too little for restic", s)
	}
	return nil
}

// lowerRetention checks a retention block and lowers it. A policy must
// keep something: restic's forget refuses to run without one, and a
// backup nobody forgets fills its repository.
func lowerRetention(r *schema.Retention) (plan.Retention, hcl.Diagnostics) {
	var out plan.Retention
	var diags hcl.Diagnostics
	for _, k := range []struct {
		v    *schema.Number
		dst  *int
		name string
	}{
		{r.Last, &out.Last, "last"}, {r.Hourly, &out.Hourly, "hourly"}, {r.Daily, &out.Daily, "daily"},
		{r.Weekly, &out.Weekly, "weekly"}, {r.Monthly, &out.Monthly, "monthly"}, {r.Yearly, &out.Yearly, "yearly"},
	} {
		if k.v == nil {
			continue
		}
		n, d := wholeNumber(k.v, 0, 1000000, "Invalid retention", fmt.Sprintf("number of %s snapshots to keep", k.name))
		diags = append(diags, d...)
		*k.dst = n
	}
	if r.Within != nil {
		if plan.CheckResticDuration(r.Within.Value) != nil {
			diags = append(diags, errorAt(r.Within.Range, "Invalid retention",
				"%q is not a restic duration for keep-within. Write numbers with units y, m, d and h, such as \"1y6m\" or \"30d\".", r.Within.Value))
		} else {
			out.Within = r.Within.Value
		}
	}
	if diags.HasErrors() {
		return out, diags
	}
	if !out.Keeps() {
		diags = append(diags, errorAt(r.DeclRange, "Retention keeps nothing",
			"This retention policy keeps no snapshot: every number is 0 and within is not set, and restic's forget refuses to run without a policy. Keep at least one, for example daily = 7."))
	}
	return out, diags
}

// lowerPrune lowers a prune block.
func lowerPrune(p *schema.Prune, delay string) (plan.Prune, hcl.Diagnostics) {
	s, diags := lowerSchedule(p.Schedule, p.RandomizedDelay, defaultPruneSchedule, delay, "prune schedule")
	return plan.Prune{Schedule: s}, diags
}

// lowerVerify lowers a verify block.
func lowerVerify(v *schema.Verify, delay string) (*plan.Verify, hcl.Diagnostics) {
	s, diags := lowerSchedule(v.Schedule, v.RandomizedDelay, defaultVerifySchedule, delay, "verify schedule")
	out := &plan.Verify{Schedule: s}
	if v.ReadDataSubset != nil {
		if err := checkReadDataSubset(v.ReadDataSubset.Value); err != nil {
			diags = append(diags, errorAt(v.ReadDataSubset.Range, "Invalid read_data_subset",
				"%s. Write a fraction such as \"1/10\", a percentage such as \"5%%\", or a size such as \"500M\", as restic check --read-data-subset takes it.", err))
		} else {
			out.ReadDataSubset = v.ReadDataSubset.Value
		}
	}
	return out, diags
}

var fractionRE = regexp.MustCompile(`^([0-9]+)/([0-9]+)$`)

// checkReadDataSubset accepts what restic check --read-data-subset
// takes: n/m with 1 <= n <= m, a percentage in (0, 100], or a size.
func checkReadDataSubset(s string) error {
	if m := fractionRE.FindStringSubmatch(s); m != nil {
		n, err1 := strconv.Atoi(m[1])
		d, err2 := strconv.Atoi(m[2])
		if err1 != nil || err2 != nil || n < 1 || n > d {
			return fmt.Errorf("%q is not a subset n/m with 1 ≤ n ≤ m", s)
		}
		return nil
	}
	if m := percentRE.FindStringSubmatch(s); m != nil {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 || v > 100 {
			return fmt.Errorf("%q is not a percentage above 0 and at most 100", s)
		}
		return nil
	}
	if n, err := parseSize(s); err != nil || n == 0 {
		return fmt.Errorf("%q is not a fraction, a percentage or a size", s)
	}
	return nil
}

// lowerRestoreTest lowers a restore_test block.
func lowerRestoreTest(r *schema.RestoreTest, delay string) (*plan.RestoreTest, hcl.Diagnostics) {
	s, diags := lowerSchedule(r.Schedule, r.RandomizedDelay, defaultRestoreSchedule, delay, "restore test schedule")
	out := &plan.RestoreTest{Schedule: s, Files: defaultRestoreFiles}
	if r.Files != nil {
		n, d := wholeNumber(r.Files, 1, 100000, "Invalid file count", "number of files to restore")
		diags = append(diags, d...)
		out.Files = n
	}
	return out, diags
}

// lowerSchedule checks a schedule and its randomized delay, using the
// given defaults for those not set.
func lowerSchedule(cal, delay *schema.Text, defCal, defDelay, what string) (plan.Schedule, hcl.Diagnostics) {
	out := plan.Schedule{Calendar: defCal, RandomizedDelay: defDelay}
	var diags hcl.Diagnostics
	if cal != nil {
		if d := checkSchedule(cal, what); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			out.Calendar = cal.Value
		}
	}
	if delay != nil {
		if d := checkTimespan(delay, "randomized delay"); d.HasErrors() {
			diags = append(diags, d...)
		} else {
			out.RandomizedDelay = delay.Value
		}
	}
	return out, diags
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
