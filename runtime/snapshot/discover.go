package snapshot

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

// view is one dataset of the Set, shown at its mountpoint by Expose.
type view struct {
	dataset  string // "pool/ds"
	snapshot string // "pool/ds@bakc-job-time"
	target   string // the dataset's mountpoint: where the snapshot is shown

	// What Expose made, so that Release undoes exactly that.
	source    string // what is mounted at target: the snapshot, or the clone
	clone     string // the temporary clone (zfs-fuse), "" for none
	hidden    string // where the zfs-fuse daemon mounts the clone
	cloneMade bool
	mounted   bool
}

// discover finds what Expose will show: every dataset in the Set's
// snapshots that is mounted (as the live system shows it) at, above or
// below one of the job's paths, parents before children.
//
// Where a dataset is mounted comes from this namespace's mountinfo,
// which is what restic would read live: a dataset declared in the plan
// must be mounted where the plan says; a child dataset with a path
// mountpoint counts only when mounted there; one with mountpoint=legacy
// (common on NixOS) where mountinfo shows it; one not mounted, or with
// mountpoint=none, is not shown (its folder in the parent's snapshot is
// what a live read would find too).
func (s *Set) discover(ctx context.Context, job *plan.Job) ([]*view, error) {
	mounts, err := namespace.Mounts()
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	mountedAt := map[string][]string{} // dataset → mountpoints, mount order
	for _, m := range mounts {
		if m.Root == "/" && !strings.Contains(m.Source, "@") {
			mountedAt[m.Source] = append(mountedAt[m.Source], m.Mountpoint)
		}
	}
	declared := map[string]string{}
	for _, d := range job.Datasets {
		declared[d.Name] = d.Mountpoint
	}

	var views []*view
	byTarget := map[string]*view{}
	for _, t := range s.snapshots {
		root, _, _ := strings.Cut(t.name, "@")
		snapTxg, err := s.z.Get(ctx, t.name, "createtxg")
		if err != nil {
			return nil, fmt.Errorf("reading when snapshot %s was taken: %w", t.name, err)
		}
		fss, err := s.z.List(ctx, root, zfs.TypeFilesystem)
		if err != nil {
			return nil, fmt.Errorf("listing datasets below %s: %w", root, err)
		}
		for _, e := range fss {
			in, err := s.inSnapshot(ctx, e, snapTxg)
			if err != nil {
				return nil, err
			}
			if !in {
				s.log.Info("dataset created after the snapshot; not shown", "dataset", e.Name)
				continue
			}
			target, ok, err := resolveMountpoint(e, declared, mountedAt[e.Name])
			if err != nil {
				return nil, err
			}
			if !ok {
				s.log.Debug("dataset not mounted; not shown", "dataset", e.Name, "mountpoint", e.Mountpoint)
				continue
			}
			if !relevant(target, job.Paths) {
				continue
			}
			if other := byTarget[target]; other != nil {
				return nil, fmt.Errorf("datasets %s and %s are both mounted at %s; cannot tell which one the job reads", other.dataset, e.Name, target)
			}
			v := &view{dataset: e.Name, snapshot: e.Name + "@" + s.name, target: target}
			byTarget[target] = v
			views = append(views, v)
		}
	}
	// A path sorts before every path below it.
	sort.Slice(views, func(i, j int) bool { return views[i].target < views[j].target })
	if err := checkTargets(views); err != nil {
		return nil, err
	}
	s.live = planLive(s.livePaths, views, mounts)
	s.warnHidden(views, mounts, job.Paths)
	return views, nil
}

// checkTargets refuses a view over /: the run's processes keep the live
// root (a lookup starts at the process's root, not at what is mounted on
// top of it), so restic would read the live files while the job says it
// reads a snapshot. The compiler rejects such a job ("Snapshot of the
// root dataset"); this catches a plan written by hand.
func checkTargets(views []*view) error {
	for _, v := range views {
		if v.target == "/" {
			return fmt.Errorf("dataset %s is mounted at /, and a snapshot shown over / would not be seen by restic (it keeps the live root): back up the folders from datasets of their own, or use snapshot = \"none\"", v.dataset)
		}
	}
	return nil
}

// inSnapshot reports whether a dataset below a recursive snapshot's root
// is in that snapshot: whether it was created in an earlier transaction
// group than the snapshot (snapTxg, its createtxg). Only a dataset
// created in the same transaction group, or one whose createtxg zfs does
// not give, is looked up by name. Listing the snapshots below the root
// instead would list every snapshot sanoid keeps there, each run.
func (s *Set) inSnapshot(ctx context.Context, e zfs.ListEntry, snapTxg string) (bool, error) {
	txg, err := strconv.ParseUint(snapTxg, 10, 64)
	if err == nil && e.CreateTxg != 0 && e.CreateTxg != txg {
		return e.CreateTxg < txg, nil
	}
	_, err = s.z.Get(ctx, e.Name+"@"+s.name, "createtxg")
	switch {
	case err == nil:
		return true, nil
	case zfs.IsNotExist(err):
		return false, nil
	}
	return false, fmt.Errorf("looking for snapshot %s@%s: %w", e.Name, s.name, err)
}

// resolveMountpoint says where a dataset is shown, and whether at all.
func resolveMountpoint(e zfs.ListEntry, declared map[string]string, mountedAt []string) (string, bool, error) {
	if want, ok := declared[e.Name]; ok {
		for _, mp := range mountedAt {
			if mp == want {
				return want, true, nil
			}
		}
		where := "not mounted"
		if len(mountedAt) > 0 {
			where = "mounted at " + strings.Join(mountedAt, ", ")
		}
		return "", false, fmt.Errorf("dataset %s is %s, but the plan says it is mounted at %s: the job would not read what it snapshots; mount it there or fix the node's zfs.datasets", e.Name, where, want)
	}
	switch {
	case path.IsAbs(e.Mountpoint):
		for _, mp := range mountedAt {
			if mp == e.Mountpoint {
				return mp, true, nil
			}
		}
		return "", false, nil
	case e.Mountpoint == "legacy" && len(mountedAt) > 0:
		// Mounted by fstab or NixOS fileSystems; the latest mount is
		// the one a path lookup finds.
		return mountedAt[len(mountedAt)-1], true, nil
	default: // none, legacy but not mounted
		return "", false, nil
	}
}

// relevant reports whether a dataset mounted at target holds part of the
// job: it is at or below one of the paths, or a path is below it.
func relevant(target string, paths []string) bool {
	for _, p := range paths {
		if within(target, p) || within(p, target) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// warnHidden logs every mount below a view that is not itself a view:
// the snapshot view covers it, so the job reads the snapshot's (empty)
// folder there instead of what is mounted live. Such a mount is not a
// dataset of the job; it is not backed up. A mount that is shown live
// again (WithLive) is not hidden.
func (s *Set) warnHidden(views []*view, mounts []namespace.Mount, paths []string) {
	isView := map[string]bool{}
	for _, v := range views {
		isView[v.target] = true
	}
	for _, m := range mounts {
		if isView[m.Mountpoint] || !relevant(m.Mountpoint, paths) || s.isLivePlace(m.Mountpoint) {
			continue
		}
		for _, v := range views {
			if m.Mountpoint != v.target && within(m.Mountpoint, v.target) {
				s.log.Warn("a mount below a snapshotted dataset is hidden by the snapshot view and not backed up; declare it as a dataset of the node if it is ZFS",
					"mountpoint", m.Mountpoint, "source", m.Source, "fstype", m.FSType, "below", v.target)
				break
			}
		}
	}
}
