package booted_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/runtime/namespace"
)

// forge (examples/homelab/hosts/forge.hcl): ZFS datasets /home and
// /persist (rpool), an NFS repository nas-primary and a B2 repository
// cloud-secondary; jobs system (ZFS snapshot, NAS only), plex and
// databases (both repositories; databases with a pg_dumpall pre-backup
// hook).
//
// Stand-ins: rpool is a zfs-fuse pool in a file; the NFS export is a
// tmpfs (standInNFS); the B2 repository cannot be reached (no network in
// the machine), so it is the "repository unreachable" case: its runs fail
// with category network while the NAS repository still gets its snapshot
// and metrics. restic 0.18.1 gives up on B2 after about 60 s of retries.

// dbMarker is a row the test writes into PostgreSQL; the dump in the
// backup must contain it.
const dbMarker = "bakc-booted-marker-row"

func setupForge(t *testing.T, m *booted.Machine, p *plan.Plan) {
	standInNFS(t, m, p)
	forgeCommon(t, m, p)
}

// setupForgeNASDown installs forge's units exactly as generated, without
// the NFS stand-in: the mount unit's NFS mount fails here (no NFS client
// in the kernel), as it does on a node whose NAS is down.
func setupForgeNASDown(t *testing.T, m *booted.Machine, p *plan.Plan) {
	forgeCommon(t, m, p)
}

// forgeCommon: forge's pool, and its data at the original paths (moved
// onto the datasets at boot).
func forgeCommon(t *testing.T, m *booted.Machine, p *plan.Plan) {
	for _, pool := range pools(p) {
		m.AddPool(pool)
	}
	m.MkdirOwned("/home/alice", 0o700, 1000, 1000)
	m.WriteFileOwned("/home/alice/notes.txt", []byte("alice's notes\n"), 0o600, 1000, 1000)
	m.WriteFileOwned("/home/alice/.cache/thumbnail.bin", []byte("cache, excluded\n"), 0o600, 1000, 1000)
	m.WriteFile("/persist/etc/machine.conf", []byte("persistent state\n"), 0o644)
	m.WriteFile("/persist/var/lib/plex/Plex Media Server/Preferences.xml", []byte("<Preferences/>\n"), 0o644)
	m.WriteFile("/persist/var/lib/plex/Plex Media Server/Cache/PhotoTranscoder/thumb.jpg", []byte("excluded\n"), 0o644)
	uid, gid := treeUser(t, "postgres")
	m.MkdirOwned("/persist/var/lib/postgresql", 0o700, uid, gid)
}

