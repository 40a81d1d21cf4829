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
	r.stableDeviceIDs()
	return nil
}

// stableDeviceIDs has restic leave device numbers out of its trees where
// it can (RESTIC_FEATURES=device-id-for-hardlinks, restic ≥ 0.17, listed
// by `restic features` as an alpha or beta flag). A view is a new mount
// every run, and gets a new device number whenever another mount took the
// last run's; restic records st_dev in every node by default, so every
// directory then gets a new tree blob although nothing changed (15 MB of
// trees for 50,000 files, each such night; docs/performance-runtime.md).
// Its files are still found unmodified either way: restic compares size,
// times and inode, not the device. Hard-linked files keep their device
// number (restic needs it to restore the links). restic 0.14 has no
// such flag and keeps recording it.
func (r *backupRun) stableDeviceIDs() {
	if len(r.repos) == 0 {
		return
	}
	flags, err := r.repos[0].restic.ListFeatures(r.ctx)
	if err != nil {
		r.log.Debug("restic has no feature flags; it records the views' device numbers", "error", err)
		return
	}
	if !restic.Optional(flags[restic.FeatureDeviceIDForHardlinks]) {
		r.log.Debug("restic cannot leave device numbers out", "flag", restic.FeatureDeviceIDForHardlinks, "type", flags[restic.FeatureDeviceIDForHardlinks])
		return
	}
	for _, rr := range r.repos {
		rr.restic.Features = append(rr.restic.Features, restic.FeatureDeviceIDForHardlinks)
	}
	r.log.Debug("restic leaves the views' device numbers out of its trees", "flag", restic.FeatureDeviceIDForHardlinks)
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
