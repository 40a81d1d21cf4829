package runtime_test

import (
	"fmt"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// sshServer is an sshd of the test's own (testenv.StartSSHD) that lets
// root in with a key made for the test, and serves sftp.
type sshServer struct {
	*testenv.SSHD
	key string // the client's private key
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	dir := t.TempDir()
	pub := testenv.SSHKey(t, dir, "client", "client")
	srv := testenv.StartSSHD(t, pub+"\n", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp")
	return &sshServer{SSHD: srv, key: filepath.Join(dir, "client")}
}

// sftpCommand is restic's sftp.command for this server. The ssh client
// runs as the backup user (restic does): the key and known_hosts are
// root's files, read through the ambient capability.
func (s *sshServer) sftpCommand() string {
	return fmt.Sprintf("ssh -p %s -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes root@127.0.0.1 -s sftp", s.Port, s.key, s.KnownHosts)
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

			srv.Stop()
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
