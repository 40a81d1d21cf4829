package nas

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// TestReplicationKeyWithSSHD proves the authorized_keys line with a real
// sshd on 127.0.0.1: sshd accepts its options, the forced command runs
// zfs receive, list and get (a real `zfs send | ssh … zfs receive` into
// the pool) and refuses everything else without running it, and from=
// refuses a client from another address.
//
// The login is root's, with AuthorizedKeysFile pointed at a temporary
// file, since this machine's /etc must not get a replication user; root
// also bypasses zfs allow, which zfs-fuse lacks. What is proven is the
// key line and its forced command, not delegation.
func TestReplicationKeyWithSSHD(t *testing.T) {
	testenv.Root(t)
	sshd := testenv.LookPath(t, "sshd")
	ssh := testenv.LookPath(t, "ssh")
	keygen := testenv.LookPath(t, "ssh-keygen")
	if _, err := os.Stat("/run/sshd"); err != nil {
		if testenv.RequireAll() {
			t.Fatalf("/run/sshd: %v (run ./scripts/test-setup.sh)", err)
		}
		t.Skipf("/run/sshd: %v (run ./scripts/test-setup.sh)", err)
	}
	pool := testenv.ZFSPool(t, 128<<20)
	dir := t.TempDir()
	key := func(name string) string {
		out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "root@forge", "-f", filepath.Join(dir, name)).CombinedOutput()
		require.NoError(t, err, "%s", out)
		pub, err := os.ReadFile(filepath.Join(dir, name+".pub"))
		require.NoError(t, err)
		return strings.TrimSpace(string(pub))
	}
	key("host")
	good := key("client")
	elsewhere := key("elsewhere")

	var keys strings.Builder
	for _, r := range []plan.Receive{
		{User: "bakc-recv-forge", PublicKey: good, From: "127.0.0.1", Permissions: []string{"receive"}},
		{User: "bakc-recv-forge", PublicKey: elsewhere, From: "192.0.2.1", Permissions: []string{"receive"}},
	} {
		line, err := authorizedKey(&r)
		require.NoError(t, err)
		keys.WriteString(line)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	require.NoError(t, os.WriteFile(authorized, []byte(keys.String()), 0o600))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	config := filepath.Join(dir, "sshd_config")
	require.NoError(t, os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1:" + port,
		"HostKey " + filepath.Join(dir, "host"),
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin forced-commands-only",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PidFile none",
		"UseDNS no",
		"LogLevel VERBOSE",
		"",
	}, "\n")), 0o600))
	var sshdLog bytes.Buffer
	daemon := exec.Command(sshd, "-D", "-e", "-f", config)
	daemon.Stderr = &sshdLog
	require.NoError(t, daemon.Start())
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", sshdLog.String())
		}
	})

	run := func(identity string, stdin []byte, command ...string) (string, string, int) {
		args := []string{"-T", "-i", filepath.Join(dir, identity), "-p", port,
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "root@127.0.0.1"}
		cmd := exec.Command(ssh, append(args, command...)...)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("ssh: %v", err)
		}
		return stdout.String(), stderr.String(), code
	}
	// sshd needs a moment to listen.
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		require.Less(t, i, 100, "sshd does not listen:\n%s", sshdLog.String())
		time.Sleep(50 * time.Millisecond)
	}

	out, errOut, code := run("client", nil, "zfs", "list", "-H", "-o", "name", pool)
	require.Equal(t, 0, code, "zfs list through the key: %s", errOut)
	require.Equal(t, pool+"\n", out)

	// A real replication: send a snapshot through the key.
	zfsCmd(t, "create", pool+"/src")
	require.NoError(t, os.WriteFile(filepath.Join(zfsMountpoint(t, pool+"/src"), "data"), []byte("replicated"), 0o644))
	zfsCmd(t, "snapshot", pool+"/src@one")
	stream, err := exec.Command(testenv.LookPath(t, "zfs"), "send", pool+"/src@one").Output()
	require.NoError(t, err)
	_, errOut, code = run("client", stream, "zfs", "receive", "-u", pool+"/copy")
	require.Equal(t, 0, code, "zfs receive through the key: %s", errOut)
	require.Equal(t, pool+"/copy@one\t-\n", zfsList(t, pool+"/copy@one"))

	marker := filepath.Join(dir, "pwned")
	for _, command := range [][]string{
		{"touch", marker},
		{"zfs", "destroy", pool + "/copy"},
		{"zfs list; touch " + marker},
		{"zfs", "list", "$(touch " + marker + ")"},
		{"zfs", "list", "`touch " + marker + "`"},
		{"sh", "-c", "'touch " + marker + "'"},
		{},
	} {
		_, errOut, code := run("client", nil, command...)
		if code == 0 {
			t.Errorf("%q ran through the key", command)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q ran something: %s exists", command, marker)
		}
		if strings.Join(command, " ") != "zfs list $(touch "+marker+")" && strings.Join(command, " ") != "zfs list `touch "+marker+"`" &&
			!strings.Contains(errOut, "bakc: this key may only run zfs receive, zfs list or zfs get") {
			t.Errorf("%q: refusal does not say why: %q", command, errOut)
		}
	}
	require.Equal(t, pool+"/copy@one\t-\n", zfsList(t, pool+"/copy@one"), "the copy must survive the refused destroy")

	// The second key is bound to another address: sshd refuses it.
	_, _, code = run("elsewhere", nil, "zfs", "list", "-H", pool)
	if code != 255 {
		t.Errorf("a key with from=\"192.0.2.1\" logged in from 127.0.0.1 (exit %d)", code)
	}
}

func zfsMountpoint(t *testing.T, ds string) string {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "zfs"), "get", "-H", "-o", "value", "mountpoint", ds).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func zfsList(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(testenv.LookPath(t, "zfs"), "list", "-H", "-t", "snapshot", "-o", "name,mountpoint", name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}
