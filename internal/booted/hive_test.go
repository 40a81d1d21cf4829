package booted_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
)

// hive (testdata/fleet/hosts/hive.hcl, the tier's own fleet: the example
// has no node of many jobs into one repository): eight jobs j1…j8 into
// one local repository "shared" with init = true that does not exist yet.
//
// Defect 6 (issue 8): two first runs into a repository not yet
// initialised each ran restic init, leaving several keys with different
// master keys (every later run: "ciphertext verification failed").
// Defect 5: jobs sharing a repository collided in forget ("lock"), and a
// prune could fail them.
//
// Stand-in: the repository's disk is a tmpfs mounted at boot
// (standInDisk).

// hiveJobs are the node's jobs.
var hiveJobs = []string{"j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8"}

func setupHive(t *testing.T, m *booted.Machine, p *plan.Plan) {
	standInDisk(t, m, p)
	m.Mask("postgresql.service")
	for _, j := range hiveJobs {
		m.WriteFile("/srv/hive/"+j+"/data.txt", []byte("the data of "+j+"\n"), 0o644)
	}
}

func insideHive(t *testing.T, p *plan.Plan) {
	checkInstall(t, p)
	r, ok := p.Repository("shared")
	require.True(t, ok)
	_, err := os.Stat(filepath.Join(r.URL, "config"))
	require.ErrorIs(t, err, os.ErrNotExist, "the repository must not exist before the first runs")
	shared := openRepo(t, p, "shared", "", p.User.UID)

	// Eight first runs at once, each finding no repository: exactly one
	// initialises it, the others wait for it (bakc's repository lock) and
	// find it made. One key; every snapshot reads; restic check passes.
	t.Run("defect-6-eight-first-runs-init-once", func(t *testing.T) {
		var units []string
		for _, j := range hiveJobs {
			units = append(units, "bakc-backup-"+j+".service")
		}
		for _, r := range booted.StartAll(t, units...) {
			checkRun(t, r, "success", 0)
		}
		assert.Len(t, shared.keys(t), 1, "one key: one restic init")
		for _, j := range hiveJobs {
			snaps := shared.snapshots(t, "job:"+j)
			if assert.Len(t, snaps, 1, j) {
				assert.Contains(t, shared.files(t, snaps[0].ID), "/srv/hive/"+j+"/data.txt")
			}
			ms := metrics(t, p, "bakc-backup-"+j+".prom")
			assert.Equal(t, "complete", backupResult(t, ms, j, "shared"), j)
		}
		assert.Empty(t, errorLines(t, p))
		shared.check(t)
	})

	// Four jobs into the repository at the same moment, each with data
	// to read, and the repository's prune started while their restic
	// backups run: every backup succeeds with its forget; the prune
	// waits for them (bakc's repository lock) and succeeds, or is
	// refused cleanly (exit 5, category lock) — it never fails a backup.
	t.Run("defect-5-four-jobs-and-a-prune", func(t *testing.T) {
		four := hiveJobs[:4]
		var units []string
		for _, j := range four {
			writeRandom(t, "/srv/hive/"+j+"/new.bin", 32<<20)
			units = append(units, "bakc-backup-"+j+".service")
		}
		booted.StartNoBlock(t, units...)
		require.True(t, booted.WaitFor(time.Minute, func() bool {
			for _, u := range units {
				if booted.RunningRestic(u, "backup") {
					return true
				}
			}
			return false
		}), "no restic backup ran")
		prune := booted.Start(t, "bakc-prune-shared.service")
		t.Logf("%s", prune)
		for _, r := range booted.Wait(t, 5*time.Minute, units...) {
			checkRun(t, r, "success", 0)
		}
		for _, j := range four {
			ms := metrics(t, p, "bakc-backup-"+j+".prom")
			assert.Equal(t, "complete", backupResult(t, ms, j, "shared"), j)
			assert.Equal(t, 1.0, ms[fmt.Sprintf(`bakc_backup_forget_success{job=%q,repository="shared"}`, j)], "forget of %s", j)
			assert.Len(t, shared.snapshots(t, "job:"+j), 2, j)
		}
		switch prune.ExecMainStatus {
		case 0:
			assert.Equal(t, "success", prune.Result, "%s", prune)
		case 5:
			lines := errorLinesOf(t, p, "prune", "")
			if assert.NotEmpty(t, lines) {
				assert.Equal(t, "lock", string(lines[len(lines)-1].Category), "%+v", lines[len(lines)-1])
			}
		default:
			t.Errorf("the prune neither waited nor was refused cleanly: %s\n%s", prune, booted.Journal(prune.Unit))
		}
		for _, l := range errorLines(t, p) {
			assert.NotEqual(t, "backup", l.Task, "no backup failed: %+v", l)
		}
		shared.check(t)
	})
}

// writeRandom writes size random bytes to path.
func writeRandom(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.CopyN(f, rand.Reader, size)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
