package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SystemdManager is a real systemd service manager of one test's own:
// systemd 252 running as root's user manager (`systemd --user`), with a
// D-Bus session bus of its own, so that `systemd-run --user` starts
// transient services through it exactly as systemd runs units. It lets a
// test see what systemd itself makes of unit settings such as
// EnvironmentFile=, on a machine whose PID 1 is not systemd.
//
// systemd refuses to run a user manager on a host not booted with
// systemd (it looks for /run/systemd/system), so it runs in a mount
// namespace of its own (unshare -m, private propagation) in which a
// tmpfs over /run/systemd has that folder. Nothing outside the namespace
// changes; the services it starts see the same files as the test.
type SystemdManager struct {
	// Env is what systemd-run --user needs to reach the manager:
	// XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS.
	Env []string

	runtimeDir string
	cmd        *exec.Cmd
	log        lockedBuffer
}

// StartSystemdManager starts a SystemdManager that stops when the test
// ends, and returns once it runs services.
func StartSystemdManager(t testing.TB) *SystemdManager {
	t.Helper()
	Root(t)
	unshare := LookPath(t, "unshare")
	dbus := LookPath(t, "dbus-daemon")
	systemdRun := LookPath(t, "systemd-run")
	var systemd string
	for _, p := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if _, err := os.Stat(p); err == nil {
			systemd = p
			break
		}
	}
	if systemd == "" {
		missing(t, "systemd (the manager binary) not found")
	}
	if _, err := os.Stat("/run/systemd"); err != nil {
		missing(t, "/run/systemd does not exist here")
	}
	dir, err := os.MkdirTemp("", "bakc-systemd-")
	if err != nil {
		t.Fatal(err)
	}
	m := &SystemdManager{runtimeDir: filepath.Join(dir, "run")}
	if err := os.Mkdir(m.runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	m.Env = []string{"XDG_RUNTIME_DIR=" + m.runtimeDir, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(m.runtimeDir, "bus")}
	script := strings.Join([]string{
		"set -e",
		"mount -t tmpfs -o mode=0755 tmpfs /run/systemd",
		"mkdir /run/systemd/system",
		shellQuote(dbus) + ` --session --address="$DBUS_SESSION_BUS_ADDRESS" --nofork --nopidfile &`,
		`echo $! > "$XDG_RUNTIME_DIR/dbus.pid"`,
		"exec " + shellQuote(systemd) + " --user",
	}, "\n")
	m.cmd = exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script)
	m.cmd.Env = append(os.Environ(), append(m.Env, "SYSTEMD_LOG_TARGET=console", "SYSTEMD_LOG_LEVEL=info")...)
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.stop()
		os.RemoveAll(dir)
		if t.Failed() {
			t.Logf("systemd --user log:\n%s", m.log.String())
		}
	})
	for i := 0; ; i++ {
		probe := exec.Command(systemdRun, "--user", "--quiet", "--wait", "--collect", "true")
		probe.Env = append(os.Environ(), m.Env...)
		out, err := probe.CombinedOutput()
		if err == nil {
			return m
		}
		if i == 100 {
			t.Fatalf("systemd --user does not run services: %v: %s\n%s", err, out, m.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the bus, then the manager (which stops its services), and
// waits for it, so that nothing of the test is left running.
func (m *SystemdManager) stop() {
	if data, err := os.ReadFile(filepath.Join(m.runtimeDir, "dbus.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		m.cmd.Process.Kill()
		<-done
	}
}

// Run runs `systemd-run --user args…` through the manager and returns
// its standard output, standard error and error.
func (m *SystemdManager) Run(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command("systemd-run", append([]string{"--user"}, args...)...)
	cmd.Env = append(os.Environ(), m.Env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
