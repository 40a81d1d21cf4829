package snapshot

// The test binary plays `bakc run backup`: started with runEnv set,
// TestMain enters a private mount namespace with namespace.Enter, like the
// runtime does, and then obeys one command per line on stdin, answering
// one line on stdout ("ok …" or "err …"). The test, outside, drives it
// and checks what the host sees between the steps.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/namespace"
	"github.com/holthome/bakc/zfs"
)

const (
	runEnv       = "BAKC_SNAPSHOT_TEST_RUN" // the job, as JSON
	shareRootEnv = "BAKC_SNAPSHOT_TEST_SHARE_ROOT"
	faultEnv     = "BAKC_SNAPSHOT_TEST_FAULT" // op:n, see faultyZFS
	exposerEnv   = "BAKC_SNAPSHOT_TEST_EXPOSER"
	liveEnv      = "BAKC_SNAPSHOT_TEST_LIVE" // WithLive's paths, comma-separated
	// createAfterEnv names a dataset to create right after the first
	// zfs snapshot: someone else's dataset, made at that moment.
	createAfterEnv = "BAKC_SNAPSHOT_TEST_CREATE_AFTER"
)

func TestMain(m *testing.M) {
	if j := os.Getenv(runEnv); j != "" {
		os.Exit(runChild(j))
	}
	os.Exit(m.Run())
}

