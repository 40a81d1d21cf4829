package booted_test

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
)

// box (testdata/fleet/hosts/box.hcl, the tier's own fleet: the example
// has no failing hook, no OnFailure= and no working repository beside
// its NAS): the failure cases as units. A local repository "disk" with
// init = true on its own disk, and an NFS repository "nas" on nas-1,
// which is down; a job "split" writing to both; a ZFS job "slow" that
// the test stops and kills while its restic backup runs (the test holds
// that restic with SIGSTOP first, booted.HoldRestic, so the stop and the
// kill surely land inside restic's backup on a machine of any speed); a
// job "hooked" whose pre_backup hook fails, with
// on_failure_unit = "bakc-test-notify@%n.service".
//
// Stand-ins: the disk is a tmpfs mounted at boot (standInDisk); the NAS
// is down as it is (the machine cannot mount NFS: the generated mount
// unit fails); tank is a zfs-fuse pool in a file, and the ZFS job's unit
// gets what zfs-fuse needs (grantZFSFuse). bakc-test-notify@.service is
// the test's own notification unit: it records the instance it was
// started for.

// slowData is the size of the random file the slow job reads: enough
// that restic is still reading when the test holds it.
const slowData = 96 << 20

// notified is where bakc-test-notify@.service records the failed units.
const notified = "/var/lib/bakc-test/on-failure"

func setupBox(t *testing.T, m *booted.Machine, p *plan.Plan) {
	standInDisk(t, m, p)
	for _, pool := range pools(p) {
		m.AddPool(pool)
	}
	grantZFSFuse(m, p)
	m.Mask("postgresql.service")

	data := make([]byte, slowData)
	_, err := io.ReadFull(rand.Reader, data)
	require.NoError(t, err)
	m.WriteFile("/srv/data/big.bin", data, 0o644)
	m.WriteFile("/srv/data/notes.txt", []byte("box's notes\n"), 0o644)
	m.WriteFile("/srv/split/file.txt", []byte("split's file\n"), 0o644)

	m.WriteFile("/etc/systemd/system/bakc-test-notify@.service", []byte(`[Unit]
Description=The test's notification of a failed unit: %i

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'mkdir -p /var/lib/bakc-test && echo "$1" >> `+notified+`' sh %i
`), 0o644)
}

