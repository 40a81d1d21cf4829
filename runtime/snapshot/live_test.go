package snapshot

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/runtime/namespace"
)

// The runtime's own folders inside a job's datasets stay live (WithLive)
// while everything else is the read-only snapshot: a folder on the
// shown dataset, one in a child dataset (a view of its own), and one on
// a mount that the view would hide (a tmpfs below the dataset, as a
// unit's ReadWritePaths= bind is) are written inside the namespace and
// the writes land in the live folders; a path outside the views or not
// there changes nothing; Release takes the live binds away with the
// views. Both strategies: zfs-fuse clones, and kernel ZFS's direct mounts
// (a double here, see TestDirectSnapshotMountsWithAKernelDouble).
func TestLivePathsInsideTheViews(t *testing.T) {
	for _, strategy := range []string{"probed", "direct-double"} {
		t.Run(strategy, func(t *testing.T) {
			f := newFixture(t, 128<<20, "data", "data/child")
			state, metrics, hidden := f.path("data", "state"), f.path("data", "child", "metrics"), f.path("data", "mnt")
			for _, d := range []string{state, metrics, hidden} {
				require.NoError(t, os.Mkdir(d, 0o755))
			}
			// A tmpfs below the dataset, mounted on the host before the run.
			require.NoError(t, unix.Mount("tmpfs", hidden, "tmpfs", 0, "size=1m"))
			t.Cleanup(func() { unix.Unmount(hidden, unix.MNT_DETACH) })
			writeFile(t, hidden+"/secret", "live tmpfs")
			writeFile(t, f.path("data", "f"), "v1")

			live := []string{state, metrics, hidden + "/secret", f.path("outside"), f.path("data", "no-such-folder")}
			env := []string{liveEnv + "=" + strings.Join(live, ",")}
			if strategy == "direct-double" {
				env = append(env, exposerEnv+"=direct-double")
			}
			job := f.job("live", []string{"data"}, "data")
			r := startRun(t, f, job, env...)
			before := r.ok(t, "mountpoints "+f.path("data"))
			r.ok(t, take(when))
			writeFile(t, f.path("data", "f"), "v2")
			writeFile(t, state+"/before-expose", "live")
			r.ok(t, "expose")

			// The live folders are written inside, and the writes are live.
			for _, p := range []string{state + "/lock", metrics + "/m.prom", hidden + "/new"} {
				r.ok(t, "write "+p+" inside")
				if got := readFile(t, p); got != "inside" {
					t.Errorf("outside, %s = %q, want what the run wrote inside", p, got)
				}
			}
			for p, want := range map[string]string{
				state + "/before-expose": "live",       // written after the snapshot: live, not the snapshot's
				hidden + "/secret":       "live tmpfs", // the hidden mount shown again
			} {
				if got := r.ok(t, "read "+p); got != strconv.Quote(want) {
					t.Errorf("inside, %s = %s, want %q", p, got, want)
				}
			}
			// Everything else is the snapshot, read-only.
			if strategy == "probed" {
				if got := r.ok(t, "read "+f.path("data", "f")); got != strconv.Quote("v1") {
					t.Errorf("inside, f = %s, want the snapshot's v1", got)
				}
			}
			if a := r.do(t, "write "+f.path("data", "other")+" x"); !strings.Contains(a, "read-only file system") {
				t.Errorf("writing next to the live folders: %s, want read-only file system", a)
			}

			r.ok(t, "release")
			if got := r.ok(t, "mountpoints "+f.path("data")); got != before {
				t.Errorf("inside after Release, mounts at and below the dataset: %s, want %s as before", got, before)
			}
			require.Equal(t, 0, r.finish(t))
			assertNothingLeft(t, f)
		})
	}
}

// planLive picks one place per path: the path itself on a shown dataset
// (its child datasets included), the outermost hidden mount on its way
// otherwise; paths inside another place are shown with it; paths under no
// view, and paths that are not there, are left alone.
func TestPlanLive(t *testing.T) {
	root := t.TempDir()
	p := func(rel string) string { return root + "/" + rel }
	for _, d := range []string{"lib/bakc/locks", "lib/child/metrics", "lib/rw/deep/x", "lib/tmp", "other", "lib/real"} {
		require.NoError(t, os.MkdirAll(p(d), 0o755))
	}
	require.NoError(t, os.Symlink(p("other"), p("lib/link")))
	views := []*view{{target: p("lib")}, {target: p("lib/child")}}
	mounts := []namespace.Mount{
		{ID: 1, Parent: 0, Mountpoint: "/"},
		{ID: 2, Parent: 1, Mountpoint: p("lib"), Source: "tank/lib"},
		{ID: 3, Parent: 2, Mountpoint: p("lib/child"), Source: "tank/lib/child"},
		{ID: 4, Parent: 2, Mountpoint: p("lib/rw"), Source: "tmpfs"},      // hidden by the view
		{ID: 5, Parent: 4, Mountpoint: p("lib/rw/deep"), Source: "tmpfs"}, // below a hidden one
	}
	got := planLive([]string{
		p("lib/bakc"), p("lib/bakc/locks"), // one place
		p("lib/child/metrics"),   // in the child view
		p("lib/rw/deep/x"),       // on hidden mounts: the outermost
		p("lib/link"),            // a link out of the views
		p("other"),               // under no view
		p("lib/gone"), "", "rel", // not there, not absolute
	}, views, mounts)
	var places []string
	for _, l := range got {
		places = append(places, strings.TrimPrefix(l.place, root+"/")+"="+strings.Join(trimAll(l.paths, root+"/"), "+"))
	}
	want := []string{"lib/bakc=lib/bakc+lib/bakc/locks", "lib/child/metrics=lib/child/metrics", "lib/rw=lib/rw/deep/x"}
	if diff := cmp.Diff(want, places); diff != "" {
		t.Errorf("places (-want +got):\n%s", diff)
	}
}

func trimAll(s []string, prefix string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.TrimPrefix(x, prefix)
	}
	return out
}
