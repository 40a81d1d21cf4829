package runbook

import (
	"github.com/holthome/bakc/compiler/plan"
)

// retentionView is one forget policy of a job and the repositories it
// applies in: the job's own, and each repository's that replaces it.
type retentionView struct {
	// Repositories are where the policy applies; empty when it is the
	// job's and applies in every repository of the job.
	Repositories []string
	// Own is true for a repository's own retention.
	Own   bool
	Words string
	Flags string
}

// jobRetentions are the policies of a job, the job's own first (in the
// repositories without one of their own), then one per repository with
// its own retention, in the order of the job's repositories.
func jobRetentions(j *plan.Job) []retentionView {
	var jobs []string
	var own []retentionView
	for _, name := range j.Repositories {
		if rt, ok := j.RepositoryRetention[name]; ok {
			own = append(own, retentionView{Repositories: []string{name}, Own: true, Words: retentionWords(rt), Flags: retentionFlags(rt)})
			continue
		}
		jobs = append(jobs, name)
	}
	var out []retentionView
	if len(jobs) > 0 {
		v := retentionView{Words: retentionWords(j.Retention), Flags: retentionFlags(j.Retention)}
		if len(own) > 0 {
			v.Repositories = jobs
		}
		out = append(out, v)
	}
	return append(out, own...)
}

// notDefault are the node's repositories with default = false, which a
// job that lists no repositories does not write to.
func notDefault(p *plan.Plan) []string {
	var out []string
	for i := range p.Repositories {
		if !p.Repositories[i].JobDefault() {
			out = append(out, p.Repositories[i].Name)
		}
	}
	return out
}
