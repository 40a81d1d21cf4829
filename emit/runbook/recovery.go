package runbook

import (
	"path"
	"slices"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
)

// The runbook's Disaster recovery section: the whole node back from its
// repositories onto a reinstalled system. Every path of every enabled
// job is restored in place (--target /) by its original path, which is
// what restic recorded also for a ZFS snapshot job, parents before the
// folders inside them, each from the job's nearest repository; then the
// node is rebuilt, its dumps reloaded into the running databases, and
// the backups started again.

// recoveryView is the section's content.
type recoveryView struct {
	// Datasets are the ZFS datasets to make anew before restoring.
	Datasets []plan.Dataset
	// Groups are the restores in order, split where the repository
	// changes (each group defines bakc_restic for its repository).
	Groups []recoveryGroup
	// Dumps are the dumps to reload once the node runs again, one group
	// per repository.
	Dumps []recoveryDumps
	// Unmount are the NFS repositories mounted by hand for the restore,
	// to leave to systemd's mount units after the rebuild.
	Unmount []repoView
	// Timers are the node's timers, to start once it is rebuilt.
	Timers []string
	// Backups are the enabled jobs' services, to run once by hand.
	Backups []string
	// Disabled are the disabled jobs: left out (their Restore sections
	// have the commands).
	Disabled []string
}

type recoveryGroup struct {
	Repo  repoView
	Steps []recoveryStep
}

// recoveryStep is one path of one job, restored in place.
type recoveryStep struct {
	Job, Tag, Path, Include string
	// Dataset is the ZFS dataset the path is in, for a ZFS snapshot
	// job; empty otherwise.
	Dataset string
}

type recoveryDumps struct {
	Repo  repoView
	Job   string
	Dumps []dumpRestoreView
}

// kindRank orders repositories by how near they are, for a restore of
// everything: a folder on the node or the NAS before a server, a server
// before a cloud.
func kindRank(kind string) int {
	switch kind {
	case plan.KindNFS, plan.KindLocal:
		return 0
	case plan.KindSFTP, plan.KindREST:
		return 1
	}
	return 2
}

// nearestRepo is the job's repository a whole-node restore reads from:
// the nearest by kind, the first of the job's (sorted) list among equals.
func nearestRepo(repos map[string]repoView, j *plan.Job) (repoView, bool) {
	var best repoView
	found := false
	for _, name := range j.Repositories {
		r, ok := repos[name]
		if ok && (!found || kindRank(r.Kind) < kindRank(best.Kind)) {
			best, found = r, true
		}
	}
	return best, found
}

// datasetOf is the dataset of the job whose mountpoint holds p (the
// longest), or "".
func datasetOf(j *plan.Job, p string) string {
	best, name := "", ""
	for _, d := range j.Datasets {
		if (p == d.Mountpoint || d.Mountpoint == "/" || strings.HasPrefix(p, d.Mountpoint+"/")) && len(d.Mountpoint) >= len(best) {
			best, name = d.Mountpoint, d.Name
		}
	}
	return name
}

func buildRecovery(p *plan.Plan, repos map[string]repoView, restoreRoot string) *recoveryView {
	v := &recoveryView{Datasets: p.Node.Datasets, Timers: units.TimerNames(p)}
	type step struct {
		recoveryStep
		repo repoView
	}
	var steps []step
	for i := range p.Jobs {
		j := &p.Jobs[i]
		if j.Disabled {
			v.Disabled = append(v.Disabled, j.Name)
			continue
		}
		v.Backups = append(v.Backups, units.ServiceName(units.KindBackup, j.Name)+".service")
		r, ok := nearestRepo(repos, j)
		if !ok {
			continue
		}
		for _, jp := range j.Paths {
			s := recoveryStep{Job: j.Name, Tag: j.JobTag, Path: jp, Include: includePattern(jp)}
			if j.Snapshot == plan.SnapshotZFS {
				s.Dataset = datasetOf(j, jp)
			}
			steps = append(steps, step{s, r})
		}
		if len(j.Dumps) > 0 {
			d := recoveryDumps{Repo: r, Job: j.Name}
			for _, dump := range j.Dumps {
				d.Dumps = append(d.Dumps, dumpRestore(p, j, dump, path.Join(restoreRoot, j.Name)))
			}
			v.Dumps = append(v.Dumps, d)
		}
	}
	// Parents first: a path sorts before every path inside it, so that
	// a job's folder inside another job's (excluded there) comes back
	// after it, into it. Equal paths keep the jobs' order.
	slices.SortStableFunc(steps, func(a, b step) int { return strings.Compare(a.Path, b.Path) })
	mounted := map[string]bool{}
	for _, s := range steps {
		if n := len(v.Groups); n == 0 || v.Groups[n-1].Repo.Name != s.repo.Name {
			v.Groups = append(v.Groups, recoveryGroup{Repo: s.repo})
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Steps = append(g.Steps, s.recoveryStep)
		if s.repo.NFS != nil && !mounted[s.repo.NFS.Mountpoint] {
			mounted[s.repo.NFS.Mountpoint] = true
			v.Unmount = append(v.Unmount, s.repo)
		}
	}
	slices.SortFunc(v.Unmount, func(a, b repoView) int { return strings.Compare(a.NFS.Mountpoint, b.NFS.Mountpoint) })
	return v
}
