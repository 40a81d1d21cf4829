package runtime

import (
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// forgetGroupBy groups snapshots for forget by host, paths and tags: a
// job whose paths or tags change starts a new group, and its old
// snapshots keep their own retention instead of being counted against
// the new ones.
const forgetGroupBy = "host,paths,tags"

// policy is the plan's retention as restic's --keep-* flags.
func policy(rt plan.Retention) restic.Policy {
	return restic.Policy{
		Last: rt.Last, Hourly: rt.Hourly, Daily: rt.Daily, Weekly: rt.Weekly,
		Monthly: rt.Monthly, Yearly: rt.Yearly, Within: rt.Within,
	}
}

// forgetOptions scope forget to this node (--host) and this job (--tag
// with the job's tag): another node's or another job's snapshots in the
// same repository are never considered, let alone removed. The policy is
// the one the plan says applies to the job in the repository
// (plan.Job.RetentionIn: the repository's own retention, if it has one,
// replaces the job's).
func forgetOptions(p *plan.Plan, job *plan.Job, repo string) restic.ForgetOptions {
	return restic.ForgetOptions{
		Policy:  policy(job.RetentionIn(repo)),
		Host:    p.Node.Name,
		Tag:     job.JobTag,
		GroupBy: forgetGroupBy,
	}
}

// forget applies the job's retention in one repository. The caller runs
// it only after a complete backup there: after a partial or failed one,
// removing old snapshots could leave fewer good ones than the policy
// promises. Pruning the data is the repository's own schedule.
func (r *backupRun) forget(rr *repoRun) error {
	o := forgetOptions(r.plan, r.job, rr.repo.Name)
	if o.Policy.Empty() {
		r.log.Info("the job keeps every snapshot (no retention); forget skipped", "repository", rr.repo.Name)
		return nil
	}
	r.prog.phase("applying retention in " + rr.repo.Name)
	r.record.phase(PhaseForget, rr.repo.Name)
	// restic's forget takes the repository alone: it waits here for the
	// other jobs' backups into the repository, not in restic.
	lock, err := rr.lock(r.ctx, lockExclusive)
	if err != nil {
		return err
	}
	defer lock.release()
	return rr.restic.Forget(r.ctx, o)
}
