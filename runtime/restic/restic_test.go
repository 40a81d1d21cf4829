package restic_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

func TestMain(m *testing.M) { restictest.Main(m) }

// newRepo makes a real repository for r and a Restic pointed at it.
func newRepo(t *testing.T, r testenv.Restic) (*restic.Restic, string) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	restictest.InitRepo(t, r, repo)
	return &restic.Restic{
		Binary:       r.Path,
		Repo:         repo,
		PasswordFile: restictest.PasswordFile(t),
		CacheDir:     filepath.Join(t.TempDir(), "cache"),
	}, repo
}

// sourceTree writes a few files and returns the folder.
func sourceTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for i, name := range []string{"a", "b", "sub/c"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("x", 1000*(i+1))), 0o644))
	}
	return dir
}

// A backup's summary is parsed from both versions' --json, status lines
// reach the callback, and an unchanged second run finds its parent: no
// new files, nothing added.
func TestBackupSummaryAndParent(t *testing.T) {
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			rs, _ := newRepo(t, r)
			src := sourceTree(t)
			ctx := context.Background()
			opts := restic.BackupOptions{Paths: []string{src}, Host: "forge", Tags: []string{"job:test", "x"}}
			first, err := rs.Backup(ctx, opts, nil)
			require.NoError(t, err)
			require.NotNil(t, first)
			if first.FilesNew != 3 || first.DataAdded == 0 || first.TotalBytesProcessed != 6000 || first.SnapshotID == "" {
				t.Errorf("first summary = %+v, want 3 new files, 6000 bytes processed, data added, a snapshot id", first)
			}

			second, err := rs.Backup(ctx, opts, nil)
			require.NoError(t, err)
			// The folders above the source (/tmp) change as other tests
			// run, so only file data is compared.
			if second.FilesNew != 0 || second.FilesChanged != 0 || second.FilesUnmodified != 3 || second.DataBlobs != 0 {
				t.Errorf("second summary = %+v, want 3 unmodified files and no data blob added", second)
			}

			snaps, err := rs.Snapshots(ctx, "forge", "job:test")
			require.NoError(t, err)
			require.Len(t, snaps, 2)
			if !strings.HasPrefix(snaps[1].ID, second.SnapshotID) || !strings.HasPrefix(snaps[1].Parent, strings.TrimSpace(snaps[0].ID)) {
				t.Errorf("second snapshot %s has parent %q, want the first %s", snaps[1].ID, snaps[1].Parent, snaps[0].ID)
			}
			if diff := cmp.Diff([]string{"job:test", "x"}, snaps[1].Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if none, err := rs.Snapshots(ctx, "other", ""); err != nil || len(none) != 0 {
				t.Errorf("snapshots of another host = %v, %v; want none", none, err)
			}
		})
	}
}

// Every failure restic can be made to show here, against both versions:
// the exit code, the category (from the code on 0.18, from stderr on
// 0.14) and a message that says what happened.
func TestFailuresAreCategorised(t *testing.T) {
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			is018 := !strings.HasPrefix(r.Version, "0.14")
			code := func(new int) int {
				if is018 {
					return new
				}
				return restic.ExitFatal
			}
			ctx := context.Background()
			src := sourceTree(t)
			tests := []struct {
				name     string
				setup    func(t *testing.T, rs *restic.Restic, repo string) (paths []string)
				code     int
				category restic.Category
				message  string
			}{
				{
					name: "wrong password",
					setup: func(t *testing.T, rs *restic.Restic, _ string) []string {
						rs.PasswordFile = filepath.Join(t.TempDir(), "wrong")
						require.NoError(t, os.WriteFile(rs.PasswordFile, []byte("wrong\n"), 0o600))
						return []string{src}
					},
					code: code(restic.ExitWrongPassword), category: restic.CategoryAuth, message: "wrong password",
				},
				{
					name: "password file missing",
					setup: func(t *testing.T, rs *restic.Restic, _ string) []string {
						rs.PasswordFile = filepath.Join(t.TempDir(), "nothing")
						return []string{src}
					},
					code: restic.ExitFatal, category: restic.CategoryAuth, message: "does not exist",
				},
				{
					name: "repository missing",
					setup: func(t *testing.T, rs *restic.Restic, _ string) []string {
						rs.Repo = filepath.Join(t.TempDir(), "nothing")
						return []string{src}
					},
					code: code(restic.ExitNoRepository), category: restic.CategoryStorage, message: "config",
				},
				{
					name: "locked by another restic",
					setup: func(t *testing.T, rs *restic.Restic, repo string) []string {
						restictest.HoldExclusiveLock(t, r, repo, rs.PasswordFile)
						return []string{src}
					},
					code: code(restic.ExitLocked), category: restic.CategoryLock, message: "already locked",
				},
				{
					// A sysctl file ignores capabilities: not even root
					// can read a write-only one, so restic writes the
					// snapshot without it and exits 3 in both versions.
					name: "a source file unreadable",
					setup: func(t *testing.T, _ *restic.Restic, _ string) []string {
						return []string{src, "/proc/sys/vm/compact_memory"}
					},
					code: restic.ExitPartial, category: restic.CategorySource, message: "could not be read",
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rs, repo := newRepo(t, r)
					paths := tt.setup(t, rs, repo)
					summary, err := rs.Backup(ctx, restic.BackupOptions{Paths: paths, Host: "forge"}, nil)
					re := restic.AsError(err)
					require.NotNil(t, re, "backup succeeded: %+v", summary)
					if re.ExitCode != tt.code || re.Category() != tt.category || !strings.Contains(re.Message, tt.message) {
						t.Errorf("got exit %d, category %s, message %q; want exit %d, category %s, a message with %q\nstderr:\n%s",
							re.ExitCode, re.Category(), re.Message, tt.code, tt.category, tt.message, re.Stderr)
					}
					// A lock's message keeps what restic says of it: its
					// age and the unlock advice (0.14 prints them on lines
					// of their own).
					if tt.category == restic.CategoryLock && (!strings.Contains(re.Message, "lock was created at") || !strings.Contains(re.Message, "`unlock` command")) {
						t.Errorf("lock message %q lacks restic's age of the lock or its unlock advice\nstderr:\n%s", re.Message, re.Stderr)
					}
					if tt.code == restic.ExitPartial && (summary == nil || summary.SnapshotID == "") {
						t.Errorf("a partial backup gave no summary with a snapshot: %+v", summary)
					}
				})
			}
		})
	}
}

