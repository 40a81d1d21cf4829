package runtime_test

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
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
	key      string // the client's private key (root's, mode 0600)
	hostLine string // its known_hosts line, "[127.0.0.1]:PORT ssh-ed25519 …"
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	dir := t.TempDir()
	pub := testenv.SSHKey(t, dir, "client", "client")
	srv := testenv.StartSSHD(t, pub+"\n", "PermitRootLogin prohibit-password", "Subsystem sftp internal-sftp")
	line, err := os.ReadFile(srv.KnownHosts)
	require.NoError(t, err)
	return &sshServer{SSHD: srv, key: filepath.Join(dir, "client"), hostLine: strings.TrimSpace(string(line))}
}

// sftpRepository makes repo an sftp repository behind srv the way the
// compiler lowers an ssh block with inline known_hosts: the identity,
// the lines, and the file the units install them in.
func sftpRepository(t *testing.T, repo *plan.Repository, srv *sshServer, remote string, hostLines ...string) {
	t.Helper()
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, []byte(strings.Join(hostLines, "\n")+"\n"), 0o644))
	repo.Kind, repo.URL = plan.KindSFTP, "sftp://root@127.0.0.1:"+srv.Port+"/"+remote
	repo.SSH = &plan.SSH{User: "root", Host: "127.0.0.1", Port: srv.Port,
		IdentityFile: srv.key, KnownHostsFile: knownHosts, KnownHosts: hostLines}
}

// A repository over sftp as the plan declares it: restic, as the backup
// user (whose home has no key and no known_hosts), reaches the test's
// sshd through the ssh command the runtime builds from the repository's
// ssh block alone, and the backup completes and is listed. With a host key
// that is not the server's the run fails with category auth and ssh's own
// words; with a key the server does not know, auth too; with sshd gone,
// network.
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
	otherDir := t.TempDir()
	otherHostKey := testenv.SSHKey(t, otherDir, "other-host", "other-host")
	testenv.SSHKey(t, otherDir, "stranger", "stranger")
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			srv := startSSHD(t)
			f := newFixture(t, r)
			remote := filepath.Join(t.TempDir(), "remote-repo")
			restictest.InitRepo(t, r, remote)
			repo := f.repository("local")
			sftpRepository(t, repo, srv, remote, srv.hostLine)
			o := f.options() // no -o of its own: the plan says everything

			rep := f.backup(o)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
			require.Equal(t, runtime.OutcomeComplete, rep.Repositories[0].Outcome)
			direct := &restic.Restic{Binary: r.Path, Repo: remote, PasswordFile: repo.PasswordFile}
			snaps, err := direct.Snapshots(t.Context(), "forge", "job:home")
			require.NoError(t, err)
			require.Len(t, snaps, 1, "the snapshot is in the repository behind sshd")

			failsWith := func(what string, category restic.Category, words ...string) {
				t.Helper()
				before := len(f.errorLines())
				rep := f.backup(o)
				if rep.ExitCode == runtime.ExitOK {
					t.Fatalf("%s: the backup succeeded", what)
				}
				lines := f.errorLines()
				require.Len(t, lines, before+1, what)
				got := lines[before]
				if got.Category != category || got.Repository != "local" {
					t.Errorf("%s: error line %+v; want category %s", what, got, category)
				}
				for _, w := range words {
					if !strings.Contains(strings.ToLower(got.Message), w) {
						t.Errorf("%s: message %q lacks %q", what, got.Message, w)
					}
				}
			}

			// The server's key is not the one declared.
			wrong := "[127.0.0.1]:" + srv.Port + " " + otherHostKey
			sftpRepository(t, repo, srv, remote, wrong)
			failsWith("a wrong host key", restic.CategoryAuth, "host key verification failed")

			// A key the server does not accept.
			sftpRepository(t, repo, srv, remote, srv.hostLine)
			repo.SSH.IdentityFile = filepath.Join(otherDir, "stranger")
			failsWith("an unknown client key", restic.CategoryAuth, "permission denied (publickey")

			// The installed known_hosts file is not the plan's.
			sftpRepository(t, repo, srv, remote, srv.hostLine)
			require.NoError(t, os.WriteFile(repo.SSH.KnownHostsFile, []byte(wrong+"\n"), 0o644))
			failsWith("a stale known_hosts file", restic.CategoryAuth, "lacks the host key")

			sftpRepository(t, repo, srv, remote, srv.hostLine)
			srv.Stop()
			failsWith("sshd gone", restic.CategoryNetwork)
		})
	}
}
