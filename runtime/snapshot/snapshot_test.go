package snapshot

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/zfs"
)

// The heart of it: a file changed after Take is read, inside the run's
// namespace, as it was at Take, at its original path, children included;
// the host sees only the live files and none of the views; Release
// leaves nothing anywhere.
func TestPointInTimeAtOriginalPaths(t *testing.T) {
	f := newFixture(t, 128<<20,
		"data", "data/child", "data/child/deep",
		"data/off=none",            // not mounted: not shown
		"data/elsewhere=elsewhere", // mounted outside the job's paths: not shown
	)
	writeFile(t, f.path("data", "f"), "v1")
	writeFile(t, f.path("data", "child", "g"), "c1")
	writeFile(t, f.path("data", "child", "deep", "h"), "d1")
	job := f.job("pit", []string{"data"}, "data")
	r := startRun(t, f, job)

	snaps := r.ok(t, take(when))
	if want := f.pool + "/data@bakc-pit-20261126T020000Z"; snaps != want {
		t.Errorf("Snapshots() = %q, want %q", snaps, want)
	}
	// Changed after the snapshot, before restic would read.
	writeFile(t, f.path("data", "f"), "v2")
	writeFile(t, f.path("data", "child", "g"), "c2")
	writeFile(t, f.path("data", "child", "deep", "h"), "d2")

	shown := r.ok(t, "expose")
	want := strings.Join([]string{f.path("data"), f.path("data", "child"), f.path("data", "child", "deep")}, ",")
	if shown != want {
		t.Errorf("Mountpoints() = %s, want %s (parents first; not the unmounted or unrelated ones)", shown, want)
	}
	for path, old := range map[string]string{
		f.path("data", "f"):                  "v1",
		f.path("data", "child", "g"):         "c1",
		f.path("data", "child", "deep", "h"): "d1",
	} {
		if got := r.ok(t, "read "+path); got != strconv.Quote(old) {
			t.Errorf("inside, %s = %s, want the snapshot's %q", path, got, old)
		}
	}
	for _, mp := range []string{f.path("data"), f.path("data", "child"), f.path("data", "child", "deep")} {
		top := strings.Fields(r.ok(t, "top "+mp))
		if len(top) != 2 || !strings.Contains(top[0], "bakc-pit-20261126T020000Z") || top[1] != "true" {
			t.Errorf("inside, the mount at %s is %v, want a read-only view of the snapshot", mp, top)
		}
	}
	if a := r.do(t, "write "+f.path("data", "new")+" x"); !strings.Contains(a, "read-only file system") {
		t.Errorf("writing into a view: %s, want read-only file system", a)
	}

	// Outside: the live files, no view.
	for path, now := range map[string]string{
		f.path("data", "f"): "v2", f.path("data", "child", "g"): "c2", f.path("data", "child", "deep", "h"): "d2",
	} {
		if got := readFile(t, path); got != now {
			t.Errorf("outside, %s = %q, want the live %q", path, got, now)
		}
	}
	hostTop, ok, err := topMount(f.path("data"))
	require.NoError(t, err)
	if !ok || hostTop.Source != f.pool+"/data" {
		t.Errorf("outside, the mount at %s is %+v, want the dataset itself", f.path("data"), hostTop)
	}

	r.ok(t, "release")
	r.ok(t, "release") // idempotent
	if got := r.ok(t, "views"); got != "" {
		t.Errorf("inside, views left after Release: %s", got)
	}
	if got := r.ok(t, "read "+f.path("data", "f")); got != strconv.Quote("v2") {
		t.Errorf("inside after Release, f = %s, want the live v2", got)
	}
	require.Equal(t, 0, r.finish(t))
	assertNothingLeft(t, f)
}

// Two datasets of the job in different branches (and one below another,
// which its parent's recursive snapshot covers): one snapshot per branch.
func TestOneRecursiveSnapshotPerBranch(t *testing.T) {
	f := newFixture(t, 128<<20, "home", "home/alice", "persist")
	job := f.job("branches", []string{"home", "persist"}, "home", "home/alice", "persist")
	r := startRun(t, f, job)
	got := strings.Split(r.ok(t, take(when)), ",")
	want := []string{f.pool + "/home@bakc-branches-20261126T020000Z", f.pool + "/persist@bakc-branches-20261126T020000Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshots() (-want +got):\n%s", diff)
	}
	if list := zfsOut(t, "list", "-H", "-o", "name", "-t", "snapshot", "-r", f.pool); !strings.Contains(list, f.pool+"/home/alice@bakc-branches-") {
		t.Errorf("the child dataset has no snapshot:\n%s", list)
	}
	r.ok(t, "expose")
	r.ok(t, "release")
	require.Equal(t, 0, r.finish(t))
	assertNothingLeft(t, f)
}