// Run as root, restic runs as the backup user with CAP_DAC_READ_SEARCH:
// it writes a repository only that user may enter (mode 0700), new files
// in it belong to that user, and it still reads a file only root may read.
func TestRunsAsBackupUser(t *testing.T) {
	testenv.Root(t)
	const uid, gid = 2049, 2049
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			rs, repo := newRepo(t, r)
			restictest.ChownTree(t, repo, uid, gid)
			require.NoError(t, os.Chmod(repo, 0o700))
			require.NoError(t, os.Chown(filepath.Dir(rs.CacheDir), uid, gid))
			// The password file stays root's, mode 0600: the capability reads it.
			src := sourceTree(t)
			secret := filepath.Join(src, "root-only")
			require.NoError(t, os.WriteFile(secret, []byte("only root reads this"), 0o600))
			require.NoError(t, os.Chmod(filepath.Join(src, "sub"), 0o700))
			rs.Credential = &syscall.Credential{Uid: uid, Gid: gid}

			summary, err := rs.Backup(context.Background(), restic.BackupOptions{Paths: []string{src}, Host: "forge"}, nil)
			require.NoError(t, err)
			if summary.FilesNew != 4 {
				t.Errorf("backed up %d new files, want 4 (root-only ones too)", summary.FilesNew)
			}
			// Every snapshot file is the backup user's.
			snaps, err := os.ReadDir(filepath.Join(repo, "snapshots"))
			require.NoError(t, err)
			require.Len(t, snaps, 1)
			fi, err := os.Stat(filepath.Join(repo, "snapshots", snaps[0].Name()))
			require.NoError(t, err)
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
				t.Errorf("snapshot file owned by %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
			}
			// Restore as the same user: the root-only content came through.
			target := t.TempDir()
			require.NoError(t, os.Chown(target, uid, gid))
			require.NoError(t, rs.Run(context.Background(), []string{"restore", "latest", "--target", target}, nil))
			got, err := os.ReadFile(filepath.Join(target, secret))
			require.NoError(t, err)
			if string(got) != "only root reads this" {
				t.Errorf("restored root-only file = %q", got)
			}
		})
	}
}

// Stopping the context stops restic with SIGINT: it exits (130 on 0.18)
// and the call reports category resource, with no lock left behind.
func TestCancelStopsRestic(t *testing.T) {
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			rs, repo := newRepo(t, r)
			// A sparse file large enough that restic is still reading it
			// when the first status line with bytes done arrives.
			src := t.TempDir()
			big, err := os.Create(filepath.Join(src, "big"))
			require.NoError(t, err)
			require.NoError(t, big.Truncate(64<<30))
			big.Close()

			ctx, cancel := context.WithCancel(context.Background())
			started := make(chan struct{}, 1)
			rs.ProgressFPS = 60
			var summaryErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, summaryErr = rs.Backup(ctx, restic.BackupOptions{Paths: []string{src}}, func(s restic.Status) {
					if s.BytesDone > 0 {
						select {
						case started <- struct{}{}:
						default:
						}
					}
				})
			}()
			<-started
			cancel()
			<-done
			re := restic.AsError(summaryErr)
			require.NotNil(t, re, "backup was not stopped")
			t.Logf("stopped restic: exit code %d, %v", re.ExitCode, summaryErr)
			if re.Category() != restic.CategoryResource {
				t.Errorf("stopped backup: exit %d, category %s; want resource\n%s", re.ExitCode, re.Category(), re.Stderr)
			}
			locks, _ := os.ReadDir(filepath.Join(repo, "locks"))
			if len(locks) != 0 {
				t.Errorf("restic left %d locks behind", len(locks))
			}
		})
	}
}

// restic 0.18.1 lists its feature flags, device-id-for-hardlinks among
// them as an optional (alpha) one; restic 0.14 has none and fails.
func TestFeatures(t *testing.T) {
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			rs, _ := newRepo(t, r)
			flags, err := rs.ListFeatures(context.Background())
			if strings.HasPrefix(r.Version, "0.14") {
				if err == nil {
					t.Errorf("restic %s features: %v, want a failure (no feature flags before 0.17)", r.Version, flags)
				}
				return
			}
			require.NoError(t, err)
			if typ := flags[restic.FeatureDeviceIDForHardlinks]; !restic.Optional(typ) {
				t.Errorf("%s is %q in %v, want an optional (alpha or beta) flag", restic.FeatureDeviceIDForHardlinks, typ, flags)
			}
			if typ := flags["deprecate-legacy-index"]; typ != "stable" {
				t.Errorf("deprecate-legacy-index is %q, want stable", typ)
			}
		})
	}
}
