package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/schema"
)

// resolvedDefaults is the defaults block of bakc.hcl over the built-in
// defaults, checked once per fleet.
type resolvedDefaults struct {
	exclude         []string
	schedule        string
	randomizedDelay string
	// retention is nil when neither the defaults nor bakc declare one;
	// retentionBad is true when the defaults' is wrong (already reported),
	// so that jobs inheriting it do not report it again.
	retention    *plan.Retention
	retentionBad bool
	resources    plan.Resources
	user         plan.User
	paths        plan.Paths
	monitoring   monitoring
	prune        plan.Prune
	verify       *plan.Verify
	restoreTest  *plan.RestoreTest
	diags        hcl.Diagnostics
}

// resolveDefaults checks the defaults block and merges it over the
// built-in defaults, once.
func (f *Fleet) resolveDefaults() *resolvedDefaults {
	if f.defaults != nil {
		return f.defaults
	}
	d := &resolvedDefaults{
		schedule:        defaultSchedule,
		randomizedDelay: defaultRandomizedDelay,
		resources:       plan.Resources{Nice: defaultNice, IOSchedulingClass: defaultIOClass},
		user:            plan.User{Name: defaultUser, Group: defaultUser, UID: defaultUID, GID: defaultUID},
		paths:           builtinPaths,
		monitoring:      monitoring{Monitoring: plan.Monitoring{TextfileDir: builtinTextfileDir, Grace: plan.DefaultGrace}},
	}
	f.defaults = d
	var def *schema.Defaults
	if f.rootFile != nil {
		def = f.rootFile.Defaults
	}
	if def == nil {
		d.prune = plan.Prune{Schedule: plan.Schedule{Calendar: defaultPruneSchedule, RandomizedDelay: d.randomizedDelay}}
		return d
	}
	var diags hcl.Diagnostics
	if def.Exclude != nil {
		diags = append(diags, checkExcludes(def.Exclude)...)
		d.exclude = dedupe(def.Exclude.Values())
	}
	if def.Schedule != nil {
		if dd := checkSchedule(def.Schedule, "default schedule"); dd.HasErrors() {
			diags = append(diags, dd...)
		} else {
			d.schedule = def.Schedule.Value
		}
	}
	if def.RandomizedDelay != nil {
		if dd := checkTimespan(def.RandomizedDelay, "randomized delay"); dd.HasErrors() {
			diags = append(diags, dd...)
		} else {
			d.randomizedDelay = def.RandomizedDelay.Value
		}
	}
	if def.Retention != nil {
		r, dd := lowerRetention(def.Retention)
		diags = append(diags, dd...)
		if dd.HasErrors() {
			d.retentionBad = true
		} else {
			d.retention = &r
		}
	}
	var dd hcl.Diagnostics
	d.resources, dd = applyResources(d.resources, def.Resources)
	diags = append(diags, dd...)
	d.user, dd = applyUser(d.user, def.User)
	diags = append(diags, dd...)
	d.paths, dd = applyPaths(d.paths, def.Paths)
	diags = append(diags, dd...)
	d.monitoring, dd = applyMonitoring(d.monitoring, def.Monitoring)
	diags = append(diags, dd...)
	d.prune = plan.Prune{Schedule: plan.Schedule{Calendar: defaultPruneSchedule, RandomizedDelay: d.randomizedDelay}}
	if def.Prune != nil {
		d.prune, dd = lowerPrune(def.Prune, d.randomizedDelay)
		diags = append(diags, dd...)
	}
	if def.Verify != nil {
		d.verify, dd = lowerVerify(def.Verify, d.randomizedDelay)
		diags = append(diags, dd...)
	}
	if def.RestoreTest != nil {
		d.restoreTest, dd = lowerRestoreTest(def.RestoreTest, d.randomizedDelay)
		diags = append(diags, dd...)
	}
	d.diags = diags
	return d
}

// dedupe drops repeated strings, keeping the first of each.
func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// checkExcludes reports exclude patterns restic would refuse, that are
// empty, or that no line of restic's exclude file can carry; and warns
// about a pattern restic would have expanded had it been written into
// that file as it is (bakc writes it so that it is matched literally).
func checkExcludes(l *schema.TextList) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, it := range l.Items {
		if it.Value == "" || it.Value == "!" {
			diags = append(diags, errorAt(it.Range, "Invalid exclude pattern",
				"An exclude pattern is empty. Remove it."))
			continue
		}
		if _, ok := parseExclude(it.Value); !ok {
			diags = append(diags, errorAt(it.Range, "Invalid exclude pattern",
				"%q is not a valid pattern: a character class [ ] is not closed or a \\ ends the pattern. Fix the pattern (restic uses Go's filepath.Match syntax, plus ** for any number of folders).", it.Value))
			continue
		}
		if err := escape.CheckResticExcludeLine(it.Value); err != nil {
			diags = append(diags, errorAt(it.Range, "Invalid exclude pattern",
				"The exclude pattern %.80q %s, so it cannot be written into restic's exclude file. Change it.", it.Value, err))
			continue
		}
		if readDifferentlyByRestic(it.Value) {
			diags = append(diags, warningAt(it.Range, "Exclude pattern is not expanded",
				"restic expands $NAME, ${NAME} and $$ in an exclude file, but bakc writes each pattern so that restic matches it exactly as written: %q matches names that hold those characters. If you meant a variable's value, write the path it stands for (for home folders, \"/home/*/…\").", it.Value))
		}
	}
	return diags
}
