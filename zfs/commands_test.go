package zfs

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// zfsCmd runs zfs directly, for test setup the Runner does not offer.
func zfsCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "zfs"), args...).CombinedOutput()
	require.NoError(t, err, "zfs %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// newPool makes a zfs-fuse pool with a dataset "data" and a child
// "data/child", each holding a file.
func newPool(t *testing.T) (pool, root string) {
	t.Helper()
	pool = testenv.ZFSPool(t, 128<<20)
	zfsCmd(t, "create", pool+"/data")
	zfsCmd(t, "create", pool+"/data/child")
	root = strings.TrimSpace(zfsCmd(t, "get", "-H", "-o", "value", "mountpoint", pool))
	require.NoError(t, os.WriteFile(filepath.Join(root, "data", "f"), []byte("one"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "data", "child", "g"), []byte("two"), 0o644))
	return pool, root
}

func TestRunnerOnZFSFuse(t *testing.T) {
	pool, root := newPool(t)
	ctx := context.Background()
	r := New(nil)

	require.NoError(t, r.Snapshot(ctx, pool+"/data@s", true))
	noTxg := cmpopts.IgnoreFields(ListEntry{}, "CreateTxg")
	snaps, err := r.List(ctx, pool, TypeSnapshot)
	require.NoError(t, err)
	want := []ListEntry{{Name: pool + "/data@s", Mountpoint: "-"}, {Name: pool + "/data/child@s", Mountpoint: "-"}}
	if diff := cmp.Diff(want, snaps, noTxg); diff != "" {
		t.Errorf("recursive snapshot: List (-want +got):\n%s", diff)
	}
	// Root's own snapshots only, not its descendants'.
	own, err := r.ListChildren(ctx, pool+"/data", TypeSnapshot)
	require.NoError(t, err)
	if diff := cmp.Diff(want[:1], own, noTxg); diff != "" {
		t.Errorf("ListChildren snapshots (-want +got):\n%s", diff)
	}

	// A dataset made after the snapshot has a later createtxg; those
	// made before, an earlier one.
	zfsCmd(t, "create", pool+"/data/later")
	fss, err := r.List(ctx, pool+"/data", TypeFilesystem)
	require.NoError(t, err)
	want = []ListEntry{
		{Name: pool + "/data", Mountpoint: filepath.Join(root, "data")},
		{Name: pool + "/data/child", Mountpoint: filepath.Join(root, "data", "child")},
		{Name: pool + "/data/later", Mountpoint: filepath.Join(root, "data", "later")},
	}
	if diff := cmp.Diff(want, fss, noTxg); diff != "" {
		t.Errorf("List filesystems (-want +got):\n%s", diff)
	}
	if snaps[0].CreateTxg == 0 || !(fss[0].CreateTxg < snaps[0].CreateTxg && fss[1].CreateTxg < snaps[0].CreateTxg && snaps[0].CreateTxg < fss[2].CreateTxg) {
		t.Errorf("createtxg: data %d, child %d, snapshot %d, later %d; want data, child < snapshot < later",
			fss[0].CreateTxg, fss[1].CreateTxg, snaps[0].CreateTxg, fss[2].CreateTxg)
	}
	top, err := r.ListChildren(ctx, pool, TypeFilesystem)
	require.NoError(t, err)
	if diff := cmp.Diff([]ListEntry{{Name: pool, Mountpoint: root}, {Name: pool + "/data", Mountpoint: filepath.Join(root, "data")}}, top, noTxg); diff != "" {
		t.Errorf("ListChildren filesystems (-want +got):\n%s", diff)
	}
	require.NoError(t, r.Destroy(ctx, pool+"/data/later", false))

	err = r.Snapshot(ctx, pool+"/data@s", true)
	require.Error(t, err)
	if !IsExist(err) || IsBusy(err) || IsNotExist(err) {
		t.Errorf("snapshot twice: want only IsExist, got %v", err)
	}
	if !strings.Contains(err.Error(), "dataset already exists") || !strings.Contains(err.Error(), "zfs snapshot -r "+pool+"/data@s") {
		t.Errorf("error should carry the arguments and zfs's stderr: %v", err)
	}

	hidden := filepath.Join(t.TempDir(), "clone")
	require.NoError(t, r.Clone(ctx, pool+"/data@s", pool+"/c", map[string]string{"readonly": "on", "mountpoint": hidden}))
	origin, err := r.Get(ctx, pool+"/c", "origin")
	require.NoError(t, err)
	if origin != pool+"/data@s" {
		t.Errorf("clone origin = %q, want %q", origin, pool+"/data@s")
	}
	mp, err := r.Get(ctx, pool+"/c", "mountpoint")
	require.NoError(t, err)
	if mp != hidden {
		t.Errorf("clone mountpoint = %q, want %q", mp, hidden)
	}
	got, err := os.ReadFile(filepath.Join(hidden, "f"))
	require.NoError(t, err)
	if string(got) != "one" {
		t.Errorf("clone content = %q, want %q", got, "one")
	}
	if err := os.WriteFile(filepath.Join(hidden, "new"), nil, 0o644); err == nil {
		t.Errorf("writing into a readonly=on clone worked")
	}

	// The snapshot cannot go while its clone depends on it; -R is never used.
	err = r.Destroy(ctx, pool+"/data@s", true)
	require.Error(t, err)
	require.NoError(t, r.Destroy(ctx, pool+"/c", false))
	require.NoError(t, r.Destroy(ctx, pool+"/data@s", true))
	snaps, err = r.List(ctx, pool, TypeSnapshot)
	require.NoError(t, err)
	if len(snaps) != 0 {
		t.Errorf("snapshots left after destroy -r: %v", snaps)
	}

	err = r.Destroy(ctx, pool+"/data@s", true)
	if !IsNotExist(err) {
		t.Errorf("destroying a missing snapshot: want IsNotExist, got %v", err)
	}
	_, err = r.Get(ctx, pool+"/nope", "origin")
	if !IsNotExist(err) {
		t.Errorf("get on a missing dataset: want IsNotExist, got %v", err)
	}
}

// busyWatcher is a slog handler that closes a channel on the Runner's
// first "busy, retrying" record.
type busyWatcher struct {
	once sync.Once
	ch   chan struct{}
}

func (b *busyWatcher) Enabled(context.Context, slog.Level) bool { return true }
func (b *busyWatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "busy, retrying") {
		b.once.Do(func() { close(b.ch) })
	}
	return nil
}
func (b *busyWatcher) WithAttrs([]slog.Attr) slog.Handler { return b }
func (b *busyWatcher) WithGroup(string) slog.Handler      { return b }

