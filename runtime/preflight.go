package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// preflight checks what the run needs before it changes anything: the
// job's sources, restic's cache folder, and each repository. A failure of
// the job's own checks stops the run; a repository that fails its checks
// is left out (and reported) while the others are backed up. It returns
// false when nothing is left to back up to.
func (r *backupRun) preflight() bool {
	if err := checkSources(r.job); err != nil {
		r.fail(failure(PhasePreflight, "", restic.CategorySource, err))
		return false
	}
	if err := r.checkSteps(); err != nil {
		r.fail(failure(PhasePreflight, "", restic.CategorySource, err))
		return false
	}
	if err := prepareCacheDir(r.plan.Paths.Cache, r.cred); err != nil {
		r.fail(failure(PhasePreflight, "", restic.CategoryPermission, err))
		return false
	}
	if err := checkResticKnows(r.ctx, r.o.restic(), r.job.ResticNeeds(), r.log); err != nil {
		r.fail(failure(PhasePreflight, "", restic.CategoryUnknown, fmt.Errorf("job %s: %w", r.job.Name, err)))
		return false
	}
	// The repositories are checked side by side: each URL repository
	// may take up to the open bound (reach.go), and a node whose
	// network is down would otherwise wait that long for each cloud in
	// turn. The failures are reported in the job's order.
	failures := make([]*Failure, len(r.repos))
	var wg sync.WaitGroup
	for i, rr := range r.repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failures[i] = checkRepository(r.ctx, r.o, r.log, rr, true)
		}()
	}
	wg.Wait()
	ready := 0
	for i, rr := range r.repos {
		if f := failures[i]; f != nil {
			r.fail(*f)
			continue
		}
		rr.ready = true
		ready++
	}
	return ready > 0
}

// checkSources makes sure every path of the job is there. restic skips a
// missing path with a warning and exits 0 when another path exists, so a
// backup of a job whose disk is not mounted would look complete while
// saving nothing of it; bakc refuses instead.
func checkSources(job *plan.Job) error {
	var errs []error
	for _, p := range job.Paths {
		if _, err := os.Lstat(p); err != nil {
			errs = append(errs, fmt.Errorf("source path %s: %w", p, unwrapPath(err)))
		}
	}
	return errors.Join(errs...)
}

// unwrapPath drops the path from a *PathError, which the caller names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkRepository is one repository's preflight: its password and
// environment files, its mount, and whether it exists (created when
// mayInit and the plan allow it). It reads the environment file into
// rr.restic.Env.
func checkRepository(ctx context.Context, o *Options, log *slog.Logger, rr *repoRun, mayInit bool) *Failure {
	repo := rr.repo
	fail := func(cat restic.Category, err error) *Failure {
		f := failure(PhasePreflight, repo.Name, cat, err)
		return &f
	}
	if err := checkSecretFile("password file", repo.PasswordFile); err != nil {
		return fail(restic.CategoryAuth, err)
	}
	if repo.EnvironmentFile != "" {
		env, err := readEnvironmentFile(repo.EnvironmentFile)
		if err != nil {
			return fail(restic.CategoryAuth, fmt.Errorf("environment file: %w", err))
		}
		rr.restic.Env = env
	}
	if err := checkResticKnows(ctx, rr.restic.Binary, repo.ResticNeeds(), log); err != nil {
		return fail(restic.CategoryUnknown, fmt.Errorf("repository %s: %w", repo.Name, err))
	}
	// The login check is held to the open bound too (reach.go), and
	// reported like restic cat config stopped at it. ssh's own
	// ConnectTimeout (30 s, plan.SSH.Command) ends a silent server's
	// connect and banner exchange (OpenSSH 9.2: "Connection timed out
	// during banner exchange"), but not a server that stalls later.
	rr.openBy = time.Now().Add(o.openTimeout())
	sshCtx, cancel := context.WithDeadline(ctx, rr.openBy)
	cat, err := checkSSH(sshCtx, repo, o, rr.restic.Credential)
	cancel()
	if st := (*sshTimeout)(nil); errors.As(err, &st) && ctx.Err() == nil {
		return openFailure(repo.Name, &unreachableError{repo: repo, bound: o.openTimeout(), by: "ssh", last: st.stderr, exitCode: -1})
	}
	if err != nil {
		return fail(cat, err)
	}
	if repo.Kind == plan.KindNFS {
		if repo.NFS == nil {
			return fail(restic.CategoryStorage, fmt.Errorf("repository %s is of kind nfs but the plan has no NFS mount for it", repo.Name))
		}
		if err := checkNFSMounted(ctx, repo.NFS, repo.URL, o.mounts); err != nil {
			return fail(mountCategory(err), err)
		}
	}
	// The repository's lock file, opened now, before any snapshot view
	// can cover the state folder (repolock.go).
	if err := rr.guard.prepare(); err != nil {
		return fail(restic.CategoryPermission, err)
	}
	if repo.Kind == plan.KindLocal {
		// The disk the plan says the repository is on (localdisk.go).
		if err := checkLocalDisk(ctx, repo); err != nil {
			return fail(mountCategory(err), err)
		}
	}
	return ensureInitialised(ctx, o, log, rr, mayInit && repo.Init)
}