// A run killed with its snapshots taken and shown leaves them behind;
// the next run's CleanLeftovers removes them, and the next run's Enter the
// share folder of the killed one.
func TestLeftoversOfAKilledRunAreCleaned(t *testing.T) {
	f := newFixture(t, 128<<20, "data", "data/child")
	writeFile(t, f.path("data", "f"), "v1")
	job := f.job("killed", []string{"data"}, "data")

	r := startRun(t, f, job)
	pid, err := strconv.Atoi(r.ok(t, "pid"))
	require.NoError(t, err)
	r.ok(t, take(when))
	r.ok(t, "expose")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	if code := r.finish(t); code != 128+int(syscall.SIGKILL) {
		t.Errorf("killed run: exit code %d, want %d", code, 128+int(syscall.SIGKILL))
	}
	list := zfsOut(t, "list", "-H", "-o", "name", "-t", "filesystem,snapshot", "-r", f.pool)
	if !strings.Contains(list, "@bakc-killed-") || (onFuse(t) && !strings.Contains(list, "/bakc-killed-")) {
		t.Fatalf("the killed run should have left its snapshots (and, on zfs-fuse, clones):\n%s", list)
	}

	next := startRun(t, f, job)
	next.ok(t, "clean")
	// The next run works normally afterwards, in the same second even.
	next.ok(t, take(when))
	next.ok(t, "expose")
	if got := next.ok(t, "read "+f.path("data", "f")); got != strconv.Quote("v1") {
		t.Errorf("after cleaning, f = %s", got)
	}
	next.ok(t, "release")
	require.Equal(t, 0, next.finish(t))
	// The killed run's share folder: its clones' mounts kept it until
	// the clean; the parent removes it when its child is done.
	assertNothingLeft(t, f)
}

// Whatever fails half-way, nothing stays behind: Take cleans up after
// itself, Expose takes its views back, Release does the rest.
func TestFailuresHalfWayLeaveNothing(t *testing.T) {
	tests := []struct {
		name      string
		fault     string
		failsWith string // the step that fails: take or expose
	}{
		{"second snapshot fails", "snapshot:2", "take"},
		{"listing fails after the snapshots", "list:1", "take"},
		{"second clone fails", "clone:2", "expose"},
		{"clone made but zfs errs", "clone-after:2", "expose"},
		{"first clone fails", "clone:1", "expose"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.fault, "clone") && !onFuse(t) {
				t.Skip("kernel ZFS mounts snapshots directly: no clones to fail")
			}
			f := newFixture(t, 128<<20, "a", "a/child", "b")
			job := f.job("half", []string{"a", "b"}, "a", "b")
			r := startRun(t, f, job, faultEnv+"="+tt.fault)
			steps := []string{take(when), "expose"}
			for _, step := range steps {
				a := r.do(t, step)
				failed := strings.HasPrefix(a, "err")
				if failed != strings.HasPrefix(step, tt.failsWith) {
					t.Fatalf("%s: %s (want failure in %s)", step, a, tt.failsWith)
				}
				if failed {
					if !strings.Contains(a, errInjected.Error()) {
						t.Errorf("%s: %s, want the injected failure", step, a)
					}
					break
				}
			}
			if tt.failsWith == "take" {
				// No Set to release: Take must have cleaned up alone.
				if got := r.ok(t, "views"); got != "" {
					t.Errorf("views after a failed Take: %s", got)
				}
			} else {
				if got := r.ok(t, "views"); got != "" {
					t.Errorf("views left after a failed Expose: %s", got)
				}
				r.ok(t, "release")
			}
			require.Equal(t, 0, r.finish(t))
			assertNothingLeft(t, f)
		})
	}
}

