package runtime

import (
	"fmt"

	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/snapshot"
)

// takeSnapshot freezes the job's datasets and shows the snapshots at
// their original paths in this run's private mount namespace, so that
// restic reads one point in time and records /home, not a clone's path;
// the paths the run and restic use below them stay live (livePaths).
// The Set is kept even when this fails half-way: releaseSnapshot undoes
// whatever was made.
func (r *backupRun) takeSnapshot() error {
	set, err := snapshot.Take(r.ctx, r.zfs(), r.job, r.start, r.base, snapshot.WithLive(r.livePaths()...))
	if err != nil {
		return err
	}
	r.set = set
	if err := set.Expose(r.ctx); err != nil {
		return err
	}
	r.log.Info("snapshot shown at the original paths", "snapshot", set.Name(), "mountpoints", set.Mountpoints())
	return nil
}

// releaseSnapshot unmounts and destroys what takeSnapshot made; it runs
// on every way out of the run, SIGTERM included (Release is bounded and
// ignores the run's cancellation).
func (r *backupRun) releaseSnapshot() {
	if r.set == nil {
		return
	}
	r.prog.phase("releasing ZFS snapshots")
	if err := r.set.Release(r.ctx); err != nil {
		r.fail(failure(PhaseRelease, "", restic.CategorySnapshot, fmt.Errorf("releasing snapshot %s: %w", r.set.Name(), err)))
		return
	}
	r.log.Info("snapshots released", "snapshots", r.set.Snapshots())
}
