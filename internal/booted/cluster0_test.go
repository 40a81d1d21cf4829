package booted_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
)

// cluster-0 (examples/homelab/hosts/cluster-0.hcl): no ZFS; one job,
// etcd, backing up /var/lib/etcd to an sftp repository
// (sftp:restic@nas-1.holthome.net:/srv/restic/cluster-0).
//
// Stand-in: nas-1 is the machine itself (/etc/hosts), its own sshd (the
// tree's, started at boot) with a user "restic" (uid nasUID) whose
// home holds the repository and an authorized key. The key's private
// half is the node's secret /run/secrets/restic-ssh-key, readable by the
// backup user; the host key to trust is the machine's own
// (/etc/ssh/ssh_host_ed25519_key.pub). Nothing in the language can say
// either today: that is defect 3.

// nasUID is the uid of the stand-in NAS's restic user.
const nasUID = 2050

const sftpRepoDir = "/srv/restic/cluster-0"

func setupCluster0(t *testing.T, m *booted.Machine, p *plan.Plan) {
	// The stand-in NAS's user, made at boot by systemd-sysusers.
	m.WriteFile("/etc/sysusers.d/bakc-test-nas.conf", []byte("u restic 2050 \"restic on the stand-in NAS\" /srv/restic /bin/sh\n"), 0o644)
	key := t.TempDir()
	pub := testenv.SSHKey(t, key, "id", "bakc@cluster-0")
	m.WriteFile("/srv/restic/.ssh/authorized_keys", []byte(pub+"\n"), 0o644)
	m.MkdirOwned(sftpRepoDir, 0o700, nasUID, nasUID)
	priv, err := os.ReadFile(filepath.Join(key, "id"))
	require.NoError(t, err)
	m.WriteFileOwned("/run/secrets/restic-ssh-key", priv, 0o400, p.User.UID, p.User.GID)

	m.MkdirOwned("/var/lib/etcd", 0o700, 0, 0)
	m.WriteFileOwned("/var/lib/etcd/member/snap/db", []byte("etcd's database\n"), 0o600, 0, 0)
	m.Mask("postgresql.service")
}

// Defect 3 (issue 8): the backup user's home is /var/empty, so restic's
// ssh has no identity and no known_hosts, and nothing in the language
// declares them. Right: the job backs up over sftp to nas-1.
func insideCluster0(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	// The NAS side, as its administrator made it: an initialised
	// repository owned by the restic user (read here through its folder).
	nas := openRepo(t, p, "nas-sftp", sftpRepoDir, 0)
	nas.run("init")
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
		snaps := nas.snapshots("job:etcd")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Contains(t, nas.files(snaps[0].ID), "/var/lib/etcd/member/snap/db")
		nas.check()
	})
}
