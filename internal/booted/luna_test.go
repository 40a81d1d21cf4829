package booted_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
)

// luna (examples/homelab/hosts/luna.hcl): one ZFS dataset, tank/state,
// mounted at /var/lib, and one job "state" backing up /var/lib from a
// ZFS snapshot to the NAS over NFS.
//
// Stand-ins: tank is a zfs-fuse pool in a file (the job's unit gets
// what zfs-fuse needs only after the first subtest showed the run
// refusing without it), and its dataset is
// mounted at /var/lib before local-fs.target, holding the system's own
// /var/lib (dpkg, systemd, PostgreSQL state: copied into it at boot),
// as /var/lib is on luna. So the runtime's own state folder,
// /var/lib/bakc (made by systemd-tmpfiles at boot, after the dataset is
// mounted), lies on the dataset that the job snapshots: the layout of
// defect 1. The NFS export is a tmpfs (standInNFS).

func setupLuna(t *testing.T, m *booted.Machine, p *plan.Plan) {
	standInNFS(t, m, p)
	for _, pool := range pools(p) {
		m.AddPool(pool)
	}
	// luna's own data under /var/lib, next to the system's.
	m.WriteFile("/var/lib/grafana/grafana.db", []byte("luna's dashboards\n"), 0o640)
	// Not needed on luna; its state still lies in /var/lib.
	m.Mask("postgresql.service")
}

// Defect 1 (issue 8): the runtime writes its exclude file into
// /var/lib/bakc after the read-only snapshot view is mounted over
// /var/lib, and exits 4 ("writing the exclude file: … read-only file
// system") on every run. Right: the run succeeds, and the snapshot holds
// /var/lib at its original path.
func insideLuna(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	checkPools(t, p)
	nas := initNFSRepository(t, p, "nas")

	// new-2: the unit as generated (for kernel ZFS) has no CAP_SYS_PTRACE,
	// so on zfs-fuse the run cannot read the daemon's mount namespace. It
	// used to guess, snapshot, and leave its clones and snapshots behind
	// (exit 6). Right: it refuses at its first zfs command, before any
	// snapshot, and says what the unit lacks; nothing is left.
	t.Run("new-2-zfs-fuse-without-ptrace-refused-early", func(t *testing.T) {
		run(t, "bakc-backup-state.service", "exit-code", 6)
		checkNoSnapshotLeft(t)
		checkNoViewLeft(t)
		ms := metrics(t, p, "bakc-backup-state.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "state", "nas"))
		assert.Equal(t, 0.0, ms[`bakc_backup_last_success_timestamp_seconds{job="state",repository="nas"}`])
		lines := errorLinesOf(t, p, "backup", "state")
		if assert.Len(t, lines, 1) {
			assert.Equal(t, "snapshot", string(lines[0].Phase))
			assert.Contains(t, lines[0].Message, "CAP_SYS_PTRACE")
		}
		assert.Empty(t, nas.snapshots(t, "job:state"), "nothing was backed up")
	})
	booted.DropIn(t, "bakc-backup-state.service", booted.ZFSFuseDropInName, booted.ZFSFuseDropIn)

	t.Run("defect-1-backup-state", func(t *testing.T) {
		run(t, "bakc-backup-state.service", "success", 0)
		checkNoSnapshotLeft(t)
		ms := metrics(t, p, "bakc-backup-state.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "state", "nas"))
		assert.Len(t, errorLinesOf(t, p, "backup", "state"), 1, "only the refused run's line")
		snaps := nas.snapshots(t, "job:state")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Equal(t, []string{"/var/lib"}, snaps[0].Paths)
		files := nas.files(t, snaps[0].ID)
		assert.Contains(t, files, "/var/lib/grafana/grafana.db")
		assert.Contains(t, files, "/var/lib/dpkg/status", "the system's own /var/lib, on the dataset")
	})
	// new-1 (not in issue 8): the ZFS job's unit runs as root and, on a
	// fresh node, made <state>/locks and the error log owned by root;
	// every unit that runs as the backup user then failed to take its
	// lock (exit 5) and could not append to the error log. Right: they
	// work. The prune runs as the backup user after the root runs above,
	// which made the error log; then it fails once on purpose (a wrong
	// password in its password file for a moment) and must append its
	// own line.
	t.Run("new-1-prune-after-root-job", func(t *testing.T) {
		run(t, "bakc-prune-nas.service", "success", 0)
		ms := metrics(t, p, "bakc-prune-nas.prom")
		assert.Equal(t, 1.0, ms[`bakc_prune_result{repository="nas",result="success"}`], "%v", ms)
		nas.check(t)

		r, ok := p.Repository("nas")
		require.True(t, ok)
		password, err := os.ReadFile(r.PasswordFile)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(r.PasswordFile, []byte("not the password\n"), 0o400))
		failed := booted.Start(t, "bakc-prune-nas.service")
		require.NoError(t, os.WriteFile(r.PasswordFile, password, 0o400))
		assert.Equal(t, "exit-code", failed.Result, "%s\n%s", failed, booted.Journal(failed.Unit))
		lines := errorLinesOf(t, p, "prune", "")
		if assert.Len(t, lines, 1, "the backup user's line, appended to the log root made") {
			assert.Equal(t, "nas", lines[0].Repository)
		}
	})
}