// A full pool: zfs-fuse refuses the snapshot ("out of space"), or, when
// the pool fills between Take and Expose, the clone. Either way the run
// fails and leaves nothing.
func TestPoolFull(t *testing.T) {
	fill := func(t *testing.T, f *fixture) {
		// Most of the space goes to a reservation at once; zeros (the
		// test pool does not compress) fill the rest.
		avail, err := strconv.ParseInt(strings.TrimSpace(zfsOut(t, "get", "-Hp", "-o", "value", "available", f.pool)), 10, 64)
		require.NoError(t, err)
		if avail > 4<<20 {
			zfsOut(t, "create", "-o", "mountpoint=none", "-o", "reservation="+strconv.FormatInt(avail-(2<<20), 10), f.pool+"/reserved")
		}
		data := make([]byte, 1<<20)
		for i := 0; ; i++ {
			if err := appendFile(f.path("data", "fill"), data); err != nil {
				return
			}
			require.Less(t, i, 200, "the 64 MiB pool never filled")
		}
	}
	t.Run("before Take", func(t *testing.T) {
		f := newFixture(t, 64<<20, "data")
		fill(t, f)
		r := startRun(t, f, f.job("full", []string{"data"}, "data"))
		a := r.do(t, take(when))
		switch {
		case onFuse(t):
			if !strings.Contains(a, "out of space") {
				t.Errorf("take on a full pool: %s, want out of space", a)
			}
		case strings.HasPrefix(a, "ok"):
			// OpenZFS keeps slop space for snapshots: the run goes on.
			r.ok(t, "expose")
			r.ok(t, "release")
		}
		require.Equal(t, 0, r.finish(t))
		assertNothingLeft(t, f)
	})
	t.Run("between Take and Expose", func(t *testing.T) {
		if !onFuse(t) {
			t.Skip("kernel ZFS mounts snapshots directly: nothing to allocate")
		}
		f := newFixture(t, 64<<20, "data")
		r := startRun(t, f, f.job("full", []string{"data"}, "data"))
		r.ok(t, take(when))
		fill(t, f)
		if a := r.do(t, "expose"); !strings.Contains(a, "out of space") {
			t.Errorf("expose on a full pool: %s, want out of space", a)
		}
		r.ok(t, "release")
		require.Equal(t, 0, r.finish(t))
		assertNothingLeft(t, f)
	})
}

// Two runs in the same second: the second's snapshot name is taken. It
// fails, and destroys neither the other run's snapshot nor leaves its own.
func TestNameCollisionDestroysNothingOfOthers(t *testing.T) {
	f := newFixture(t, 128<<20, "a", "b")
	job := f.job("same", []string{"a", "b"}, "a", "b")
	// "Someone else's" snapshot of the second dataset, same name.
	other := f.pool + "/b@" + Name("same", when)
	zfsOut(t, "snapshot", other)

	r := startRun(t, f, job)
	a := r.do(t, take(when))
	if !strings.Contains(a, "exists already") {
		t.Errorf("take: %s, want the name collision reported", a)
	}
	require.Equal(t, 0, r.finish(t))
	list := zfsOut(t, "list", "-H", "-o", "name", "-t", "snapshot", "-r", f.pool)
	if got := strings.TrimSpace(list); got != other {
		t.Errorf("snapshots after the collision: %q, want only the other run's %q", got, other)
	}
}

// CleanLeftovers takes exactly the job's leftovers: not another job's,
// not a job whose name starts the same, not a dataset that only looks
// like a clone.
func TestCleanLeftoversTouchesOnlyTheJob(t *testing.T) {
	f := newFixture(t, 128<<20, "data", "data/child")
	ctx := context.Background()
	ts := "20261126T020000Z"
	// A leftover recursive snapshot: the child's goes with the parent's.
	mine := []string{f.pool + "/data@bakc-job-" + ts}
	zfsOut(t, "snapshot", "-r", mine[0])
	others := []string{
		f.pool + "/data@bakc-other-" + ts,
		f.pool + "/data@bakc-job-x-" + ts, // job "job-x"
		f.pool + "/data@bakc-job-" + ts + "-manual",
		f.pool + "/data@manual",
		f.pool + "/data/child@bakc-other-" + ts,
	}
	for _, s := range others {
		zfsOut(t, "snapshot", s)
	}
	// Named like a clone, but a plain dataset: left alone.
	zfsOut(t, "create", "-o", "mountpoint=none", f.pool+"/bakc-job-"+ts+"-0")
	// A real leftover clone of the job's snapshot.
	zfsOut(t, "clone", "-o", "mountpoint=none", mine[0], f.pool+"/bakc-job-"+ts+"-1")

	job := f.job("job", []string{"data"}, "data")
	require.NoError(t, CleanLeftovers(ctx, zfs.New(nil), job, nil))

	got := strings.Fields(zfsOut(t, "list", "-H", "-o", "name", "-t", "filesystem,snapshot", "-r", f.pool))
	want := append([]string{f.pool, f.pool + "/bakc-job-" + ts + "-0", f.pool + "/data", f.pool + "/data/child"}, others...)
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("after CleanLeftovers (-want +got):\n%s", diff)
	}
	// Nothing to do is not an error.
	require.NoError(t, CleanLeftovers(ctx, zfs.New(nil), job, nil))
}

