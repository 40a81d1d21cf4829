package booted_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
)

// luna (examples/homelab/hosts/luna.hcl): one ZFS dataset, tank/state,
// mounted at /var/lib, and one job "state" backing up /var/lib from a
// ZFS snapshot to the NAS over NFS.
//
// Stand-ins: tank is a zfs-fuse pool in a file, and its dataset is
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
	t.Run("defect-1-backup-state", func(t *testing.T) {
		run(t, "bakc-backup-state.service", "success", 0)
		checkNoSnapshotLeft(t)
		ms := metrics(t, p, "bakc-backup-state.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "state", "nas"))
		assert.Empty(t, errorLinesOf(t, p, "backup", "state"))
		snaps := nas.snapshots("job:state")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Equal(t, []string{"/var/lib"}, snaps[0].Paths)
		files := nas.files(snaps[0].ID)
		assert.Contains(t, files, "/var/lib/grafana/grafana.db")
		assert.Contains(t, files, "/var/lib/dpkg/status", "the system's own /var/lib, on the dataset")
	})
	// new-1 (not in issue 8): the ZFS job's unit runs as root and, on a
	// fresh node, makes <state>/locks (and the error log) owned by root;
	// every unit that runs as the backup user then fails to take its
	// lock (exit 5) and cannot write the error log. Right: they work.
	t.Run("new-1-prune-after-root-job", func(t *testing.T) {
		run(t, "bakc-prune-nas.service", "success", 0)
		ms := metrics(t, p, "bakc-prune-nas.prom")
		assert.Equal(t, 1.0, ms[`bakc_prune_result{repository="nas",result="success"}`], "%v", ms)
		nas.check()
	})
}
