package runtime_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// A complete run: restic runs as the backup user into a repository only
// that user may enter, still reads a file only root may read, records the
// node as host and the job's tags, honours the excludes, and the metrics
// and state say so. The second, unchanged run finds its parent: no new
// file. No error line is written.
func TestBackupComplete(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			f.write("secret", "root only")
			require.NoError(t, os.Chmod(filepath.Join(f.src, "secret"), 0o600))

			rep := f.backup(f.options())
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)
			require.Len(t, rep.Repositories, 1)
			first := rep.Repositories[0]
			if first.Outcome != runtime.OutcomeComplete || first.Summary == nil || first.Summary.FilesNew != 3 || !first.Forgotten {
				t.Errorf("first run = %+v, summary %+v; want complete, 3 new files (a.txt, sub/b.txt, secret; not skip.tmp), forgotten", first, first.Summary)
			}

			snaps := f.snapshots("local")
			require.Len(t, snaps, 1)
			if snaps[0].Hostname != "forge" || !slices.Equal(snaps[0].Tags, []string{"job:home", "nightly"}) || !slices.Equal(snaps[0].Paths, []string{f.src}) {
				t.Errorf("snapshot = %+v; want host forge, tags job:home nightly, path %s", snaps[0], f.src)
			}
			// The repository's new files belong to the backup user.
			var st syscall.Stat_t
			require.NoError(t, syscall.Stat(filepath.Join(f.repo, "snapshots"), &st))
			entries, err := os.ReadDir(filepath.Join(f.repo, "snapshots"))
			require.NoError(t, err)
			require.NoError(t, syscall.Stat(filepath.Join(f.repo, "snapshots", entries[0].Name()), &st))
			if st.Uid != backupUID {
				t.Errorf("snapshot file owned by uid %d, want %d", st.Uid, backupUID)
			}

			second := f.backup(f.options())
			require.Equal(t, runtime.ExitOK, second.ExitCode, "failures: %v", second.Failures)
			if s := second.Repositories[0].Summary; s.FilesNew != 0 || s.FilesChanged != 0 || s.FilesUnmodified != 3 {
				t.Errorf("second run summary = %+v; want 3 unmodified files, none new", s)
			}

			got := f.metrics()
			start := float64(second.Start.UnixNano()) / 1e9
			want := map[string]float64{
				m("bakc_backup_result", "home", "local", "result", "complete"):                                            1,
				m("bakc_backup_result", "home", "local", "result", "partial"):                                             0,
				m("bakc_backup_result", "home", "local", "result", "failed"):                                              0,
				m("bakc_backup_restic_exit_code", "home", "local"):                                                        0,
				m("bakc_backup_files_new", "home", "local"):                                                               0,
				m("bakc_backup_files_changed", "home", "local"):                                                           0,
				m("bakc_backup_files_unmodified", "home", "local"):                                                        3,
				m("bakc_backup_processed_files", "home", "local"):                                                         3,
				m("bakc_backup_added_bytes", "home", "local"):                                                             float64(second.Repositories[0].Summary.DataAdded),
				m("bakc_backup_processed_bytes", "home", "local"):                                                         float64(len("alpha") + len("bravo") + len("root only")),
				m("bakc_backup_forget_success", "home", "local"):                                                          1,
				m("bakc_backup_last_run_timestamp_seconds", "home", "local"):                                              start,
				m("bakc_backup_last_success_timestamp_seconds", "home", "local"):                                          start,
				m("bakc_backup_snapshot_info", "home", "local", "snapshot_id", second.Repositories[0].Summary.SnapshotID): 1,
				`bakc_backup_exit_code{job="home"}`:                                                                       0,
			}
			for k := range got {
				if strings.HasSuffix(k[:strings.Index(k, "{")], "duration_seconds") {
					delete(got, k) // measured, not predictable
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
			if lines := f.errorLines(); len(lines) != 0 {
				t.Errorf("error lines after successful runs: %+v", lines)
			}
		})
	}
}

// The dry run prints the restic commands and touches nothing.
func TestBackupDryRunRunsNothing(t *testing.T) {
	t.Parallel()
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	var out strings.Builder
	o := f.options()
	o.DryRun = true
	o.Out = &out
	rep, err := runtime.Backup(context.Background(), f.plan, "home", o)
	require.NoError(t, err)
	require.Equal(t, runtime.ExitOK, rep.ExitCode)
	if !strings.Contains(out.String(), " backup --json --host forge --tag job:home --tag nightly --exclude-file ") {
		t.Errorf("dry run does not show the backup command:\n%s", out.String())
	}
	for _, p := range []string{f.plan.Paths.State, f.plan.Monitoring.TextfileDir, f.plan.Monitoring.ErrorLog} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("dry run made %s", p)
		}
	}
	if snaps := f.snapshots("local"); len(snaps) != 0 {
		t.Errorf("dry run made %d snapshots", len(snaps))
	}
}

// The hooks run with `sh -c`, from /, with the node, job and hook in
// their environment; their output is logged line by line; the pre hook
// runs before restic (it may prepare what is backed up) and the post hook
// after a complete backup, the failure hook not at all.
func TestHooks(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	marks := filepath.Join(f.dir, "marks")
	f.job().Hooks = plan.Hooks{
		PreBackup:  `echo "dumped at $(pwd)" > ` + f.src + `/dump.sql; echo "pre $BAKC_NODE $BAKC_JOB $BAKC_HOOK" >> ` + marks + `; echo first line; echo second line >&2`,
		PostBackup: `echo "post $BAKC_HOOK" >> ` + marks,
		OnFailure:  `echo "failure" >> ` + marks,
	}
	var log strings.Builder
	o := f.options()
	o.Log = slog.New(slog.NewTextHandler(&log, nil))
	rep := f.backup(o)
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)

	got, err := os.ReadFile(marks)
	require.NoError(t, err)
	if diff := cmp.Diff("pre forge home pre_backup\npost post_backup\n", string(got)); diff != "" {
		t.Errorf("hooks ran (-want +got):\n%s", diff)
	}
	if s := rep.Repositories[0].Summary; s == nil || s.FilesNew != 3 {
		t.Errorf("summary %+v: want 3 new files, the pre hook's dump.sql among them", s)
	}
	for _, want := range []string{
		`msg="hook output" job=home hook=pre_backup_hook line="first line"`,
		`msg="hook output" job=home hook=pre_backup_hook line="second line"`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	target := t.TempDir()
	require.NoError(t, f.resticFor("local").Run(context.Background(), []string{"restore", "latest", "--target", target, "--include", "/**/dump.sql"}, nil))
	dump, err := os.ReadFile(filepath.Join(target, f.src, "dump.sql"))
	require.NoError(t, err)
	if string(dump) != "dumped at /\n" {
		t.Errorf("the pre hook's dump = %q, want it written from /", dump)
	}
}