func insideBox(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	checkPools(t, p)
	disk := openRepo(t, p, "disk", "", p.User.UID)

	// Defect 4 (issue 8): with the NAS down, the job's other repository
	// is still backed up. The run happens (no RequiresMountsFor=), the
	// NAS fails its preflight with category network and the disk,
	// initialised by this first run (init = true), gets its snapshot.
	t.Run("defect-4-nas-down-disk-still-backed-up", func(t *testing.T) {
		run(t, "bakc-backup-split.service", "exit-code", 4)
		ms := metrics(t, p, "bakc-backup-split.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "split", "nas"))
		assert.Equal(t, 0.0, ms[`bakc_backup_last_success_timestamp_seconds{job="split",repository="nas"}`])
		assert.Equal(t, "complete", backupResult(t, ms, "split", "disk"))
		assert.Positive(t, ms[`bakc_backup_last_success_timestamp_seconds{job="split",repository="disk"}`])
		lines := errorLinesOf(t, p, "backup", "split")
		if assert.Len(t, lines, 1) {
			assert.Equal(t, "nas", lines[0].Repository)
			assert.Equal(t, "preflight", string(lines[0].Phase))
			assert.Equal(t, "network", string(lines[0].Category))
		}
		snaps := disk.snapshots(t, "job:split")
		if assert.Len(t, snaps, 1) {
			assert.Contains(t, disk.files(t, snaps[0].ID), "/srv/split/file.txt")
		}
	})

	// A pre_backup hook that fails: the run stops before anything is
	// backed up (exit 7), reports the hook's words, and systemd starts
	// the job's OnFailure= unit for the failed unit.
	t.Run("hook-fails-on-failure-unit", func(t *testing.T) {
		run(t, "bakc-backup-hooked.service", "exit-code", 7)
		ms := metrics(t, p, "bakc-backup-hooked.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "hooked", "disk"))
		assert.Equal(t, 7.0, ms[`bakc_backup_exit_code{job="hooked"}`])
		lines := errorLinesOf(t, p, "backup", "hooked")
		if assert.Len(t, lines, 1) {
			assert.Equal(t, "pre_backup_hook", string(lines[0].Phase))
			assert.Contains(t, lines[0].Message, "the database is not ready")
		}
		var got string
		ok := booted.WaitFor(20*time.Second, func() bool {
			data, _ := os.ReadFile(notified)
			got = string(data)
			return got != ""
		})
		assert.True(t, ok, "OnFailure= started no notification unit within 20 s\n%s", booted.Journal("bakc-test-notify@bakc-backup-hooked.service.service"))
		assert.Equal(t, "bakc-backup-hooked.service\n", got, "the notification names the failed unit")
	})

	// `systemctl stop` while restic runs: bakc stops restic, releases the
	// snapshot and reports the run as interrupted (exit 8, every
	// repository failed); nothing stays mounted, no clone or snapshot is
	// left, and the repository has no snapshot of the run.
	t.Run("stopped-mid-run", func(t *testing.T) {
		unit := "bakc-backup-slow.service"
		booted.StartNoBlock(t, unit)
		booted.HoldRestic(t, unit, "backup", 2*time.Minute)
		booted.Systemctl(t, "stop", unit)
		r := booted.Wait(t, time.Minute, unit)[0]
		assert.Equal(t, 8, r.ExecMainStatus, "bakc's exit code for an interrupted run\n%s\n%s", r, booted.Journal(unit))
		assert.Empty(t, booted.Processes(unit), "no process of the unit is left")
		checkNoSnapshotLeft(t)
		checkNoViewLeft(t)
		ms := metrics(t, p, "bakc-backup-slow.prom")
		assert.Equal(t, "failed", backupResult(t, ms, "slow", "disk"))
		assert.Equal(t, 8.0, ms[`bakc_backup_exit_code{job="slow"}`])
		lines := errorLinesOf(t, p, "backup", "slow")
		if assert.NotEmpty(t, lines) {
			assert.Equal(t, "resource", string(lines[len(lines)-1].Category), "%+v", lines[len(lines)-1])
		}
		assert.Empty(t, disk.snapshots(t, "job:slow"), "a stopped run leaves no snapshot")
	})

	// `systemctl kill -s KILL` while restic runs: nothing can report the
	// run, and it leaves its ZFS snapshot and clone (and restic's lock).
	// The next run reports it (an error line of category interrupted),
	// cleans what it left, removes the stale restic lock, and succeeds.
	t.Run("killed-reported-by-next-run", func(t *testing.T) {
		unit := "bakc-backup-slow.service"
		before := len(errorLinesOf(t, p, "backup", "slow"))
		booted.StartNoBlock(t, unit)
		booted.HoldRestic(t, unit, "backup", 2*time.Minute)
		booted.Systemctl(t, "kill", "--signal=KILL", unit)
		r := booted.Wait(t, time.Minute, unit)[0]
		assert.Equal(t, "signal", r.Result, "%s", r)
		out, err := exec.Command("zfs", "list", "-H", "-t", "all", "-o", "name").CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "@bakc-slow-", "the killed run left its snapshot (else this proves nothing)")
		assert.Len(t, errorLinesOf(t, p, "backup", "slow"), before, "a killed run writes no error line")

		// The data changed meanwhile: the next run reads little.
		require.NoError(t, os.Remove("/srv/data/big.bin"))
		run(t, unit, "success", 0)
		checkNoSnapshotLeft(t)
		checkNoViewLeft(t)
		lines := errorLinesOf(t, p, "backup", "slow")
		if assert.Len(t, lines, before+1, "the next run reports the killed one") {
			l := lines[len(lines)-1]
			assert.Equal(t, "interrupted", string(l.Category), "%+v", l)
			assert.Equal(t, "backup", string(l.Phase), "%+v", l)
			assert.Contains(t, l.Message, "did not finish")
		}
		ms := metrics(t, p, "bakc-backup-slow.prom")
		assert.Equal(t, "complete", backupResult(t, ms, "slow", "disk"))
		assert.Equal(t, 1.0, ms[`bakc_backup_forget_success{job="slow",repository="disk"}`], "forget ran: no stale lock stopped it")
		snaps := disk.snapshots(t, "job:slow")
		if assert.Len(t, snaps, 1) {
			assert.Contains(t, disk.files(t, snaps[0].ID), "/srv/data/notes.txt")
		}
		locks := strings.Fields(disk.run(t, "list", "locks", "--no-lock"))
		assert.Empty(t, locks, "no restic lock is left in the repository")
		disk.check(t)
	})
}
