// Package testenv gives tests the real components this machine can run:
// restic (Debian's 0.14 and a built 0.18.1), a zfs-fuse pool in a file,
// nix-instantiate and systemd-analyze.
//
// A component that is missing skips the test, unless BAKC_TEST_REQUIRE_ALL
// is set (as `make test` and CI do): then it fails, so that a missing
// install step can never turn into a green run that tested nothing.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RequireAll reports whether missing components must fail tests.
func RequireAll() bool { return os.Getenv("BAKC_TEST_REQUIRE_ALL") != "" }

// missing skips or fails the test for a component that is not there.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run ./scripts/test-setup.sh)"
	if RequireAll() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// LookPath returns the path of a command, or skips/fails the test.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
				return filepath.Join(dir, name)
			}
		}
		missing(t, "%s not found", name)
	}
	return p
}

// Root skips or fails a test that needs root (mounts, zfs, chown).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root")
	}
}

// UserFUSE skips or fails a test in which a user other than root
// mounts with FUSE (restic mount as the backup user): fusermount must be
// there, and /dev/fuse open to everyone, as udev makes it on Debian and
// NixOS (0666): the set-uid fusermount opens it as the calling user;
// and /etc/fuse.conf must say user_allow_other, for allow_other.
func UserFUSE(t testing.TB) {
	t.Helper()
	LookPath(t, "fusermount")
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		missing(t, "/dev/fuse: %v", err)
		return
	}
	if fi.Mode().Perm()&0o006 != 0o006 {
		missing(t, "/dev/fuse is mode %04o, not 0666 as udev makes it: fusermount opens it as the calling user", fi.Mode().Perm())
	}
	conf, _ := os.ReadFile("/etc/fuse.conf")
	if !slices.Contains(strings.Split(string(conf), "\n"), "user_allow_other") {
		missing(t, "/etc/fuse.conf does not say user_allow_other")
	}
}

// NixInstantiate returns the path of nix-instantiate.
func NixInstantiate(t testing.TB) string { return LookPath(t, "nix-instantiate") }

// SystemdAnalyze returns the path of systemd-analyze.
func SystemdAnalyze(t testing.TB) string { return LookPath(t, "systemd-analyze") }

// Restic is one restic binary and its version ("0.14.0").
type Restic struct {
	Path    string
	Version string
}

