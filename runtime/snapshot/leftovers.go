package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

// CleanLeftovers removes what killed runs of the job left behind: views
// still mounted in this namespace, temporary clones and snapshots, all
// found by their names (bakc-<job>-<UTC time>, clones with "-<n>" after
// it): clones directly below the pools of the job's datasets, snapshots
// of the job's datasets (a leftover recursive snapshot is destroyed with
// its descendants'). Names of other jobs, and names that merely start
// the same way ("bakc-<job>-x-…"), are never touched; a clone is
// destroyed only when its origin is one of the job's snapshots.
//
// It lists each dataset's own snapshots and each pool's top level only,
// not everything below them: on a node whose snapshots sanoid keeps,
// that would be every snapshot of the pool, every run. A snapshot left
// on a dataset the job no longer reads (the plan changed after a killed
// run) is therefore not found; docs/snapshots.md says how to find it.
//
// Call it while holding the job's lock, before Take: a run of the same
// job going on at the same time would lose its snapshots.
func CleanLeftovers(ctx context.Context, z ZFS, job *plan.Job, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("job", job.Name)
	var clones, snaps []zfs.ListEntry
	for _, p := range jobPools(job) {
		entries, err := z.ListChildren(ctx, p, zfs.TypeFilesystem)
		if err != nil {
			return fmt.Errorf("listing pool %s for leftovers of job %s: %w", p, job.Name, err)
		}
		for _, e := range entries {
			if path.Dir(e.Name) == p && isJobCloneName(job.Name, path.Base(e.Name)) {
				clones = append(clones, e)
			}
		}
	}
	for _, d := range job.Datasets {
		entries, err := z.ListChildren(ctx, d.Name, zfs.TypeSnapshot)
		if err != nil {
			if zfs.IsNotExist(err) {
				continue // the dataset is gone; Take will say so
			}
			return fmt.Errorf("listing snapshots of %s for leftovers of job %s: %w", d.Name, job.Name, err)
		}
		for _, e := range entries {
			if ds, snap, ok := strings.Cut(e.Name, "@"); ok && ds == d.Name && isJobSnapshotName(job.Name, snap) {
				snaps = append(snaps, e)
			}
		}
	}
	if len(clones) == 0 && len(snaps) == 0 {
		return nil
	}

	var errs error
	// Views first (this namespace only: a killed run's namespace died
	// with it), deepest first.
	// A clone's own mount (by zfs, at its mountpoint property) is not a
	// view: zfs destroy unmounts it, and would fail if we had.
	names := map[string]string{}
	for _, e := range append(append([]zfs.ListEntry(nil), clones...), snaps...) {
		names[e.Name] = e.Mountpoint
	}
	if err := unmountLeftovers(names, log); err != nil {
		errs = errors.Join(errs, err)
	}
	// Then clones, which hold on to their snapshots.
	for _, c := range clones {
		origin, err := z.Get(ctx, c.Name, "origin")
		if err != nil {
			if !zfs.IsNotExist(err) {
				errs = errors.Join(errs, fmt.Errorf("reading origin of leftover clone %s: %w", c.Name, err))
			}
			continue
		}
		if _, snap, ok := strings.Cut(origin, "@"); !ok || !isJobSnapshotName(job.Name, snap) {
			log.Warn("dataset named like a leftover clone is not a clone of the job's snapshots; left alone", "dataset", c.Name, "origin", origin)
			continue
		}
		if err := z.Destroy(ctx, c.Name, false); err != nil && !zfs.IsNotExist(err) {
			errs = errors.Join(errs, fmt.Errorf("destroying leftover clone %s: %w", c.Name, err))
			continue
		}
		log.Info("leftover clone of a killed run destroyed", "clone", c.Name, "origin", origin)
		if path.IsAbs(c.Mountpoint) && path.Base(c.Mountpoint) == path.Base(c.Name) {
			// The daemon made the folder; only an empty one goes.
			_ = unix.Rmdir(c.Mountpoint)
		}
	}
	// Parents first: a recursive destroy takes the children's with it.
	sort.Slice(snaps, func(i, j int) bool {
		di, dj := strings.Count(snaps[i].Name, "/"), strings.Count(snaps[j].Name, "/")
		return di < dj || di == dj && snaps[i].Name < snaps[j].Name
	})
	for _, s := range snaps {
		if err := z.Destroy(ctx, s.Name, true); err != nil && !zfs.IsNotExist(err) {
			errs = errors.Join(errs, fmt.Errorf("destroying leftover snapshot %s: %w", s.Name, err))
			continue
		}
		log.Info("leftover snapshot of a killed run destroyed", "snapshot", s.Name)
	}
	return errs
}

// jobPools returns the pools of the job's datasets, sorted.
func jobPools(job *plan.Job) []string {
	seen := map[string]bool{}
	var pools []string
	for _, d := range job.Datasets {
		if p := pool(d.Name); p != "" && !seen[p] {
			seen[p] = true
			pools = append(pools, p)
		}
	}
	sort.Strings(pools)
	return pools
}

// unmountLeftovers unmounts, deepest first, every view in this namespace:
// a mount whose source is one of names (a leftover clone or snapshot,
// mapped to its mountpoint property) anywhere but at that mountpoint.
func unmountLeftovers(names map[string]string, log *slog.Logger) error {
	mounts, err := namespace.Mounts()
	if err != nil {
		return err
	}
	var targets []string
	for _, m := range mounts {
		if own, ok := names[m.Source]; ok && m.Mountpoint != own {
			targets = append(targets, m.Mountpoint)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) > len(targets[j]) })
	var errs error
	for _, t := range targets {
		err := unix.Unmount(t, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(t, unix.MNT_DETACH)
		}
		if err != nil && !errors.Is(err, unix.EINVAL) {
			errs = errors.Join(errs, fmt.Errorf("unmounting leftover view at %s: %w", t, err))
			continue
		}
		log.Info("leftover view unmounted", "mountpoint", t)
	}
	return errs
}