// A user hold makes zfs answer "dataset is busy" for as long as it is
// held: the same answer zfs-fuse gives for a moment after an unmount.
func TestDestroyRetriesBusy(t *testing.T) {
	pool, _ := newPool(t)
	ctx := context.Background()
	snap := pool + "/data@held"
	zfsCmd(t, "snapshot", snap)
	zfsCmd(t, "hold", "test", snap)

	t.Run("gives up after BusyTimeout", func(t *testing.T) {
		r := New(nil)
		r.BusyTimeout = 0
		err := r.Destroy(ctx, snap, false)
		if !IsBusy(err) {
			t.Fatalf("want IsBusy, got %v", err)
		}
	})

	t.Run("succeeds once the hold is gone", func(t *testing.T) {
		w := &busyWatcher{ch: make(chan struct{})}
		r := New(slog.New(w))
		done := make(chan error, 1)
		go func() { done <- r.Destroy(ctx, snap, false) }()
		<-w.ch // Destroy has seen "busy" and waits to retry
		zfsCmd(t, "release", "test", snap)
		require.NoError(t, <-done)
		snaps, err := r.List(ctx, pool, TypeSnapshot)
		require.NoError(t, err)
		if len(snaps) != 0 {
			t.Errorf("snapshot still there: %v", snaps)
		}
	})

	t.Run("stops when the context ends", func(t *testing.T) {
		zfsCmd(t, "snapshot", snap)
		zfsCmd(t, "hold", "test", snap)
		t.Cleanup(func() { exec.Command("zfs", "release", "test", snap).Run() })
		ctx, cancel := context.WithCancel(ctx)
		w := &busyWatcher{ch: make(chan struct{})}
		r := New(slog.New(w))
		done := make(chan error, 1)
		go func() { done <- r.Destroy(ctx, snap, false) }()
		<-w.ch
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("want context.Canceled, got %v", err)
		}
	})
}

func TestNamesThatCouldBeOptionsNeverRun(t *testing.T) {
	// A binary that does not exist: if any of these ran, the error would
	// be about it, not about the name.
	r := NewWithCommand(nil, "/nonexistent/zfs")
	ctx := context.Background()
	for _, name := range []string{"", "-R", "--help", "pool/a\nb", "pool/a\x00"} {
		checks := map[string]error{
			"Snapshot": r.Snapshot(ctx, name, false),
			"Destroy":  r.Destroy(ctx, name, true),
			"Clone":    r.Clone(ctx, "pool/a@s", name, nil),
			"Get":      func() error { _, err := r.Get(ctx, name, "origin"); return err }(),
		}
		for op, err := range checks {
			if err == nil || strings.Contains(err.Error(), "nonexistent") {
				t.Errorf("%s(%q): want a name error before running zfs, got %v", op, name, err)
			}
		}
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ListEntry
		wantErr bool
	}{
		{name: "empty", in: "", want: nil},
		{
			name: "datasets and snapshots",
			in:   "rpool/home\t/home\t7\nrpool/home@s\t-\t17\nrpool/var\tlegacy\t9\n",
			want: []ListEntry{{"rpool/home", "/home", 7}, {"rpool/home@s", "-", 17}, {"rpool/var", "legacy", 9}},
		},
		{
			name: "mountpoint with spaces, no createtxg",
			in:   "tank/media\t/srv/my media\t-\n",
			want: []ListEntry{{"tank/media", "/srv/my media", 0}},
		},
		{name: "no tab", in: "rpool/home /home 7\n", wantErr: true},
		{name: "two columns", in: "rpool/home\t/home\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseList(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
