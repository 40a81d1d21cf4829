package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
)

// The commands a person runs on the node (status, snapshots, restore,
// restic, mount) read the installed plan, as the units do, and start
// restic the way the units start it (runtime.ResticFor).

// defaultPlanPath is where the units read the plan: NixOS's
// environment.etc and the install note of `bakc units` put it there.
const defaultPlanPath = "/etc/bakc/plan.json"

// clock is the time the node commands take for now: how old a success
// is, what "2 days ago" means. Nil is time.Now; the tests set it.
var clock func() time.Time

func now() time.Time {
	if clock != nil {
		return clock()
	}
	return time.Now()
}

// nodeOptions are the flags every node command shares.
type nodeOptions struct {
	plan   string
	restic string
}

func addNodeFlags(cmd *cobra.Command, o *nodeOptions) {
	f := cmd.Flags()
	f.StringVar(&o.plan, "plan", defaultPlanPath, "the node's plan `FILE`, as the units read it")
	f.StringVar(&o.restic, "restic", envOr("BAKC_RESTIC", "restic"), "the restic `binary` ($BAKC_RESTIC sets the default)")
}

// readPlan reads the installed plan; an error is exit code 1.
func (o *nodeOptions) readPlan() (*plan.Plan, error) {
	p, err := plan.ReadFile(o.plan)
	if err != nil {
		return nil, &exitError{code: exitConfig, err: err}
	}
	return p, nil
}

// job returns the plan's job, or an error naming the jobs there are.
func planJob(p *plan.Plan, name string) (*plan.Job, error) {
	j, ok := p.Job(name)
	if !ok {
		return nil, &exitError{code: exitConfig, err: fmt.Errorf("the plan has no job %q (jobs: %s)", name, strings.Join(runtime.JobNames(p), ", "))}
	}
	return j, nil
}

// jobRepository is the repository a command on job reads: the one given
// with --repo, which must be one of the job's, or else the job's first
// repository on a disk or NFS export of the node (local, nfs: the
// nearest and cheapest to read), or else its first.
func jobRepository(p *plan.Plan, j *plan.Job, given string) (*plan.Repository, error) {
	if given != "" {
		for _, name := range j.Repositories {
			if name == given {
				r, _ := p.Repository(name)
				return r, nil
			}
		}
		if _, ok := p.Repository(given); ok {
			return nil, &exitError{code: exitConfig, err: fmt.Errorf("job %s does not write to repository %s (its repositories: %s)", j.Name, given, strings.Join(j.Repositories, ", "))}
		}
		return nil, &exitError{code: exitConfig, err: fmt.Errorf("the plan has no repository %q (repositories: %s)", given, strings.Join(runtime.RepositoryNames(p), ", "))}
	}
	if len(j.Repositories) == 0 {
		return nil, &exitError{code: exitConfig, err: fmt.Errorf("job %s has no repository", j.Name)}
	}
	for _, name := range j.Repositories {
		if r, ok := p.Repository(name); ok && (r.Kind == plan.KindLocal || r.Kind == plan.KindNFS) {
			return r, nil
		}
	}
	r, ok := p.Repository(j.Repositories[0])
	if !ok {
		return nil, &exitError{code: exitConfig, err: fmt.Errorf("job %s names repository %q, which the plan does not have", j.Name, j.Repositories[0])}
	}
	return r, nil
}

// runtimeOptionsFor are the runtime's options for a node command: its
// restic, this process's clock, no log (errors come back as errors).
func (o *nodeOptions) runtimeOptions() runtime.Options {
	return runtime.Options{Restic: o.restic, Now: clock}
}

// Completion of job and repository names from the plan that --plan
// names (cobra's dynamic completion: `bakc completion bash|zsh|fish`).

// completePlan reads the plan of the command being completed; nil when
// it cannot be read (nothing is offered then).
func completePlan(cmd *cobra.Command) *plan.Plan {
	path := defaultPlanPath
	if f := cmd.Flags().Lookup("plan"); f != nil {
		path = f.Value.String()
	}
	p, err := plan.ReadFile(path)
	if err != nil {
		return nil
	}
	return p
}

func completeJobs(cmd *cobra.Command, toComplete string) []string {
	p := completePlan(cmd)
	if p == nil {
		return nil
	}
	return withPrefix(runtime.JobNames(p), toComplete)
}

func completeRepositories(cmd *cobra.Command, toComplete string) []string {
	p := completePlan(cmd)
	if p == nil {
		return nil
	}
	return withPrefix(runtime.RepositoryNames(p), toComplete)
}

func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// completeFirstJob completes the first argument with job names.
func completeFirstJob(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeJobs(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeFirstRepository completes the first argument with repository
// names; later ones as files.
func completeFirstRepository(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return completeRepositories(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// registerRepoFlagCompletion completes --repo with repository names.
func registerRepoFlagCompletion(cmd *cobra.Command) {
	cmd.RegisterFlagCompletionFunc("repo", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return completeRepositories(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
}

// isRoot says whether bakc runs as root: restic then runs as the backup
// user, and a restore can put owners back.
func isRoot() bool { return os.Geteuid() == 0 }

// resticForRepository is restic on the plan's repository as the units
// start it, after its preflight (runtime.ResticFor); a failure is exit
// code 1.
func resticForRepository(p *plan.Plan, o nodeOptions, repo string, caps []uintptr) (*restic.Restic, error) {
	rs, err := runtime.ResticFor(context.Background(), p, repo, caps, o.runtimeOptions())
	if err != nil {
		return nil, &exitError{code: exitConfig, err: err}
	}
	return rs, nil
}
