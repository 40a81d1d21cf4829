// Package snapshot takes a job's ZFS snapshots and shows them, read-only,
// at the datasets' original mountpoints inside the run's private mount
// namespace, so that restic reads a consistent point in time and records
// the paths a user knows (/home, not /mnt/…/.zfs/snapshot/…): restic then
// finds its parent snapshot, forget groups by path work, and
// `restic restore --path /home/x` matches.
//
// A run does, in this order (see docs/snapshots.md):
//
//	snapshot.CleanLeftovers(ctx, z, job, log) // what a killed run left
//	set, err := snapshot.Take(ctx, z, job, now, log)
//	defer set.Release(ctx)                    // always; idempotent
//	err = set.Expose(ctx)                     // in the private namespace
//	… restic backup …
//
// Everything this package makes is named after the job and the time
// (Name), so that CleanLeftovers can find it after a crash and never
// touches anything else; and everything it makes is recorded in the Set,
// so that Release undoes exactly that, also after a Take or Expose that
// failed half-way, and never destroys a snapshot someone else made under
// the same name.
package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

// ZFS is what this package needs of zfs(8). *zfs.Runner implements it;
// tests wrap it to inject failures.
type ZFS interface {
	// Snapshot creates name ("ds@snap"), with recursive for every
	// descendant too, atomically.
	Snapshot(ctx context.Context, name string, recursive bool) error
	// Clone creates clone from snapshot with the given properties.
	Clone(ctx context.Context, snapshot, clone string, props map[string]string) error
	// Destroy destroys a dataset or snapshot (recursive: the same
	// snapshot of every descendant), retrying "dataset is busy" briefly.
	Destroy(ctx context.Context, name string, recursive bool) error
	// List returns root and what is below it of the given types
	// ("filesystem", "snapshot", "all"), with mountpoints and createtxg.
	List(ctx context.Context, root, types string) ([]zfs.ListEntry, error)
	// ListChildren is List of root and what is directly below it: its
	// child datasets, or root's own snapshots (not its descendants').
	ListChildren(ctx context.Context, root, types string) ([]zfs.ListEntry, error)
	// Get returns one property's value.
	Get(ctx context.Context, name, property string) (string, error)
}

var _ ZFS = (*zfs.Runner)(nil)

// timeLayout is the UTC time in snapshot names: sortable, no colons.
const timeLayout = "20060102T150405Z"

// Name returns the snapshot name of a job's run at t:
// "bakc-<job>-<UTC time>", e.g. "bakc-system-20261126T020000Z".
func Name(job string, t time.Time) string {
	return "bakc-" + job + "-" + t.UTC().Format(timeLayout)
}

