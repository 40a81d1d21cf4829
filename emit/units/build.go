package units

import (
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// Task kinds: the first argument of `bakc run`, and the middle of the
// unit names.
const (
	KindBackup      = "backup"
	KindVerify      = "verify"
	KindRestoreTest = "restore-test"
	KindPrune       = "prune"
)

// ServiceName returns the name, without suffix, of the service and timer
// that run task kind for a job or repository: bakc-backup-system,
// bakc-prune-nas-primary. The runbook and the runtime's messages name
// units with it too.
func ServiceName(kind, name string) string { return "bakc-" + kind + "-" + name }

// Build derives every unit, tmpfiles.d line and sysusers.d line of the
// node from its plan. It refuses a plan with a value that cannot be
// written into a unit file as itself, naming every such value.
func Build(p *plan.Plan) (*Set, error) {
	if err := checkPlan(p); err != nil {
		return nil, err
	}
	set := &Set{}
	for _, t := range planTasks(p) {
		set.Units = append(set.Units, buildService(p, t), buildTimer(t))
	}
	set.Units = append(set.Units, buildMounts(p)...)
	slices.SortFunc(set.Units, func(a, b Unit) int { return strings.Compare(a.Name, b.Name) })
	set.KnownHosts = buildKnownHosts(p)
	set.Tmpfiles = buildTmpfiles(p)
	set.Sysusers = buildSysusers(p)
	return set, nil
}

// task is one service with its timer: a job's backup or a repository's
// verify, restore test or prune.
type task struct {
	kind string
	// name is the job's or the repository's.
	name        string
	description string
	schedule    plan.Schedule
	// repos are the repositories the task writes to.
	repos []*plan.Repository
	// zfs is set for the backup of a job that snapshots ZFS datasets.
	zfs bool
	// resources are the job's limits; nil for repository tasks.
	resources *plan.Resources
	onFailure string
	// job is the job of a backup task; nil for repository tasks.
	job *plan.Job
}

// planTasks lists the node's tasks: a backup per job that is not
// disabled, then per repository its verify and restore test (when the
// node declares them) and its prune.
func planTasks(p *plan.Plan) []task {
	var tasks []task
	for i := range p.Jobs {
		j := &p.Jobs[i]
		if j.Disabled {
			continue
		}
		t := task{
			kind:        KindBackup,
			name:        j.Name,
			description: "bakc backup " + j.Name,
			schedule:    j.Schedule,
			zfs:         j.Snapshot == plan.SnapshotZFS,
			resources:   &j.Resources,
			onFailure:   p.Monitoring.OnFailureUnit,
			job:         j,
		}
		if j.Description != "" {
			t.description += ": " + j.Description
		}
		if j.OnFailureUnit != "" {
			t.onFailure = j.OnFailureUnit
		}
		for _, name := range j.Repositories {
			r, _ := p.Repository(name) // checkPlan made sure it exists
			t.repos = append(t.repos, r)
		}
		tasks = append(tasks, t)
	}
	for i := range p.Repositories {
		r := &p.Repositories[i]
		repoTask := func(kind, what string, s plan.Schedule) task {
			return task{
				kind:        kind,
				name:        r.Name,
				description: "bakc " + what + " of repository " + r.Name,
				schedule:    s,
				repos:       []*plan.Repository{r},
				onFailure:   p.Monitoring.OnFailureUnit,
			}
		}
		if r.Verify != nil {
			tasks = append(tasks, repoTask(KindVerify, "verify", r.Verify.Schedule))
		}
		if r.RestoreTest != nil {
			tasks = append(tasks, repoTask(KindRestoreTest, "restore test", r.RestoreTest.Schedule))
		}
		tasks = append(tasks, repoTask(KindPrune, "prune", r.Prune.Schedule))
	}
	return tasks
}

// TimerNames are the node's timers, sorted (bakc-backup-system.timer,
// bakc-prune-nas-primary.timer, …): the runbook's disaster recovery
// starts them again by name once the node is rebuilt.
func TimerNames(p *plan.Plan) []string {
	var out []string
	for _, t := range planTasks(p) {
		out = append(out, ServiceName(t.kind, t.name)+".timer")
	}
	slices.Sort(out)
	return out
}
