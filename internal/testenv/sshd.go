package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SSHKey makes an ed25519 key pair without passphrase at dir/name (and
// dir/name.pub) and returns the public key line.
func SSHKey(t testing.TB, dir, name, comment string) string {
	t.Helper()
	keygen := LookPath(t, "ssh-keygen")
	out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", filepath.Join(dir, name)).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(filepath.Join(dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

// SSHD is a real sshd of one test's own, on a loopback address and a free port,
// with a host key made for it and a private sshd_config: keys only, no
// PAM. It stops when the test ends, and its log is printed if the test
// failed.
type SSHD struct {
	// Host and Port are the address it listens on.
	Host, Port string
	// KnownHosts is a known_hosts file that trusts its host key.
	KnownHosts string

	cmd *exec.Cmd
	log lockedBuffer
}

// StartSSHD starts sshd on 127.0.0.1 with authorizedKeys (the whole
// authorized_keys file) for every user and the extra sshd_config lines
// (PermitRootLogin, Subsystem, …), and returns once it accepts
// connections.
func StartSSHD(t testing.TB, authorizedKeys string, extra ...string) *SSHD {
	t.Helper()
	return StartSSHDOn(t, "127.0.0.1", authorizedKeys, extra...)
}

// StartSSHDOn is StartSSHD on another loopback address, such as "::1"
// (see IPv6Loopback).
func StartSSHDOn(t testing.TB, host, authorizedKeys string, extra ...string) *SSHD {
	t.Helper()
	Root(t)
	sshd := LookPath(t, "sshd")
	LookPath(t, "ssh")
	// sshd's privilege separation folder; test-setup.sh makes it too.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostPub := SSHKey(t, dir, "host", "host")
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, []byte(authorizedKeys), 0o600); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s := &SSHD{Host: host, Port: port, KnownHosts: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(s.KnownHosts, []byte("["+host+"]:"+port+" "+hostPub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "sshd_config")
	lines := append([]string{
		"ListenAddress " + net.JoinHostPort(host, port),
		"HostKey " + filepath.Join(dir, "host"),
		"AuthorizedKeysFile " + authorized,
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PidFile none",
	}, extra...)
	if err := os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s.cmd = exec.Command(sshd, "-D", "-e", "-f", config)
	s.cmd.Stderr = &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.Log())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", net.JoinHostPort(host, port)); err == nil {
			c.Close()
			return s
		}
		if i == 200 {
			t.Fatalf("sshd does not listen on %s:\n%s", net.JoinHostPort(host, port), s.Log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Stop ends sshd; the test may then check what a client does without it.
func (s *SSHD) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// Log is what sshd has logged so far.
func (s *SSHD) Log() string { return s.log.String() }

// lockedBuffer collects sshd's stderr, written by os/exec's copying
// goroutine while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// IPv6Loopback skips the test when this machine cannot listen on ::1 (a
// kernel or container without IPv6). It is a property of the machine,
// not an install step, so it skips even under BAKC_TEST_REQUIRE_ALL.
func IPv6Loopback(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
}