// timeRE matches the time part of a Name, and of a clone name after it.
var (
	snapTimeRE  = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
	cloneTimeRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9]+$`)
)

// isJobSnapshotName reports whether snap (the part after '@') is a Name
// of this job. The time must follow the job name exactly, so that job
// "a" never claims job "a-b"'s snapshots.
func isJobSnapshotName(job, snap string) bool {
	rest, ok := strings.CutPrefix(snap, "bakc-"+job+"-")
	return ok && snapTimeRE.MatchString(rest)
}

// isJobCloneName reports whether a dataset's last component is a clone
// name this package gives for the job: Name + "-<n>".
func isJobCloneName(job, last string) bool {
	rest, ok := strings.CutPrefix(last, "bakc-"+job+"-")
	return ok && cloneTimeRE.MatchString(rest)
}

// DefaultCloneDir is where zfs-fuse clones are mounted when the run's
// namespace has no ShareDir (namespace.ShareDir) and no WithCloneDir.
const DefaultCloneDir = "/run/bakc/clones"

// Option changes how Take and Expose work.
type Option func(*Set)

// WithCloneDir sets the folder below which the zfs-fuse daemon mounts the
// temporary clones (in its own namespace, visible to the whole host).
// The default is namespace.ShareDir(), or DefaultCloneDir without one.
func WithCloneDir(dir string) Option { return func(s *Set) { s.cloneDir = dir } }

// Set is one run's snapshots of a job's datasets, and their views. Its
// methods are not safe for concurrent use.
type Set struct {
	job  string
	name string
	log  *slog.Logger
	z    ZFS

	// snapshots are the recursive snapshots this Set created ("ds@snap"),
	// in creation order. Only these are ever destroyed.
	snapshots []*taken
	// views are the datasets to show, parents before children.
	views []*view
	// livePaths are what WithLive asked for; live, the places Expose
	// shows live again on top of the views (planLive).
	livePaths []string
	live      []*live

	cloneDir string
	// exposer is chosen on the first Expose (probe); tests set it.
	exposer exposer
	// isolated says whether mounting here is safe; tests set it.
	isolated func() bool
	exposed  bool
}

// taken is a recursive snapshot this Set created.
type taken struct {
	name      string // "pool/ds@bakc-job-time"
	destroyed bool
}

// Name returns the snapshot name shared by every snapshot of the Set.
func (s *Set) Name() string { return s.name }

// Snapshots returns the recursive snapshots the Set created (one per
// top dataset; each covers the datasets below it), for logs and metrics.
func (s *Set) Snapshots() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, t := range s.snapshots {
		out = append(out, t.name)
	}
	return out
}

// Mountpoints returns the paths the Set shows (or will show) snapshot
// content at, parents first.
func (s *Set) Mountpoints() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, v := range s.views {
		out = append(out, v.target)
	}
	return out
}

// Take makes one recursive snapshot per dataset of job.Datasets (a
// dataset below another of the list is already in that one's snapshot),
// named Name(job.Name, now), and finds every dataset the snapshots hold
// that is mounted at or below or above one of the job's paths, with its
// mountpoint: what Expose will show.
//
// On error nothing Take made is left (what it created is destroyed) and
// the Set is nil. A snapshot of that name that exists already (another
// run in the same second) fails Take and is left alone.
func Take(ctx context.Context, z ZFS, job *plan.Job, now time.Time, log *slog.Logger, opts ...Option) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if job.Snapshot != plan.SnapshotZFS {
		return nil, fmt.Errorf("job %s: snapshot is %q, not %q", job.Name, job.Snapshot, plan.SnapshotZFS)
	}
	if len(job.Datasets) == 0 {
		return nil, fmt.Errorf("job %s: snapshot = %q but the plan names no datasets", job.Name, plan.SnapshotZFS)
	}
	s := &Set{
		job:      job.Name,
		name:     Name(job.Name, now),
		log:      log.With("job", job.Name, "snapshot", Name(job.Name, now)),
		z:        z,
		cloneDir: namespace.ShareDir(),
		isolated: namespace.Isolated,
	}
	if s.cloneDir == "" {
		s.cloneDir = DefaultCloneDir
	}
	for _, opt := range opts {
		opt(s)
	}
	for _, root := range snapshotRoots(job.Datasets) {
		snap := root + "@" + s.name
		if err := z.Snapshot(ctx, snap, true); err != nil {
			if zfs.IsExist(err) {
				err = fmt.Errorf("snapshot %s exists already (another run of job %s in the same second?); it is left alone: %w", snap, job.Name, err)
			}
			return nil, s.failTake(ctx, fmt.Errorf("taking snapshot: %w", err))
		}
		s.snapshots = append(s.snapshots, &taken{name: snap})
		s.log.Info("snapshot taken", "name", snap)
	}
	views, err := s.discover(ctx, job)
	if err != nil {
		return nil, s.failTake(ctx, err)
	}
	s.views = views
	return s, nil
}

// failTake releases what a failed Take made and returns its error, with
// the cleanup's own failure joined.
func (s *Set) failTake(ctx context.Context, err error) error {
	if rerr := s.Release(ctx); rerr != nil {
		return fmt.Errorf("%w; and cleaning up: %v", err, rerr)
	}
	return err
}

// snapshotRoots returns the names of the datasets to snapshot
// recursively: every dataset of the list that is not below another.
func snapshotRoots(ds []plan.Dataset) []string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	var roots []string
next:
	for _, n := range names {
		for _, r := range roots {
			if n == r || strings.HasPrefix(n, r+"/") {
				continue next
			}
		}
		roots = append(roots, n)
	}
	return roots
}

// pool returns the pool of a dataset or snapshot name.
func pool(name string) string {
	name, _, _ = strings.Cut(name, "@")
	p, _, _ := strings.Cut(name, "/")
	return p
}
