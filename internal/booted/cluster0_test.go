package booted_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
)

// cluster-0 (examples/homelab/hosts/cluster-0.hcl): no ZFS; one job,
// etcd, backing up /var/lib/etcd to an sftp repository
// (sftp:restic@nas-1.holthome.net:/srv/restic/cluster-0) with an ssh
// block: an identity file and nas-1's host key line.
//
// Stand-in: nas-1 is the machine itself (/etc/hosts), its own sshd (the
// tree's, started at boot) with the host key whose public line the
// example declares (testdata/nas-1-ssh_host_ed25519_key, a fixture: the
// example's line is an example's), and a user "restic" (uid nasUID) whose
// home holds the repository and authorises a key the test generates and
// writes at the example's identity_file, owned by the backup user with
// mode 0400 (as sops-nix would install it).

// nasUID is the uid of the stand-in NAS's restic user.
const nasUID = 2050

const sftpRepoDir = "/srv/restic/cluster-0"

// nasHostKey is the stand-in NAS's ed25519 host key (private half; the
// public one is beside it).
const nasHostKey = "testdata/nas-1-ssh_host_ed25519_key"

func setupCluster0(t *testing.T, m *booted.Machine, p *plan.Plan) {
	r, ok := p.Repository("nas-sftp")
	require.True(t, ok)
	require.NotNil(t, r.SSH, "the example's sftp repository has an ssh block")

	// The host key: its public line is the one the example declares.
	hostKey, err := os.ReadFile(nasHostKey)
	require.NoError(t, err)
	hostPub, err := os.ReadFile(nasHostKey + ".pub")
	require.NoError(t, err)
	keyOf := func(line string) string { // "type base64", without host names or comment
		f := strings.Fields(line)
		for i := range f {
			if strings.HasPrefix(f[i], "ssh-") && i+1 < len(f) {
				return f[i] + " " + f[i+1]
			}
		}
		return ""
	}
	require.Len(t, r.SSH.KnownHosts, 1)
	require.Equal(t, keyOf(string(hostPub)), keyOf(r.SSH.KnownHosts[0]),
		"examples/homelab/hosts/cluster-0.hcl declares the host key of %s.pub", nasHostKey)
	m.WriteFile("/etc/ssh/ssh_host_ed25519_key", hostKey, 0o600)
	m.WriteFile("/etc/ssh/ssh_host_ed25519_key.pub", hostPub, 0o644)
	// Only that host key: the tree's others would be offered too.
	m.WriteFile("/etc/ssh/sshd_config.d/bakc-test.conf", []byte("HostKey /etc/ssh/ssh_host_ed25519_key\n"), 0o644)

	// The stand-in NAS's user, made at boot by systemd-sysusers, and
	// the node's key, authorised for it.
	m.WriteFile("/etc/sysusers.d/bakc-test-nas.conf", []byte("u restic 2050 \"restic on the stand-in NAS\" /srv/restic /bin/sh\n"), 0o644)
	key := t.TempDir()
	pub := testenv.SSHKey(t, key, "id", "bakc@cluster-0")
	m.WriteFile("/srv/restic/.ssh/authorized_keys", []byte(pub+"\n"), 0o644)
	m.MkdirOwned(sftpRepoDir, 0o700, nasUID, nasUID)
	priv, err := os.ReadFile(filepath.Join(key, "id"))
	require.NoError(t, err)
	m.WriteFileOwned(r.SSH.IdentityFile, priv, 0o400, p.User.UID, p.User.GID)

	m.MkdirOwned("/var/lib/etcd", 0o700, 0, 0)
	m.WriteFileOwned("/var/lib/etcd/member/snap/db", []byte("etcd's database\n"), 0o600, 0, 0)
	m.Mask("postgresql.service")
}

// Defect 3 (issue 8): the backup user's home is /var/empty, so restic's
// ssh had no identity and no known_hosts, and nothing in the language
// declared them. Right: with the ssh block, the job backs up over sftp to
// nas-1, checking nas-1's host key against the declared line.
func insideCluster0(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	// The NAS side, as its administrator made it: an initialised
	// repository owned by the restic user (read here through its folder).
	nas := openRepo(t, p, "nas-sftp", sftpRepoDir, 0)
	nas.run(t, "init")
	require.NoError(t, filepath.Walk(sftpRepoDir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, nasUID, nasUID)
	}))
	t.Run("defect-3-backup-etcd", func(t *testing.T) {
		run(t, "bakc-backup-etcd.service", "success", 0)
		ms := metrics(t, p, "bakc-backup-etcd.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "etcd", "nas-sftp"))
		assert.Empty(t, errorLinesOf(t, p, "backup", "etcd"))
		snaps := nas.snapshots(t, "job:etcd")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Contains(t, nas.files(t, snaps[0].ID), "/var/lib/etcd/member/snap/db")
		nas.check(t)
	})
	t.Run("prune-nas-sftp", func(t *testing.T) {
		run(t, "bakc-prune-nas-sftp.service", "success", 0)
		nas.check(t)
	})
	// nas-1 reinstalled: its host key is not the declared one any more.
	// ssh refuses it; the run fails its preflight with category auth and
	// says what to check, and nothing is written.
	t.Run("host-key-changed-refused", func(t *testing.T) {
		require.NoError(t, os.Remove("/etc/ssh/ssh_host_ed25519_key"))
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "/etc/ssh/ssh_host_ed25519_key").CombinedOutput()
		require.NoError(t, err, "%s", out)
		booted.Systemctl(t, "restart", "ssh.service")
		run(t, "bakc-backup-etcd.service", "exit-code", 4)
		lines := errorLinesOf(t, p, "backup", "etcd")
		if assert.Len(t, lines, 1) {
			assert.Equal(t, "auth", string(lines[0].Category), "%+v", lines[0])
			assert.Contains(t, lines[0].Message, "host key")
		}
		assert.Len(t, nas.snapshots(t, "job:etcd"), 1, "nothing new was written")
	})
}