func insideForge(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	checkPools(t, p)
	nas := initNFSRepository(t, p, "nas-primary")
	fillDatabase(t)

	// plex writes to both repositories: the unreachable B2 fails its
	// preflight (it does not open: exit 4), the NAS still gets its
	// snapshot and a complete result.
	t.Run("backup-plex", func(t *testing.T) {
		run(t, "bakc-backup-plex.service", "exit-code", 4)
		checkNASCompleteCloudFailed(t, p, "plex")
		snaps := nas.snapshots("job:plex")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.ElementsMatch(t, []string{"job:plex", "media-metadata", "plex"}, snaps[0].Tags)
		files := nas.files(snaps[0].ID)
		assert.Contains(t, files, "/persist/var/lib/plex/Plex Media Server/Preferences.xml")
		assert.NotContains(t, files, "/persist/var/lib/plex/Plex Media Server/Cache/PhotoTranscoder/thumb.jpg", "excluded by the job")
	})

	// Defect 2 (issue 8): the pre_backup hook `pg_dumpall > …` runs as
	// the bakc user (no PostgreSQL role), with ProtectSystem=strict and no
	// ReadWritePaths for the dump's folder. Right: the dump is made and
	// backed up to the NAS; only the unreachable B2 fails the run (in
	// its preflight: exit 4).
	t.Run("defect-2-backup-databases", func(t *testing.T) {
		run(t, "bakc-backup-databases.service", "exit-code", 4)
		checkNASCompleteCloudFailed(t, p, "databases")
		snaps := nas.snapshots("job:databases")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		dump := nas.run("dump", "--no-lock", snaps[0].ID, "/persist/var/lib/postgresql/dump.sql")
		assert.Contains(t, dump, dbMarker, "the dump holds the database's rows")
	})

	t.Run("maintenance-nas-primary", func(t *testing.T) {
		for _, task := range []string{"verify", "prune", "restore-test"} {
			run(t, "bakc-"+task+"-nas-primary.service", "success", 0)
			ms := metrics(t, p, "bakc-"+task+"-nas-primary.prom")
			metric := "bakc_" + strings.ReplaceAll(task, "-", "_") + "_result"
			assert.Equal(t, 1.0, ms[metric+`{repository="nas-primary",result="success"}`], "%s: %v", metric, ms)
		}
		nas.check()
	})

	// The same tasks on the unreachable B2 fail, each with an error line
	// of category network (started together: each waits out restic's
	// retries).
	//
	// new-3 (not in issue 8): after its retries restic 0.18.1 reports
	// either the failed name lookup (category network) or "context
	// deadline exceeded", which bakc does not recognise (category
	// unknown); which one depends on timing, so this fails now and then.
	t.Run("new-3-maintenance-cloud-secondary", func(t *testing.T) {
		units := []string{"bakc-verify-cloud-secondary.service", "bakc-prune-cloud-secondary.service", "bakc-restore-test-cloud-secondary.service"}
		for _, r := range booted.StartAll(t, units...) {
			assert.Equal(t, "exit-code", r.Result, "%s\n%s", r, booted.Journal(r.Unit))
			assert.True(t, r.Ran, r.String())
		}
		for _, task := range []string{"verify", "prune", "restore-test"} {
			lines := errorLinesOf(t, p, task, "")
			if assert.NotEmpty(t, lines, "an error line for %s of cloud-secondary", task) {
				assert.Equal(t, "network", string(lines[len(lines)-1].Category), "%+v", lines[len(lines)-1])
			}
		}
	})

	// The ZFS job runs last: its unit runs as root, the others as the
	// backup user, and on a fresh node a root run first leaves folders
	// the others cannot write (new-1, shown by luna).
	//
	// new-2 (not in issue 8): on zfs-fuse, under the unit's sandbox, the
	// run cannot destroy its clones (zfs destroy: "umount: … not
	// mounted", the daemon mounted them in the machine's own namespace),
	// exits 6 and leaves clones and snapshots behind.
	t.Run("new-2-backup-system", func(t *testing.T) {
		run(t, "bakc-backup-system.service", "success", 0)
		checkNoSnapshotLeft(t)
		ms := metrics(t, p, "bakc-backup-system.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "system", "nas-primary"))
		assert.Equal(t, 0.0, ms[`bakc_backup_exit_code{job="system"}`])
		assert.Empty(t, errorLinesOf(t, p, "backup", "system"))
		snaps := nas.snapshots("job:system")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Equal(t, []string{"/home", "/persist"}, snaps[0].Paths)
		assert.Equal(t, "forge", snaps[0].Hostname)
		files := nas.files(snaps[0].ID)
		assert.Contains(t, files, "/home/alice/notes.txt")
		assert.Contains(t, files, "/persist/etc/machine.conf")
		assert.NotContains(t, files, "/home/alice/.cache/thumbnail.bin", "excluded by **/.cache")
		assert.NotContains(t, files, "/persist/var/lib/plex/Plex Media Server/Preferences.xml", "excluded by the job")
	})

}

// checkNASCompleteCloudFailed: a job of both repositories, with B2
// unreachable: nas-primary complete, cloud-secondary failed with one
// error line of category network, and none for the NAS.
func checkNASCompleteCloudFailed(t *testing.T, p *plan.Plan, job string) {
	t.Helper()
	ms := metrics(t, p, "bakc-backup-"+job+".prom")
	assert.Equal(t, "complete", backupResult(t, ms, job, "nas-primary"), "nas-primary")
	assert.Equal(t, "failed", backupResult(t, ms, job, "cloud-secondary"), "cloud-secondary")
	lines := errorLinesOf(t, p, "backup", job)
	var repos []string
	for _, l := range lines {
		repos = append(repos, l.Repository)
		if l.Repository == "cloud-secondary" {
			assert.Equal(t, "network", string(l.Category), "%+v", l)
		}
	}
	assert.Equal(t, []string{"cloud-secondary"}, repos, "error lines of %s: %+v", job, lines)
}

// Defect 4 (issue 8): every backup unit of a job with an NFS repository
// has RequiresMountsFor= its mountpoint, so with the NAS down systemd
// does not start the service at all: no metrics, no error line, and the
// job's B2 repository is not even tried. Right (docs/runtime.md): the
// run happens; the NAS repository fails its preflight and is reported,
// the other repository is still backed up (here it is unreachable too,
// so restic's own exit code in its error line shows that it was tried).
func insideForgeNASDown(t *testing.T, p *plan.Plan) {
	checkPools(t, p)
	t.Run("defect-4-backup-system", func(t *testing.T) {
		run(t, "bakc-backup-system.service", "exit-code", 4)
		checkNoSnapshotLeft(t)
		ms := metrics(t, p, "bakc-backup-system.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "system", "nas-primary"))
		lines := errorLinesOf(t, p, "backup", "system")
		if assert.Len(t, lines, 1) {
			assert.Equal(t, "nas-primary", lines[0].Repository)
			assert.Equal(t, "preflight", string(lines[0].Phase))
		}
	})
	t.Run("defect-4-backup-plex", func(t *testing.T) {
		run(t, "bakc-backup-plex.service", "exit-code", 4)
		ms := metrics(t, p, "bakc-backup-plex.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "plex", "nas-primary"))
		assert.Equal(t, "failed", backupResult(t, ms, "plex", "cloud-secondary"))
		byRepo := map[string]bool{}
		for _, l := range errorLinesOf(t, p, "backup", "plex") {
			byRepo[l.Repository] = true
			if l.Repository == "cloud-secondary" {
				assert.NotNil(t, l.ResticExitCode, "restic ran against cloud-secondary: %+v", l)
			}
		}
		assert.True(t, byRepo["nas-primary"] && byRepo["cloud-secondary"], "an error line for each repository: %v", byRepo)
	})
}

// insideForgeRestic014 runs forge's units with Debian's restic 0.14
// only: the ZFS job, then the NAS repository's tasks (which show new-1:
// the root ZFS job ran first on this node; see luna). The jobs that also
// write to B2 are left out here: restic 0.14 keeps retrying an
// unreachable B2 without end, so each would wait out bakc's open bound
// (--open-timeout, 2 minutes), which cmd/bakc's
// TestRunBackupUnreachableRepository already shows with 0.14.
func insideForgeRestic014(t *testing.T, p *plan.Plan) {
	out, err := exec.Command("restic", "version").Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "restic 0.14.", "the units' restic (the first on systemd's PATH)")
	checkInstall(t, p)
	nas := initNFSRepository(t, p, "nas-primary")
	t.Run("new-2-backup-system", func(t *testing.T) {
		run(t, "bakc-backup-system.service", "success", 0)
		checkNoSnapshotLeft(t)
		ms := metrics(t, p, "bakc-backup-system.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "system", "nas-primary"))
		snaps := nas.snapshots("job:system")
		if !assert.Len(t, snaps, 1, "snapshots") {
			return
		}
		assert.Contains(t, nas.files(snaps[0].ID), "/home/alice/notes.txt")
	})
	t.Run("new-1-maintenance-nas-primary", func(t *testing.T) {
		for _, task := range []string{"verify", "prune", "restore-test"} {
			run(t, "bakc-"+task+"-nas-primary.service", "success", 0)
		}
		nas.check()
	})
}

// checkPools: the stand-in pools are mounted where the plan's datasets
// say (sanity of the test's own setup).
func checkPools(t *testing.T, p *plan.Plan) {
	t.Helper()
	ms, err := namespace.Mounts()
	require.NoError(t, err)
	for _, d := range p.Node.Datasets {
		top, ok := namespace.Lookup(ms, d.Mountpoint)
		require.True(t, ok && top.Mountpoint == d.Mountpoint && top.Source == d.Name,
			"dataset %s is mounted at %s (%+v)", d.Name, d.Mountpoint, top)
	}
}

// checkNoSnapshotLeft: a run of a ZFS job leaves no snapshot, clone or
// view behind.
func checkNoSnapshotLeft(t *testing.T) {
	t.Helper()
	out, err := exec.Command("zfs", "list", "-H", "-t", "all", "-o", "name").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		assert.NotContains(t, l, "bakc-", "left behind by a run: %s", l)
	}
}

// initNFSRepository mounts an NFS repository (its mount unit, as
// generated, with the stand-in drop-in) and initialises it as the
// backup user, as an administrator does before the first run (init =
// false in the example: the runtime refuses a missing repository).
func initNFSRepository(t *testing.T, p *plan.Plan, name string) *repo {
	t.Helper()
	r, ok := p.Repository(name)
	require.True(t, ok)
	out, err := exec.Command("systemd-escape", "--path", "--suffix=mount", r.NFS.Mountpoint).Output()
	require.NoError(t, err)
	booted.Systemctl(t, "start", strings.TrimSpace(string(out)))
	ms, err := namespace.Mounts()
	require.NoError(t, err)
	top, ok := namespace.Lookup(ms, r.NFS.Mountpoint)
	require.True(t, ok && top.Mountpoint == r.NFS.Mountpoint && top.Source == r.NFS.Source(), "%s is mounted from %s: %+v", r.NFS.Mountpoint, r.NFS.Source(), top)
	nas := openRepo(t, p, name, "", p.User.UID)
	nas.run("init")
	return nas
}

// fillDatabase writes a table with dbMarker into PostgreSQL (Debian's
// cluster, running at boot), for the databases job's dump.
func fillDatabase(t *testing.T) {
	t.Helper()
	booted.Systemctl(t, "start", "postgresql.service")
	asUser(t, "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE inventory")
	asUser(t, "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-d", "inventory", "-c",
		"CREATE TABLE items (name text); INSERT INTO items VALUES ('"+dbMarker+"')")
}

// treeUser is a user's uid and gid in the tree's /etc/passwd (a
// package's system user, made when the tree was built).
func treeUser(t *testing.T, name string) (int, int) {
	t.Helper()
	data, err := os.ReadFile(booted.Tree(t) + "/etc/passwd")
	require.NoError(t, err)
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 3 && f[0] == name {
			uid, err := strconv.Atoi(f[2])
			require.NoError(t, err)
			gid, err := strconv.Atoi(f[3])
			require.NoError(t, err)
			return uid, gid
		}
	}
	t.Fatalf("no user %s in the tree", name)
	return 0, 0
}