// mountCategory is the category a mount check failed with.
func mountCategory(err error) restic.Category {
	var me *mountError
	if errors.As(err, &me) {
		return me.category
	}
	return restic.CategoryStorage
}

// checkSecretFile makes sure a secret file can be read and is not empty,
// without keeping or logging a byte of it.
func checkSecretFile(what, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	n, err := f.Read(make([]byte, 1))
	if n == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return fmt.Errorf("%s %s is empty", what, path)
		}
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

// ensureInitialised makes sure the repository exists, creating it only
// when the plan says Init: a missing repository is far more often a disk
// or share that is not there than a new one, and initialising then would
// start a second, empty history beside the real one.
//
// A folder repository (local, nfs) is checked by its config file, which
// costs nothing. A URL repository is opened with `restic cat config`
// within a bound (reach.go): that costs restic's key derivation, half a
// second, and it is what keeps a server that does not answer from
// holding the whole run.
//
// Initialisation is serialised per repository: a repository found missing
// is looked at again under the repository's lock, held exclusively when
// this run may create it, and created only if it is still missing. Two
// first runs at once (a new node's timers firing together) would
// otherwise each run restic init, leaving several keys with different
// master keys and one config that only one of them opens. The look
// without the lock is only a shortcut: restic init writes the key first
// and the config last, so a config seen means a finished init.
func ensureInitialised(ctx context.Context, o *Options, log *slog.Logger, rr *repoRun, mayInit bool) *Failure {
	repo := rr.repo
	fail := func(cat restic.Category, err error) *Failure {
		f := failure(PhasePreflight, repo.Name, cat, err)
		return &f
	}
	if exists, f := repositoryExists(ctx, o, log, rr); f != nil || exists {
		return f
	}
	mode := lockShared
	if mayInit {
		mode = lockExclusive
	}
	lock, err := rr.lock(ctx, mode)
	if err != nil {
		return fail(restic.CategoryLock, err)
	}
	defer lock.release()
	if exists, f := repositoryExists(ctx, o, log, rr); f != nil || exists {
		if exists {
			log.Info("the repository was initialised by another run meanwhile", "repository", repo.Name)
		}
		return f
	}
	if !mayInit && repo.Init {
		return fail(restic.CategoryStorage, fmt.Errorf(
			"there is no restic repository at %s, and only a backup creates one (init = true), not verify, prune or a restore test: if the disk or share is simply not there, mount it; if the repository is new, run a backup first",
			repo.URL))
	}
	if !mayInit {
		return fail(restic.CategoryStorage, fmt.Errorf(
			"there is no restic repository at %s, and the plan does not allow creating one (init = false): if the disk or share is simply not there, mount it; if the repository is new, set init = true or run restic init",
			repo.URL))
	}
	// Never on the root file system by mistake (localdisk.go).
	if err := checkInitTarget(repo); err != nil {
		return fail(restic.CategoryStorage, err)
	}
	log.Info("initialising the repository, as the plan allows", "repository", repo.Name, "url", repo.URL)
	if err := rr.restic.Init(ctx); err != nil {
		// err is restic's own: "restic init: exit code 1: …".
		return fail(restic.CategoryUnknown, err)
	}
	return nil
}

// repositoryExists looks for the repository as ensureInitialised says:
// true when it is there (or when bakc leaves it to restic to tell), false
// when it is missing.
func repositoryExists(ctx context.Context, o *Options, log *slog.Logger, rr *repoRun) (bool, *Failure) {
	repo := rr.repo
	fail := func(cat restic.Category, err error) *Failure {
		f := failure(PhasePreflight, repo.Name, cat, err)
		return &f
	}
	switch {
	case !isURLRepository(repo):
		_, err := os.Stat(filepath.Join(repo.URL, "config"))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, os.ErrPermission):
			// NFS with root_squash: root may not look inside; restic,
			// as the backup user, will tell.
			log.Debug("cannot look for the repository's config file; restic will", "repository", repo.Name, "error", err)
			return true, nil
		case !errors.Is(err, os.ErrNotExist):
			return false, fail(restic.CategoryStorage, fmt.Errorf("repository %s: %w", repo.URL, err))
		}
		return false, nil
	default:
		err := openURLRepository(ctx, o, log, rr)
		if err == nil {
			return true, nil
		}
		var ue *unreachableError
		if errors.As(err, &ue) {
			return false, openFailure(repo.Name, ue)
		}
		re := restic.AsError(err)
		if re == nil {
			return false, fail(restic.CategoryUnknown, err)
		}
		if re.Category() != restic.CategoryStorage {
			// restic failed by itself within the bound: a name that
			// does not resolve, a refused connection, a wrong
			// password; its own words and category.
			return false, fail(re.Category(), err)
		}
		return false, nil
	}
}
