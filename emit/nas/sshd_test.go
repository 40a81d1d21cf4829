package nas

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	ssh := testenv.LookPath(t, "ssh")
	pool := testenv.ZFSPool(t, 128<<20)
	dir := t.TempDir()
	good := testenv.SSHKey(t, dir, "client", "root@forge")
	elsewhere := testenv.SSHKey(t, dir, "elsewhere", "root@forge")

	var keys strings.Builder
	for _, r := range []plan.Receive{
		{User: "bakc-recv-forge", PublicKey: good, From: "127.0.0.1", Permissions: []string{"receive"}},
		{User: "bakc-recv-forge", PublicKey: elsewhere, From: "192.0.2.1", Permissions: []string{"receive"}},
	} {
		line, err := authorizedKey(&r)
		require.NoError(t, err)
		keys.WriteString(line)
	}
	srv := testenv.StartSSHD(t, keys.String(),
		"PermitRootLogin forced-commands-only", "UseDNS no", "LogLevel VERBOSE")
	port := srv.Port

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