// CacheDir is where test-setup.sh keeps what it builds.
func CacheDir() string {
	if d := os.Getenv("BAKC_CACHE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "bakc")
}

// Restics returns every restic the tests run against: Debian's (0.14, no
// exit codes 10/11/12) and 0.18.1 built by test-setup.sh (what NixOS
// ships). Tests of behaviour that depends on restic's version run once
// per entry, as subtests named after the version.
func Restics(t testing.TB) []Restic {
	t.Helper()
	var out []Restic
	for _, p := range []string{"restic", filepath.Join(CacheDir(), "restic-0.18.1", "restic")} {
		path, err := exec.LookPath(p)
		if err != nil {
			missing(t, "restic not found at %s", p)
			continue
		}
		v, err := exec.Command(path, "version").Output()
		if err != nil {
			t.Fatalf("%s version: %v", path, err)
		}
		// "restic 0.14.0 compiled with go1.19.8 on linux/amd64"
		f := strings.Fields(string(v))
		if len(f) < 2 {
			t.Fatalf("%s version: unexpected output %q", path, v)
		}
		out = append(out, Restic{Path: path, Version: f[1]})
	}
	return out
}

var poolSeq atomic.Int64

// ZFSPool creates a zfs-fuse pool backed by a file of the given size in
// the test's temporary folder, with its root mounted under that folder,
// and destroys it when the test ends. It starts the zfs-fuse daemon if it
// is not running. The pool name is unique per process and test.
func ZFSPool(t testing.TB, size int64) string {
	t.Helper()
	Root(t)
	zpool := LookPath(t, "zpool")
	LookPath(t, "zfs")
	if err := StartZFSFuse(); err != nil {
		missing(t, "zfs-fuse: %v", err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "pool.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	reapStalePools(zpool)
	name := fmt.Sprintf("bakct%d_%d", os.Getpid(), poolSeq.Add(1))
	root := filepath.Join(dir, "mnt")
	if out, err := exec.Command(zpool, "create", "-m", root, name, img).CombinedOutput(); err != nil {
		t.Fatalf("zpool create %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { destroyPool(t, zpool, name, root) })
	return name
}

// poolDestroyPatience bounds the wait for zfs-fuse to let a test pool
// go; after poolUnmountAfter of "busy", its datasets are unmounted by
// force, one by one (never `zfs unmount -a`, which would touch other
// tests' pools).
const (
	poolDestroyPatience = 90 * time.Second
	poolUnmountAfter    = 15 * time.Second
)

// destroyPool destroys a test pool. zfs-fuse answers "busy" for a while
// after a mount goes away: a moment on an idle machine, many seconds on
// a loaded one (seen with the load average at 10), and now and then for
// longer than any wait. The test's own checks have already made sure
// that nothing of the product is left behind (every test that cares
// asserts it explicitly); this is housekeeping. So a pool zfs-fuse will
// not let go is logged, its mounts are detached so that the test's
// temporary folder can be removed, and reapStalePools destroys it in
// the next test process, instead of failing a test whose assertions
// all held.
func destroyPool(t testing.TB, zpool, name, root string) {
	var out []byte
	var err error
	began := time.Now()
	unmounted := false
	for {
		out, err = exec.Command(zpool, "destroy", "-f", name).CombinedOutput()
		if err == nil || time.Since(began) > poolDestroyPatience {
			break
		}
		if !unmounted && time.Since(began) > poolUnmountAfter {
			unmounted = true
			unmountDatasets(name)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Logf("zpool destroy %s: %v\n%s(left to the next test process, which destroys pools of processes that are gone)", name, err, out)
		detachMountsUnder(root)
	}
}

// unmountDatasets unmounts every dataset of pool by force, the deepest
// first.
func unmountDatasets(pool string) {
	out, err := exec.Command("zfs", "list", "-H", "-o", "name", "-r", pool).Output()
	if err != nil {
		return
	}
	names := strings.Fields(string(out))
	for i := len(names) - 1; i >= 0; i-- {
		exec.Command("zfs", "unmount", "-f", names[i]).Run()
	}
}

// detachMountsUnder lazily unmounts what is mounted at or below dir in
// this mount namespace, the deepest first.
func detachMountsUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		unix.Unmount(p, unix.MNT_DETACH)
	}
}

var reapOnce sync.Once

// reapStalePools destroys, once per process, the test pools of test
// processes that are gone (killed, or timed out before their cleanup):
// bakct<pid>_<n> whose pid no longer runs. Their files are deleted, but
// zfs-fuse keeps them open and slows down with every pool it holds.
func reapStalePools(zpool string) {
	reapOnce.Do(func() {
		out, err := exec.Command(zpool, "list", "-H", "-o", "name").Output()
		if err != nil {
			return
		}
		for _, name := range strings.Fields(string(out)) {
			var pid, n int
			if _, err := fmt.Sscanf(name, "bakct%d_%d", &pid, &n); err != nil || pid == os.Getpid() {
				continue
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				continue // still running: another test process's pool
			}
			exec.Command(zpool, "destroy", "-f", name).Run()
		}
	})
}

// StartZFSFuse starts the zfs-fuse daemon unless it runs already, and
// waits until it answers.
func StartZFSFuse() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("/dev/fuse: %w", err)
	}
	if exec.Command("zpool", "list").Run() == nil {
		return nil
	}
	daemon, err := exec.LookPath("zfs-fuse")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/zfs-fuse"); serr != nil {
			return err
		}
		daemon = "/usr/sbin/zfs-fuse"
	}
	var stderr bytes.Buffer
	cmd := exec.Command(daemon)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("starting zfs-fuse: %v: %s", err, stderr.String())
	}
	for i := 0; i < 100; i++ {
		if exec.Command("zpool", "list").Run() == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("zfs-fuse does not answer")
}

// MountNFS returns nfs-utils' mount.nfs: the system's, or the one
// test-setup.sh unpacks from Debian's nfs-common package into the cache
// (nothing installed, no NFS service started). Tests run it with -f
// (fake): it parses the source and the options and resolves the server
// exactly as for a mount, then mounts nothing, so no NFS server is needed.
func MountNFS(t testing.TB) string {
	t.Helper()
	Root(t)
	for _, p := range []string{"/sbin/mount.nfs", "/usr/sbin/mount.nfs", filepath.Join(CacheDir(), "nfs-common", "sbin", "mount.nfs")} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	missing(t, "mount.nfs not found")
	return ""
}
