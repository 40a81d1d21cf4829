package runtime

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
)

// The metrics in this file are what `bakc alerts` and its dashboard need
// beyond a run's own (docs/metrics.md): which node a node_exporter's
// series belong to, why the last run failed, and how full each
// repository is. They are additive; the names are stable.

// nodeInfoPath is the textfile naming the node. One file, written alike
// by every run: node_exporter refuses a series that two files both have.
func nodeInfoPath(dir string) string { return filepath.Join(dir, "bakc-node.prom") }

// writeNodeInfo writes bakc_node_info{node}: the plan's node name, which
// the alert rules join every bakc series with (on instance), so that a
// rule for forge's job "system" matches forge's series whatever name the
// scrape gives the target. Every run writes it; a failure is logged and
// changes nothing else.
func writeNodeInfo(p *plan.Plan, log *slog.Logger) {
	reg := prometheus.NewPedanticRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bakc_node_info",
		Help: "The node whose bakc metrics these are, as the plan names it; always 1.",
	}, []string{"node"})
	reg.MustRegister(g)
	g.WithLabelValues(p.Node.Name).Set(1)
	if err := writeTextfile(nodeInfoPath(p.Monitoring.TextfileDir), reg); err != nil {
		log.Error("writing the node's metrics", "error", err)
	}
}

// registerBackupFailures adds bakc_backup_failure_info to a backup's
// metrics: one series per distinct (repository, phase, category) among
// the last run's failures, none after a run without. A failure of the
// whole job (lock, hook, snapshot) has no repository label.
func registerBackupFailures(reg *prometheus.Registry, rep *Report) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bakc_backup_failure_info",
		Help: "A failure of the last backup run of the job: where (repository, empty for the whole job), in which phase, of which category (docs/runtime.md); always 1. None after a successful run.",
	}, []string{"job", "repository", "phase", "category"})
	reg.MustRegister(g)
	for _, f := range rep.Failures {
		g.WithLabelValues(rep.Job, f.Repository, string(f.Phase), string(f.Category)).Set(1)
	}
}

// registerTaskFailures adds bakc_<task>_failure_info to a repository
// task's metrics, as registerBackupFailures.
func registerTaskFailures(reg *prometheus.Registry, rep *TaskReport, prefix string) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "bakc_" + prefix + "_failure_info",
		Help: "A failure of the last run: in which phase, of which category (docs/runtime.md); always 1. None after a successful run.",
	}, []string{"repository", "phase", "category"})
	reg.MustRegister(g)
	for _, f := range rep.Failures {
		g.WithLabelValues(rep.Repository, string(f.Phase), string(f.Category)).Set(1)
	}
}

// repositorySpacePath is the textfile of a repository's space.
func repositorySpacePath(dir, repo string) string {
	return filepath.Join(dir, "bakc-repository-"+repo+".prom")
}

// statfsTimeout bounds the statfs of a repository: an NFS server that
// went away between restic's run and this one must not hold the run.
const statfsTimeout = 10 * time.Second

// writeRepositorySpace writes the space of a repository that is a
// folder on the node (nfs, local) as its file system reports it, after a
// run that reached it. The statfs of an NFS mount of a ZFS dataset with a
// quota answers for the dataset: its size is the quota (or less, when
// the pool has less free), its free space what the quota leaves. That is
// what fills up, after compression, which restic's own sizes
// (`restic stats`, before ZFS compresses) do not say; and it costs
// nothing, where `restic stats --mode raw-data` reads the whole index
// under a lock. The plan's quota is written too, for the dashboard.
// Other kinds have no folder here and get no file. A failure is logged
// and changes nothing else.
func writeRepositorySpace(p *plan.Plan, repo *plan.Repository, now time.Time, log *slog.Logger) {
	if repo.Kind != plan.KindNFS && repo.Kind != plan.KindLocal {
		return
	}
	type result struct {
		st  unix.Statfs_t
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		r.err = unix.Statfs(repo.URL, &r.st)
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(statfsTimeout):
		r.err = fmt.Errorf("no answer within %v", statfsTimeout)
	}
	if r.err != nil {
		log.Error("reading the repository's free space", "repository", repo.Name, "error", r.err)
		return
	}
	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"repository"})
		reg.MustRegister(g)
		return g
	}
	bsize := float64(r.st.Bsize)
	gauge("bakc_repository_size_bytes", "Size of the file system the repository is on, as statfs reports it (for an NFS dataset with a quota: the quota, or less when the pool has less free).").
		WithLabelValues(repo.Name).Set(float64(r.st.Blocks) * bsize)
	gauge("bakc_repository_used_bytes", "Space used on the repository's file system (size less free), as statfs reports it.").
		WithLabelValues(repo.Name).Set(float64(r.st.Blocks-r.st.Bfree) * bsize)
	gauge("bakc_repository_available_bytes", "Space the backup user can still write on the repository's file system, as statfs reports it.").
		WithLabelValues(repo.Name).Set(float64(r.st.Bavail) * bsize)
	gauge("bakc_repository_space_timestamp_seconds", "When the space was read, Unix time.").
		WithLabelValues(repo.Name).Set(unixSeconds(now))
	if repo.NFS != nil && repo.NFS.Quota > 0 {
		gauge("bakc_repository_quota_bytes", "The quota of the repository's dataset on the NAS, as the plan declares it.").
			WithLabelValues(repo.Name).Set(float64(repo.NFS.Quota))
	}
	if err := writeTextfile(repositorySpacePath(p.Monitoring.TextfileDir, repo.Name), reg); err != nil {
		log.Error("writing the repository's space metrics", "repository", repo.Name, "error", err)
	}
}

// reportBackupExtras writes what a backup run adds for the alerts: the
// node's file, and the space of each repository the run reached.
func (r *backupRun) reportBackupExtras() {
	writeNodeInfo(r.plan, r.log)
	for _, rr := range r.repos {
		if rr.ready {
			writeRepositorySpace(r.plan, rr.repo, r.o.now(), r.log)
		}
	}
}

// reportTaskExtras is reportBackupExtras for a repository task: the
// space when restic ran (the repository was reached).
func reportTaskExtras(p *plan.Plan, repo *plan.Repository, rep *TaskReport, now time.Time, log *slog.Logger) {
	writeNodeInfo(p, log)
	if rep.ResticExitCode >= 0 {
		writeRepositorySpace(p, repo, now, log)
	}
}
