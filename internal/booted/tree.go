// Package booted is the booted-systemd test tier's harness: it boots a
// real systemd (Debian bookworm's 252, as PID 1 under systemd-nspawn)
// over a cached Debian tree, with the files a test gives it (bakc's
// generated units, its plan, secrets, data), and runs the test's own
// assertions inside that system, where they drive systemd with
// systemctl as an administrator would.
//
// The pieces, one file each: the cached tree (tree.go), the machine a
// test describes (machine.go), booting it on an overlay (boot.go), the
// probe that runs the test binary inside and brings its results back
// (probe.go), ZFS pools made by zfs-fuse at boot (zfs.go), bakc built
// for the container and its units installed (bakc.go), and the helpers
// a test uses inside (inside.go). docs/testing.md says how to add a
// scenario.
package booted

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/holthome/bakc/internal/testenv"
)

// treeScript builds the tree and names it (scripts/booted-tree.sh); the
// tests ask it for the path, so that the recipe and its cache key live in
// one place.
const treeScript = "scripts/booted-tree.sh"

// missing skips the test, or fails it when every component is required
// (BAKC_TEST_REQUIRE_ALL, as `make test` sets).
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run ./scripts/test-setup.sh)"
	if testenv.RequireAll() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Tree returns the cached Debian tree that scripts/booted-tree.sh built,
// after checking that everything a boot needs is on this machine: root,
// systemd-nspawn, overlayfs, /dev/fuse.
func Tree(t testing.TB) string {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "systemd-nspawn")
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		missing(t, "overlayfs is not available (/proc/filesystems)")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, "/dev/fuse: %v", err)
	}
	root := ModuleRoot(t)
	out, err := exec.Command("sh", filepath.Join(root, treeScript), "--path").Output()
	if err != nil {
		t.Fatalf("%s --path: %v", treeScript, err)
	}
	tree := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(tree, "lib", "systemd", "systemd")); err != nil {
		missing(t, "the booted tier's Debian tree %s is not built", tree)
	}
	return tree
}

// ModuleRoot is the folder of bakc's go.mod, found upwards from the
// test's working folder (its package's folder).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working folder")
		}
		dir = parent
	}
}
