package runtime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// Retention after runs on many simulated days keeps exactly what daily
// 14, weekly 8, monthly 6, yearly 2 should, and nothing of another job or
// another node in the same repository.
//
// The job's history is 35 snapshots, one per day at noon: 9 monthly-ish
// from 2021 to March 2024, one a week from 18 March to 13 May, and daily
// from 15 to 31 May 2024. The first 30 are written by restic directly
// (as the backup user, with the job's host, tags and path, stamped with
// --time); the last 5 days are real runs of the runtime with its clock
// set to that day, each followed by its forget. Worked out by hand with
// restic's rule (newest first, each rule keeps the newest snapshot of
// each of its N most recent buckets; ISO weeks):
//
//	daily 14:   31 May back to 18 May
//	weekly 8:   31, 26, 19 May (W22, W21, W20), 6 May, 29, 22, 15, 8 April
//	monthly 6:  31 May, 29 Apr, 25 Mar, 15 Feb, 15 Jan 2024, 15 Dec 2023
//	yearly 2:   31 May 2024, 15 Dec 2023
//
// so 23 stay, and 15–17 May, 13 May, 1 April, 18 and 15 March, and the
// five older ones go. Another job's three snapshots of one day, and
// another node's two snapshots of the job (same tag, same path) of one
// day, would lose all but one each if forget were not scoped by tag and
// host; they must all stay.
func TestRetentionOnSimulatedDays(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			ctx := context.Background()
			asBackupUser := f.resticFor("local")
			asBackupUser.Credential = &syscall.Credential{Uid: backupUID, Gid: backupUID}
			require.NoError(t, os.Chown(filepath.Dir(asBackupUser.CacheDir), backupUID, backupUID))
			// Seeds are written four at a time: restic's locks allow
			// concurrent backups, and each spends most of its time waiting.
			var seeds errgroup.Group
			seeds.SetLimit(4)
			seed := func(host string, tags []string, path string, at time.Time) {
				seeds.Go(func() error {
					_, err := asBackupUser.Backup(ctx, restic.BackupOptions{Paths: []string{path}, Host: host, Tags: tags, Time: at}, nil)
					return err
				})
			}

			var history []time.Time
			for _, d := range []time.Time{
				day(2021, 3, 15), day(2022, 5, 15), day(2022, 11, 15), day(2023, 6, 15), day(2023, 9, 15),
				day(2023, 12, 15), day(2024, 1, 15), day(2024, 2, 15), day(2024, 3, 15),
			} {
				history = append(history, d)
			}
			for d := day(2024, 3, 18); !d.After(day(2024, 5, 13)); d = d.AddDate(0, 0, 7) {
				history = append(history, d)
			}
			for d := day(2024, 5, 15); !d.After(day(2024, 5, 31)); d = d.AddDate(0, 0, 1) {
				history = append(history, d)
			}
			require.Len(t, history, 35)
			for _, d := range history[:30] {
				seed("forge", f.job().Tags, f.src, d)
			}

			etc := filepath.Join(f.dir, "etc")
			require.NoError(t, os.MkdirAll(etc, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(etc, "hosts"), []byte("127.0.0.1 localhost\n"), 0o644))
			var others []string
			for h := 10; h <= 12; h++ {
				seed("forge", []string{"job:etc"}, etc, day(2024, 5, 20).Add(time.Duration(h-12)*time.Hour))
				others = append(others, fmt.Sprintf("forge job:etc 2024-05-20 %d:00", h))
			}
			for h := 10; h <= 11; h++ {
				seed("luna", f.job().Tags, f.src, day(2024, 5, 20).Add(time.Duration(h-12)*time.Hour))
				others = append(others, fmt.Sprintf("luna job:home,nightly 2024-05-20 %d:00", h))
			}

			require.NoError(t, seeds.Wait())

			for _, d := range history[30:] {
				o := f.options()
				o.Now = func() time.Time { return d }
				rep := f.backup(o)
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "run of %s: %v", d.Format("2006-01-02"), rep.Failures)
				require.True(t, rep.Repositories[0].Forgotten, "forget did not run on %s", d.Format("2006-01-02"))
			}

			kept := []string{
				"2023-12-15", "2024-01-15", "2024-02-15", "2024-03-25",
				"2024-04-08", "2024-04-15", "2024-04-22", "2024-04-29", "2024-05-06",
			}
			for d := 18; d <= 31; d++ {
				kept = append(kept, fmt.Sprintf("2024-05-%02d", d))
			}
			var want []string
			for _, k := range kept {
				want = append(want, "forge job:home,nightly "+k+" 12:00")
			}
			want = append(want, others...)
			sort.Strings(want)

			var got []string
			for _, s := range f.snapshots("local") {
				tags := append([]string(nil), s.Tags...)
				sort.Strings(tags)
				got = append(got, fmt.Sprintf("%s %s %s", s.Hostname, strings.Join(tags, ","), s.Time.Local().Format("2006-01-02 15:04")))
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("snapshots after retention (-want +got):\n%s", diff)
			}
		})
	}
}
