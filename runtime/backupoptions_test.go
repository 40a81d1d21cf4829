package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// A job's restic backup options (issue 9: exclude_caches,
// one_file_system, exclude_larger_than) reach restic and leave out
// exactly what they say, with real restic 0.14 and 0.18.1: the contents
// of a folder with a CACHEDIR.TAG (the tag itself is kept), the files
// of another file system mounted below a path (its mountpoint folder is
// kept), and the files larger than the size (a file of exactly that
// size is kept: "1K" is 1024 bytes, as restic reads it). Without the
// options everything is stored, so each case can fail.
func TestBackupOptionsReachRestic(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			f.job().Exclude = nil
			f.write("cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n")
			f.write("cache/blob", "cached")
			f.write("notcache/CACHEDIR.TAG", "not the signature\n")
			f.write("notcache/kept", "kept")
			f.write("size/exact", strings.Repeat("x", 1024))
			f.write("size/over", strings.Repeat("x", 1025))
			mnt := filepath.Join(f.src, "mnt")
			require.NoError(t, os.MkdirAll(mnt, 0o755))
			require.NoError(t, unix.Mount("bakc-test-fs", mnt, "tmpfs", 0, "size=1m,mode=0755"))
			t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
			require.NoError(t, os.WriteFile(filepath.Join(mnt, "other-fs"), []byte("other"), 0o644))

			all := []string{"a.txt", "cache", "cache/CACHEDIR.TAG", "cache/blob", "mnt", "mnt/other-fs",
				"notcache", "notcache/CACHEDIR.TAG", "notcache/kept", "size", "size/exact", "size/over",
				"sub", "sub/b.txt", "sub/skip.tmp"}
			without := func(gone ...string) []string {
				var out []string
				for _, p := range all {
					keep := true
					for _, g := range gone {
						keep = keep && p != g
					}
					if keep {
						out = append(out, p)
					}
				}
				return out
			}
			for _, tc := range []struct {
				name  string
				set   func()
				wantF []string
			}{
				{"none", func() {}, all},
				{"exclude_caches", func() { f.job().ExcludeCaches = true }, without("cache/blob")},
				{"one_file_system", func() { f.job().OneFileSystem = true }, without("mnt/other-fs")},
				{"exclude_larger_than", func() { f.job().ExcludeLargerThan = "1K" }, without("size/over")},
			} {
				job := f.job()
				job.ExcludeCaches, job.OneFileSystem, job.ExcludeLargerThan = false, false, ""
				tc.set()
				rep := f.backup(f.options())
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "%s: %v", tc.name, rep.Failures)
				if diff := cmp.Diff(tc.wantF, f.listed()); diff != "" {
					t.Errorf("restic %s with %s stored (-want +got):\n%s", r.Version, tc.name, diff)
				}
			}
		})
	}
}

// exclude_larger_than is checked by plan.CheckResticSize; what it
// accepts, restic 0.14 and 0.18.1 accept, up to restic's own limit (a
// size that overflows int64 is refused by 0.18; 0.14 multiplies without
// a check and takes "8388608T", and "-1", as a negative size). What restic accepts
// but bakc refuses on purpose ("0" excludes every non-empty file, a
// backup of nothing; "+5", "5b", "500m": other spellings of a size) is
// listed as such.
func TestExcludeLargerThanIsRestics(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			for _, tc := range []struct {
				size            string
				bakc, resticToo bool
			}{
				{"1", true, true},
				{"1K", true, true},
				{"500M", true, true},
				{"8388607T", true, true},
				{"9223372036854775807", true, true},
				{"8388608T", false, r.Version == "0.14.0"},
				{"9223372036854775808", false, false},
				{"-1", false, r.Version == "0.14.0"},
				{"1.5G", false, false},
				{"0", false, true},
				{"+5", false, true},
				{"5b", false, true},
				{"500m", false, true},
			} {
				err := plan.CheckResticSize(tc.size)
				require.Equal(t, tc.bakc, err == nil, "bakc on %q: %v", tc.size, err)
				rerr := f.resticFor("local").Run(context.Background(), []string{"backup", "--dry-run", "--exclude-larger-than", tc.size, f.src}, nil)
				require.Equal(t, tc.resticToo, rerr == nil, "restic %s on %q: %v", r.Version, tc.size, rerr)
			}
		})
	}
}
