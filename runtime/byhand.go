package runtime

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// A person at the node runs restic on a repository through bakc (`bakc
// restic`, `bakc snapshots`, `bakc restore`, `bakc mount`) without
// putting its URL, password file, environment file, cache and ssh
// command together by hand. ResticFor gives them restic exactly as the
// units start it, from the same function (newRestic), so that what a
// person runs and what the timers run can never drift apart.

// ResticFor returns restic pointed at the plan's repository repoName as
// every task of the runtime starts it: the repository's URL, password
// file and cache, its environment file read as systemd reads
// EnvironmentFile=, the sftp command of its ssh block, and, when bakc
// runs as root, the backup user (who owns the repository; an NFS export
// squashes root) with the ambient capability CAP_DAC_READ_SEARCH, or the
// given caps instead (restic.RestoreCapabilities for a restore).
//
// It first runs the repository's preflight, as verify and prune do:
// password file readable, environment file, ssh, the NFS export mounted
// from where the plan says (an automount is triggered), a local
// repository's disk, the repository there. It never creates one. It
// takes no lock of bakc's: restic's own locks keep a person's restic
// and the units' apart, and a person should not wait hours for a
// prune without being told (restic says so at once).
func ResticFor(ctx context.Context, p *plan.Plan, repoName string, caps []uintptr, o Options) (*restic.Restic, error) {
	repo, ok := p.Repository(repoName)
	if !ok {
		return nil, fmt.Errorf("the plan has no repository %q (repositories: %s)", repoName, strings.Join(RepositoryNames(p), ", "))
	}
	euid := os.Geteuid()
	if o.Euid != nil {
		euid = o.Euid()
	}
	log := o.log().With("repository", repo.Name)
	cred := resticCredential(p, euid)
	rs := newRestic(p, repo, &o, cred, log)
	rs.ProgressFPS = 0 // a person's restic draws its own progress
	if cred != nil {
		rs.Capabilities = caps
	}
	if err := prepareCacheDir(p.Paths.Cache, cred); err != nil {
		return nil, err
	}
	rr := &repoRun{repo: repo, restic: rs, guard: newRepoGuard(p, repo.Name, &o, cred, log)}
	if f := checkRepository(ctx, &o, log, rr, false); f != nil {
		return nil, fmt.Errorf("repository %s: %w", repo.Name, f.Err)
	}
	return rs, nil
}

// RepositoryNames are the plan's repositories' names, in the plan's
// order (sorted).
func RepositoryNames(p *plan.Plan) []string {
	names := make([]string, len(p.Repositories))
	for i, r := range p.Repositories {
		names[i] = r.Name
	}
	return names
}

// JobNames are the plan's jobs' names, in the plan's order (sorted).
func JobNames(p *plan.Plan) []string { return jobNames(p) }

// FormatBytes is a size as the runtime's progress shows it, in binary
// units with one decimal ("1.2 GiB").
func FormatBytes(n uint64) string { return formatBytes(n) }