func runChild(jobJSON string) int {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	inChild, code, err := namespace.Enter(ctx, namespace.WithShareRoot(os.Getenv(shareRootEnv)), namespace.WithLogger(log))
	if err != nil {
		fmt.Println("err enter:", err)
		return 99
	}
	if !inChild {
		return code
	}
	var job plan.Job
	if err := json.Unmarshal([]byte(jobJSON), &job); err != nil {
		fmt.Println("err job:", err)
		return 98
	}
	var z ZFS = zfs.New(log)
	if f := os.Getenv(faultEnv); f != "" || os.Getenv(createAfterEnv) != "" {
		fz := newFaultyZFS(z, f)
		fz.createAfter = os.Getenv(createAfterEnv)
		z = fz
	}
	var set *Set
	var double *mountDouble
	reply := func(err error, okText ...string) {
		if err != nil {
			fmt.Println("err", strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		fmt.Println(strings.TrimSpace("ok " + strings.Join(okText, " ")))
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch f[0] {
		case "pid":
			reply(nil, strconv.Itoa(os.Getpid()))
		case "clean":
			reply(CleanLeftovers(ctx, z, &job, log))
		case "take":
			now, _ := time.Parse(time.RFC3339, f[1])
			var err error
			var opts []Option
			if l := os.Getenv(liveEnv); l != "" {
				opts = append(opts, WithLive(strings.Split(l, ",")...))
			}
			set, err = Take(ctx, z, &job, now, log, opts...)
			if err == nil && os.Getenv(exposerEnv) == "direct-double" {
				double = &mountDouble{}
				set.exposer = directMounts{mount: double.mount}
			}
			reply(err, strings.Join(set.Snapshots(), ","))
		case "expose":
			reply(set.Expose(ctx), strings.Join(set.Mountpoints(), ","))
		case "release":
			reply(set.Release(ctx))
		case "read":
			data, err := os.ReadFile(f[1])
			reply(err, strconv.Quote(string(data)))
		case "write":
			reply(os.WriteFile(f[1], []byte(f[2]), 0o644))
		case "top":
			// The mount a lookup of the path finds, and whether read-only.
			m, ok, err := topMount(f[1])
			if err == nil && !ok {
				err = errors.New("nothing mounted at " + f[1])
			}
			reply(err, m.Source, strconv.FormatBool(m.ReadOnly()))
		case "views":
			// Mounts in this namespace made by this package, other than
			// the clones' own (daemon) mounts below the share folder.
			reply(nil, strings.Join(ourMounts(namespace.ShareDir(), jobPools(&job)), ","))
		case "mountpoints":
			// Every mountpoint at or below the path, in mount order.
			mounts, err := namespace.Mounts()
			var mps []string
			for _, m := range mounts {
				if within(m.Mountpoint, f[1]) {
					mps = append(mps, m.Mountpoint)
				}
			}
			reply(err, strings.Join(mps, ","))
		case "double-calls":
			reply(nil, strings.Join(double.calls, ","))
		default:
			reply(fmt.Errorf("unknown command %q", f[0]))
		}
	}
	return 0
}

// ourMounts lists this namespace's mounts whose source is named like
// this package's snapshots and clones, in the job's pools (other tests
// on the machine run too), outside skip (the share folder).
func ourMounts(skip string, pools []string) []string {
	mounts, err := namespace.Mounts()
	if err != nil {
		return []string{"error:" + err.Error()}
	}
	var out []string
	for _, m := range mounts {
		if strings.Contains(m.Source, "bakc-") && slices.Contains(pools, pool(m.Source)) && (skip == "" || !within(m.Mountpoint, skip)) {
			out = append(out, m.Source+"@"+m.Mountpoint)
		}
	}
	return out
}

// faultyZFS is the real zfs with one call made to fail: FAULT is
// "op:n", the n-th call of op fails; op is snapshot, clone, list, or
// clone-after (the clone is really made, then an error returned, as zfs
// does when it creates a clone and cannot mount it).
type faultyZFS struct {
	ZFS
	op    string
	n     int
	calls map[string]int
	// createAfter is a dataset created after the first snapshot.
	createAfter string
}

func newFaultyZFS(z ZFS, spec string) *faultyZFS {
	op, n, _ := strings.Cut(spec, ":")
	i, _ := strconv.Atoi(n)
	return &faultyZFS{ZFS: z, op: op, n: i, calls: map[string]int{}}
}

var errInjected = errors.New("injected failure")

func (f *faultyZFS) hit(op string) bool {
	f.calls[op]++
	return f.calls[op] == f.n && (f.op == op || f.op == op+"-after")
}

func (f *faultyZFS) Snapshot(ctx context.Context, name string, recursive bool) error {
	if f.hit("snapshot") {
		return errInjected
	}
	err := f.ZFS.Snapshot(ctx, name, recursive)
	if err == nil && f.createAfter != "" {
		if out, cerr := exec.Command("zfs", "create", f.createAfter).CombinedOutput(); cerr != nil {
			return fmt.Errorf("test: creating %s after the snapshot: %v: %s", f.createAfter, cerr, out)
		}
		f.createAfter = ""
	}
	return err
}

func (f *faultyZFS) Clone(ctx context.Context, snapshot, clone string, props map[string]string) error {
	if f.hit("clone") {
		if f.op == "clone-after" {
			if err := f.ZFS.Clone(ctx, snapshot, clone, props); err != nil {
				return err
			}
		}
		return errInjected
	}
	return f.ZFS.Clone(ctx, snapshot, clone, props)
}

func (f *faultyZFS) List(ctx context.Context, root, types string) ([]zfs.ListEntry, error) {
	if f.hit("list") {
		return nil, errInjected
	}
	return f.ZFS.List(ctx, root, types)
}

// mountDouble stands in for mount(2) of a ZFS snapshot, which needs
// kernel ZFS (this machine has zfs-fuse only). It records each call and,
// so that children can be mounted below and Release has real mounts to
// take away, mounts a read-only tmpfs named like the snapshot (as the
// kernel's mountinfo names it) holding the target's folders, empty.
type mountDouble struct {
	calls []string
}

func (d *mountDouble) mount(source, target, fstype string, flags uintptr, data string) error {
	d.calls = append(d.calls, fmt.Sprintf("%s>%s:%s:ro=%v:nosuid=%v:nodev=%v", source, target, fstype,
		flags&unix.MS_RDONLY != 0, flags&unix.MS_NOSUID != 0, flags&unix.MS_NODEV != 0))
	var dirs []string
	err := filepath.WalkDir(target, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() && p != target {
			dirs = append(dirs, strings.TrimPrefix(p, target))
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := unix.Mount(source, target, "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.MkdirAll(target+d, 0o755); err != nil {
			return err
		}
	}
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "size=1m")
}

// fixture is a zfs-fuse pool with datasets mounted under the test's
// temporary folder, and the run's share folder root.
type fixture struct {
	pool      string
	root      string // the pool's mountpoint
	shareRoot string
}

// newFixture makes a pool of the given size with the datasets (relative
// names, parents first); a dataset written "name=mountpoint" gets that
// mountpoint property ("none", or a path relative to the test's folder).
func newFixture(t *testing.T, size int64, datasets ...string) *fixture {
	t.Helper()
	f := &fixture{pool: testenv.ZFSPool(t, size), shareRoot: filepath.Join(t.TempDir(), "share")}
	f.root = strings.TrimSpace(zfsOut(t, "get", "-H", "-o", "value", "mountpoint", f.pool))
	for _, d := range datasets {
		name, mp, ok := strings.Cut(d, "=")
		args := []string{"create"}
		if ok {
			if mp != "none" {
				mp = filepath.Join(filepath.Dir(f.root), mp)
			}
			args = append(args, "-o", "mountpoint="+mp)
		}
		zfsOut(t, append(args, f.pool+"/"+name)...)
	}
	return f
}

// path returns a path below the pool's mountpoint.
func (f *fixture) path(rel ...string) string {
	return filepath.Join(append([]string{f.root}, rel...)...)
}

// job returns a zfs job reading the given paths (relative to the pool's
// mountpoint) from the given datasets (relative names).
func (f *fixture) job(name string, paths []string, datasets ...string) *plan.Job {
	j := &plan.Job{Name: name, Snapshot: plan.SnapshotZFS, JobTag: "job:" + name}
	for _, p := range paths {
		j.Paths = append(j.Paths, f.path(p))
	}
	for _, d := range datasets {
		mp := strings.TrimSpace(zfsOut(nil, "get", "-H", "-o", "value", "mountpoint", f.pool+"/"+d))
		j.Datasets = append(j.Datasets, plan.Dataset{Name: f.pool + "/" + d, Mountpoint: mp})
	}
	return j
}

func zfsOut(t *testing.T, args ...string) string {
	out, err := exec.Command("zfs", args...).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("zfs %s: %v: %s", strings.Join(args, " "), err, out)
		if t == nil {
			panic(msg)
		}
		t.Helper()
		t.Fatal(msg)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// run is one started run: the test binary as namespace.Enter's parent,
// its child obeying commands in a private namespace.
type run struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startRun(t *testing.T, f *fixture, job *plan.Job, env ...string) *run {
	t.Helper()
	j, err := json.Marshal(job)
	require.NoError(t, err)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{runEnv + "=" + string(j), shareRootEnv + "=" + f.shareRoot}, env...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	r := &run{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		r.cmd.Wait()
	})
	return r
}

// do sends one command and returns the answer.
func (r *run) do(t *testing.T, cmd string) string {
	t.Helper()
	fmt.Fprintln(r.in, cmd)
	l, err := r.out.ReadString('\n')
	require.NoError(t, err, "%s: reading the answer (got %q)", cmd, l)
	return strings.TrimSuffix(l, "\n")
}

// ok sends a command that must succeed and returns the answer's text.
func (r *run) ok(t *testing.T, cmd string) string {
	t.Helper()
	a := r.do(t, cmd)
	rest, ok := strings.CutPrefix(a, "ok")
	require.True(t, ok, "%s: %s", cmd, a)
	return strings.TrimSpace(rest)
}

// finish ends the run and returns its exit code.
func (r *run) finish(t *testing.T) int {
	t.Helper()
	r.in.Close()
	err := r.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return r.cmd.ProcessState.ExitCode()
}

// assertNothingLeft checks the host: no snapshot, clone or mount of this
// package's making in the pool, no mount below the share root and no
// folder left in it.
func assertNothingLeft(t *testing.T, f *fixture) {
	t.Helper()
	for _, l := range strings.Split(zfsOut(t, "list", "-H", "-o", "name", "-t", "filesystem,snapshot", "-r", f.pool), "\n") {
		if strings.Contains(l, "bakc-") {
			t.Errorf("left in the pool: %s", l)
		}
	}
	mounts, err := namespace.Mounts()
	require.NoError(t, err)
	for _, m := range mounts {
		// This fixture's pool only: other tests on the machine run too.
		if strings.HasPrefix(m.Source, f.pool+"/") && strings.Contains(m.Source, "bakc-") || within(m.Mountpoint, f.shareRoot) {
			t.Errorf("left mounted on the host: %s at %s", m.Source, m.Mountpoint)
		}
	}
	entries, err := os.ReadDir(f.shareRoot)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left in the share root: %s", e.Name())
	}
}

// when is the time runs take their snapshots at.
var when = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

func take(at time.Time) string { return "take " + at.Format(time.RFC3339) }