// Mounting over a dataset's path outside a private namespace would show
// the snapshot to the whole host: Expose refuses, and Release still
// cleans up.
func TestExposeRefusesOutsideAPrivateNamespace(t *testing.T) {
	f := newFixture(t, 128<<20, "data")
	ctx := context.Background()
	set, err := Take(ctx, zfs.New(nil), f.job("host", []string{"data"}, "data"), when, nil)
	require.NoError(t, err)
	err = set.Expose(ctx)
	if err == nil || !strings.Contains(err.Error(), "private mount namespace") {
		t.Errorf("Expose in the host namespace: %v, want a refusal", err)
	}
	require.NoError(t, set.Release(ctx))
	assertNothingLeft(t, f)
}

// Release runs even when the run's context is cancelled (SIGTERM is when
// cleanup matters most).
func TestReleaseWithACancelledContext(t *testing.T) {
	f := newFixture(t, 128<<20, "data")
	ctx, cancel := context.WithCancel(context.Background())
	set, err := Take(ctx, zfs.New(nil), f.job("cancel", []string{"data"}, "data"), when, nil)
	require.NoError(t, err)
	cancel()
	require.NoError(t, set.Release(ctx))
	assertNothingLeft(t, f)
}

// Kernel ZFS mounts a snapshot directly (mount -t zfs pool/ds@snap); this
// machine has no kernel ZFS, so mount(2) is a DOUBLE here (mountDouble),
// which records the calls. The snapshots are real (zfs-fuse); what is
// proven is the strategy's use: which snapshots, where, in which order,
// read-only, no clones, everything released. The real mount needs a real
// host (docs/snapshots.md).
func TestDirectSnapshotMountsWithAKernelDouble(t *testing.T) {
	f := newFixture(t, 128<<20, "data", "data/child")
	job := f.job("direct", []string{"data"}, "data")
	r := startRun(t, f, job, exposerEnv+"=direct-double")
	r.ok(t, take(when))
	r.ok(t, "expose")
	name := Name("direct", when)
	want := []string{
		f.pool + "/data@" + name + ">" + f.path("data") + ":zfs:ro=true:nosuid=true:nodev=true",
		f.pool + "/data/child@" + name + ">" + f.path("data", "child") + ":zfs:ro=true:nosuid=true:nodev=true",
	}
	if diff := cmp.Diff(want, strings.Split(r.ok(t, "double-calls"), ",")); diff != "" {
		t.Errorf("mount calls (-want +got):\n%s", diff)
	}
	if list := zfsOut(t, "list", "-H", "-o", "name", "-t", "filesystem", "-r", f.pool); strings.Contains(list, "bakc-") {
		t.Errorf("the direct strategy made a clone:\n%s", list)
	}
	r.ok(t, "release")
	if got := r.ok(t, "views"); got != "" {
		t.Errorf("views left after Release: %s", got)
	}
	require.Equal(t, 0, r.finish(t))
	assertNothingLeft(t, f)
}

func TestProbeOnThisMachine(t *testing.T) {
	newFixture(t, 64<<20) // ZFS is there
	e, err := probeExposer()
	require.NoError(t, err)
	fs, err := os.ReadFile("/proc/filesystems")
	require.NoError(t, err)
	_, direct := e.(directMounts)
	if direct != kernelZFS(string(fs)) {
		t.Errorf("probe chose %s; kernel ZFS loaded: %v", e.kind(), kernelZFS(string(fs)))
	}
}

// onFuse reports whether this machine shows snapshots through zfs-fuse
// clones (the probe's choice).
func onFuse(t *testing.T) bool {
	t.Helper()
	e, err := probeExposer()
	require.NoError(t, err)
	_, ok := e.(fuseClones)
	return ok
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// appendFile appends data to a file, creating it.
func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// A dataset created below the job's dataset between the snapshot and the
// listing (by someone else, at that moment) is not in the snapshot: it
// is not shown, and the run goes on. Take decides by createtxg, without
// listing every snapshot of the pool; the race is made here by creating
// the dataset right after zfs snapshot returns.
func TestDatasetCreatedAfterTheSnapshotIsNotShown(t *testing.T) {
	f := newFixture(t, 128<<20, "data", "data/child")
	job := f.job("race", []string{"data"}, "data")
	r := startRun(t, f, job, createAfterEnv+"="+f.pool+"/data/later")
	r.ok(t, take(when))
	shown := r.ok(t, "expose")
	if want := f.path("data") + "," + f.path("data", "child"); shown != want {
		t.Errorf("Mountpoints() = %s, want %s (not the dataset made after the snapshot)", shown, want)
	}
	r.ok(t, "release")
	require.Equal(t, 0, r.finish(t))
	assertNothingLeft(t, f)
}
