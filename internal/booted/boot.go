package booted

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holthome/bakc/internal/testenv"
)

// ResultsDir is where the machine sees the test's results folder (a
// folder of the host, bound in).
const ResultsDir = "/opt/bakc-test/results"

// Boot is one boot of a machine, after it powered off.
type Boot struct {
	// Console is what systemd-nspawn printed: the container's console.
	Console string
	// Results is the host's side of ResultsDir.
	Results string
	// Err is systemd-nspawn's error: nil after a clean poweroff.
	Err error
	// Took is the time from starting systemd-nspawn to its exit.
	Took time.Duration
}

// ConsoleTail is the last n lines of the console.
func (b *Boot) ConsoleTail(n int) string { return tail(b.Console, n) }

// BootMachine boots m with systemd as PID 1 and waits until it powers
// off (something in it must call `systemctl poweroff`; the probe does)
// or timeout passes (then the container is asked to power off, and
// killed 30 s later).
//
// The root file system is an overlay: the cached tree below, an upper
// folder in the test's temporary folder on top, into which m's files
// are written. /run is a tmpfs at boot, so m's files under /run are
// written into a host folder that is bound there instead. The container
// has no network but loopback (--private-network), /dev/fuse for
// zfs-fuse and /dev/autofs for automounts. The overlay is unmounted
// when the test ends, also when it fails; if the test failed, the tail
// of the console is in its output.
func BootMachine(t *testing.T, m *Machine, timeout time.Duration) *Boot {
	t.Helper()
	tree := Tree(t)
	nspawn := testenv.LookPath(t, "systemd-nspawn")
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "root")
	results, run := filepath.Join(dir, "results"), filepath.Join(dir, "run")
	for _, d := range []string{upper, work, merged, results, run} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", tree, upper, work)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Fatalf("mounting the overlay over %s: %v", tree, err)
	}
	t.Cleanup(func() { unmount(t, merged) })

	m.addZFS()
	if err := m.writeInto(merged, run); err != nil {
		t.Fatalf("writing the machine's files: %v", err)
	}

	name := "bakc-" + m.Name + "-" + randomHex(4)
	cgroups := ownCgroup(t, name) // cgroup.go: boots side by side share none
	args := []string{
		"--directory=" + merged, "--machine=" + name, "--hostname=" + m.Name,
		// No machined on the host: the container is driven from inside.
		"--register=no", "--keep-unit", "--boot", "--private-network",
		"--bind=/dev/fuse", "--bind=" + results + ":" + ResultsDir,
		// Plain text on the console.
		"--setenv=SYSTEMD_COLORS=0",
	}
	if _, err := os.Stat("/dev/autofs"); err == nil {
		args = append(args, "--bind=/dev/autofs")
	}
	runDirs, err := os.ReadDir(run)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range runDirs {
		args = append(args, "--bind="+filepath.Join(run, e.Name())+":/run/"+e.Name())
	}

	var console bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := inCgroup(cgroups, append([]string{nspawn}, args...))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &console, &console
	// On timeout: SIGTERM makes nspawn power the container off; SIGKILL
	// 30 s later if that hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	err = cmd.Run()
	b := &Boot{Console: console.String(), Results: results, Took: time.Since(start)}
	if ctx.Err() != nil {
		err = fmt.Errorf("the machine did not power off within %v: %w", timeout, ctx.Err())
	}
	b.Err = err
	t.Logf("boot of %s: %v, systemd-nspawn: %v", m.Name, b.Took.Round(100*time.Millisecond), err)
	checkOwnCgroup(t, cgroups)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of %s (last 60 lines):\n%s", m.Name, b.ConsoleTail(60))
		}
	})
	return b
}

// writeInto writes m's files and symlinks into the mounted root, and
// those under /run into the host folder run (bound at /run/<first
// element> for each).
func (m *Machine) writeInto(root, run string) error {
	inMachine := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "/run/"); ok {
			return filepath.Join(run, rest)
		}
		return filepath.Join(root, p)
	}
	var dirs []string
	for p := range m.dirs {
		dirs = append(dirs, p)
	}
	sort.Strings(dirs)
	for _, p := range dirs {
		d, dst := m.dirs[p], inMachine(p)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(dst, d.Mode); err != nil {
			return err
		}
		if err := os.Chown(dst, d.UID, d.GID); err != nil {
			return err
		}
	}
	for _, p := range m.Files() {
		f, dst := m.files[p], inMachine(p)
		if err := writeFile(dst, f); err != nil {
			return err
		}
	}
	var links []string
	for p := range m.links {
		links = append(links, p)
	}
	sort.Strings(links)
	for _, p := range links {
		dst := inMachine(p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Symlink(m.links[p], dst); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(dst string, f File) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, f.Mode)
	if err != nil {
		return err
	}
	if f.From != "" {
		in, err := os.Open(f.From)
		if err != nil {
			out.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			out.Close()
			return err
		}
	} else if _, err := out.Write(f.Data); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The mode as given, whatever the umask; then the owner.
	if err := os.Chmod(dst, f.Mode); err != nil {
		return err
	}
	return os.Lchown(dst, f.UID, f.GID)
}

// unmount takes the overlay away; a mount still busy (a process left
// behind by a killed container) is detached instead.
func unmount(t *testing.T, dir string) {
	for range 20 {
		err := unix.Unmount(dir, 0)
		if err == nil || errors.Is(err, unix.EINVAL) {
			return
		}
		if !errors.Is(err, unix.EBUSY) {
			t.Errorf("unmounting %s: %v", dir, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Errorf("detaching %s: %v", dir, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
