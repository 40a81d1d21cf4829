package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// Reaching a URL repository (s3, b2, rest, sftp, azure, gs, swift,
// rclone) within a bound.
//
// restic gives an unreachable server a long time: 0.18.1 retries every
// backend request for up to 15 minutes (cmd/restic/global.go, retry.New
// with 15*time.Minute; a request that gets no answer at all waits 5
// minutes, --stuck-request-timeout, before each retry), and once the
// cloud is gone it does so again for backup, then forget; 0.14 against
// a B2 it cannot resolve had not given up after 20 minutes, and against
// a server that accepts and never answers it waits for ever (its HTTP
// transport has no response timeout). The run — and with it the job's
// other repositories and their metrics — would wait until the unit's
// TimeoutStartSec. So every task's preflight opens each URL repository
// with `restic cat config --no-lock` under a deadline, before any
// snapshot is taken: a repository that does not open in time fails
// alone, with category network, and the run goes on with the others.

// DefaultOpenTimeout bounds the preflight's opening of a URL repository
// (Options.OpenTimeout, `bakc run --open-timeout`). Opening is a handful
// of small requests (the config, the list of keys, a key or a few) and
// restic's key derivation, half a second to a few seconds on a small
// machine: a working server, even a slow one across an ocean, answers in
// seconds. Two minutes leave room for restic's own patience with a
// server that stumbles — a dial that times out (30 s in restic's
// transport), a few retries 1, 2, 4, 8 s apart (restic ≥ 0.17) — and
// cost little against the hours a dead server would otherwise hold the
// run. A link known to be slower can raise it.
const DefaultOpenTimeout = 2 * time.Minute

// openKillAfter is how long restic cat config gets to exit after SIGINT
// at the deadline before it is killed: it holds no lock (--no-lock) and
// has nothing to clean up. restic 0.14 and 0.18.1 both exit at once.
const openKillAfter = 5 * time.Second

// stuckRequestShare is the part of the bound given to restic ≥ 0.17.1
// as --stuck-request-timeout while it opens: a request that got no
// answer for a quarter of the bound is cancelled and retried on a new
// connection, so that one stuck connection does not use up the whole
// bound. Only for the opening, whose requests are all small: the real
// work keeps restic's default (5 minutes), which large listings need.
const stuckRequestShare = 4

// isURLRepository reports whether restic reaches the repository through
// a network backend rather than a folder of this host.
func isURLRepository(repo *plan.Repository) bool {
	return repo.Kind != plan.KindLocal && repo.Kind != plan.KindNFS
}

// unreachableError is a URL repository that did not open within the
// bound.
type unreachableError struct {
	repo  *plan.Repository
	bound time.Duration
	// by is what waited for the server: "restic cat config", or for an
	// sftp repository "ssh" (checkSSH's login, before restic).
	by string
	// last is by's last report of a failure, if any.
	last string
	// exitCode is restic's, after it was stopped; -1 for none.
	exitCode int
}

func (e *unreachableError) Error() string {
	last := e.by + " reported nothing before it was stopped"
	if e.last != "" {
		last = e.by + "'s last report: " + e.last
	}
	return fmt.Sprintf("repository %s (%s) did not open within %v: %s got no answer from its server in time (no network or DNS, or the service is down or does not respond; %s). If the server is only slow, raise --open-timeout ($BAKC_OPEN_TIMEOUT)",
		e.repo.Name, e.repo.URL, e.bound, e.by, last)
}

// openURLRepository opens a URL repository with `restic cat config
// --no-lock` within the run's bound. It returns nil when the repository
// opened, an *unreachableError when the bound ran out first, and
// restic's own error otherwise (no repository there, a wrong password,
// a server that refused: the caller reads its category).
//
// After an sftp repository's login check, the first opening gets what
// is left of the bound that check started (repoRun.openBy); a later one
// (again under the repository's lock) a whole bound.
func openURLRepository(ctx context.Context, o *Options, log *slog.Logger, rr *repoRun) error {
	bound := o.openTimeout()
	deadline := time.Now().Add(bound)
	if !rr.openBy.IsZero() && rr.openBy.Before(deadline) {
		deadline = rr.openBy
	}
	rr.openBy = time.Time{}
	rs := *rr.restic
	rs.KillAfter = openKillAfter
	if v, err := restic.DetectVersion(ctx, rs.Binary); err == nil && v.HasStuckRequestTimeout() {
		rs.StuckRequestTimeout = max(time.Until(deadline)/stuckRequestShare, time.Second)
	}
	octx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	start := time.Now()
	err := rs.CatConfig(octx)
	if err == nil {
		log.Debug("the repository opened", "repository", rr.repo.Name, "seconds", time.Since(start).Seconds())
		return nil
	}
	if ctx.Err() == nil && errors.Is(octx.Err(), context.DeadlineExceeded) {
		ue := &unreachableError{repo: rr.repo, bound: bound, by: "restic cat config", exitCode: -1}
		if re := restic.AsError(err); re != nil {
			ue.last = lastRetryReport(re.Stderr)
			ue.exitCode = re.ExitCode
		}
		return ue
	}
	return err
}

// lastRetryReport is the last line in which restic (0.14 to 0.18) said
// that a request failed and will be retried: "Stat(<config/>) returned
// error, retrying after 1.2s: … request timeout".
func lastRetryReport(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.Contains(l, "returned error, retrying after") {
			return l
		}
	}
	return ""
}

// openFailure is the preflight's failure for a repository that did not
// open within the bound: category network, whatever restic, stopped,
// printed last.
func openFailure(repo string, ue *unreachableError) *Failure {
	f := failure(PhasePreflight, repo, restic.CategoryNetwork, ue)
	f.ResticExitCode = ue.exitCode
	return &f
}
