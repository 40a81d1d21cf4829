package runtime_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// sshServer is an sshd of the test's own on 127.0.0.1: host and user keys
// made for the test, a private sshd_config, root's login by key only.
type sshServer struct {
	port       string
	key        string // the client's private key
	knownHosts string
	cmd        *exec.Cmd
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	testenv.Root(t)
	sshd := testenv.LookPath(t, "sshd")
	keygen := testenv.LookPath(t, "ssh-keygen")
	testenv.LookPath(t, "ssh")
	if _, err := os.Stat("/run/sshd"); err != nil {
		require.NoError(t, os.MkdirAll("/run/sshd", 0o755)) // sshd's privilege separation folder
	}
	dir := t.TempDir()
	for _, name := range []string{"host", "client"} {
		out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", filepath.Join(dir, name)).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	clientPub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	require.NoError(t, err)
	authorized := filepath.Join(dir, "authorized_keys")
	require.NoError(t, os.WriteFile(authorized, clientPub, 0o600))
	hostPub, err := os.ReadFile(filepath.Join(dir, "host.pub"))
	require.NoError(t, err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	known := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte("[127.0.0.1]:"+port+" "+string(hostPub)), 0o644))

	config := filepath.Join(dir, "sshd_config")
	require.NoError(t, os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress 127.0.0.1:" + port,
		"HostKey " + filepath.Join(dir, "host"),
		"AuthorizedKeysFile " + authorized,
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PidFile none",
		"Subsystem sftp internal-sftp",
		"",
	}, "\n")), 0o600))
	s := &sshServer{port: port, key: filepath.Join(dir, "client"), knownHosts: known}
	s.cmd = exec.Command(sshd, "-D", "-e", "-f", config)
	var logs strings.Builder
	s.cmd.Stderr = &logs
	require.NoError(t, s.cmd.Start())
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("sshd:\n%s", logs.String())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		require.Less(t, i, 200, "sshd does not listen")
		time.Sleep(25 * time.Millisecond)
	}
	return s
}

func (s *sshServer) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// sftpCommand is restic's sftp.command for this server. The ssh client
// runs as the backup user (restic does): the key and known_hosts are
// root's files, read through the ambient capability.
func (s *sshServer) sftpCommand() string {
	return fmt.Sprintf("ssh -p %s -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes root@127.0.0.1 -s sftp", s.port, s.key, s.knownHosts)
}

// A repository over sftp: restic, as the backup user, reaches the test's
// sshd through its ssh, the backup completes and is listed; with sshd gone
// the run fails with category network and an error line.
func TestBackupOverSFTP(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	if _, err := user.LookupId(strconv.Itoa(backupUID)); err != nil {
		msg := fmt.Sprintf("ssh needs a passwd entry for the backup user %d (run ./scripts/test-setup.sh)", backupUID)
		if testenv.RequireAll() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			srv := startSSHD(t)
			f := newFixture(t, r)
			remote := filepath.Join(t.TempDir(), "remote-repo")
			restictest.InitRepo(t, r, remote)
			repo := f.repository("local")
			repo.Kind, repo.URL = plan.KindSFTP, "sftp:root@127.0.0.1:"+remote
			o := f.options()
			o.ResticOptions = []string{"sftp.command=" + srv.sftpCommand()}

			rep := f.backup(o)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
			require.Equal(t, runtime.OutcomeComplete, rep.Repositories[0].Outcome)
			direct := &restic.Restic{Binary: r.Path, Repo: remote, PasswordFile: repo.PasswordFile}
			snaps, err := direct.Snapshots(t.Context(), "forge", "job:home")
			require.NoError(t, err)
			require.Len(t, snaps, 1, "the snapshot is in the repository behind sshd")

			srv.stop()
			rep = f.backup(o)
			if rep.ExitCode != runtime.ExitTaskFailed {
				t.Errorf("exit code %d with sshd gone, want %d", rep.ExitCode, runtime.ExitTaskFailed)
			}
			lines := f.errorLines()
			require.Len(t, lines, 1)
			if lines[0].Category != restic.CategoryNetwork || lines[0].Repository != "local" {
				t.Errorf("error line %+v; want category network", lines[0])
			}
		})
	}
}
