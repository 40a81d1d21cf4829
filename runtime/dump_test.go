package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// testUser is the second user scripts/test-setup.sh creates: a hook or
// dump that runs as "the database's user" runs as it here.
const (
	testUser = "bakc-test"
	testUID  = 2050
)

// worldReadable makes the fixture's folder reachable for testUser: a
// test's temporary folders are root's, mode 0700.
func worldReadable(t *testing.T, f *fixture) {
	t.Helper()
	for d := f.dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
}

// randomFile writes n random bytes, readable by all, and returns them.
func randomFile(t *testing.T, path string, n int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.UintN(256))
	}
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return data
}

// dumpSnapshots are the repository's snapshots with the dump's tag.
func (f *fixture) dumpSnapshots(repo, tag string) []restic.Snapshot {
	var out []restic.Snapshot
	for _, s := range f.snapshots(repo) {
		if slices.Contains(s.Tags, tag) {
			out = append(out, s)
		}
	}
	return out
}

// restoreDump is `restic dump` of the latest snapshot with the job's and
// the dump's tags, as the runbook restores it.
func (f *fixture) restoreDump(repo string, d plan.Dump) []byte {
	f.t.Helper()
	var out bytes.Buffer
	r := f.resticFor(repo)
	err := r.Run(context.Background(), []string{"dump", "--host", f.plan.Node.Name, "--tag", f.job().JobTag + "," + d.Tag, "latest", d.SnapshotPath()}, func(line []byte) {
		out.Write(line)
		out.WriteByte('\n')
	})
	require.NoError(f.t, err)
	return out.Bytes()
}

// A job with paths and two dumps, one as another user: each dump is its
// own snapshot (the job's tags and the dump's, the path /<filename>),
// restic dump gives back the command's output byte for byte, the
// command ran as its user with that user's HOME and from /, and the
// metrics say complete. The path snapshot is there as before.
func TestDumpRestored(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			worldReadable(t, f)
			// Lines, so that restoreDump's line reader gives it back as it is.
			var src strings.Builder
			rng := rand.New(rand.NewPCG(3, 3))
			for range 40000 {
				fmt.Fprintf(&src, "%x\n", rng.Uint64())
			}
			want := []byte(src.String())
			file := filepath.Join(f.dir, "db.txt")
			require.NoError(t, os.WriteFile(file, want, 0o644))
			f.job().Dumps = []plan.Dump{
				{Name: "db", Command: []string{"cat", file}, Filename: "db/all.sql", Tag: "dump:db", Needs: plan.Needs{User: testUser}},
				{Name: "who", Command: []string{"sh", "-c", `echo "$(id -u):$(id -g):$HOME:$USER:$(pwd):$BAKC_DUMP"`}, Filename: "who.txt", Tag: "dump:who"},
			}

			rep := f.backup(f.options())
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)
			rr := rep.Repositories[0]
			require.Equal(t, runtime.OutcomeComplete, rr.Outcome)
			require.True(t, rr.Forgotten)
			require.Len(t, rr.Dumps, 2)

			d := f.job().Dumps[0]
			if restored := f.restoreDump("local", d); !bytes.Equal(want, restored) {
				t.Errorf("restic dump gave %d bytes, not the %d the command wrote", len(restored), len(want))
			}
			// Without a user of its own, beside a dump that runs as
			// another user (the service starts as root for that one), a
			// dump runs as the backup user, as it would in a service
			// without the other.
			if who := string(f.restoreDump("local", f.job().Dumps[1])); who != "2049:2049:/var/empty:bakc:/:who\n" {
				t.Errorf("the dump without a user ran as %q, want the backup user from /", who)
			}
			snaps := f.dumpSnapshots("local", "dump:db")
			require.Len(t, snaps, 1)
			if s := snaps[0]; s.Hostname != "forge" || !slices.Equal(s.Paths, []string{"/db/all.sql"}) || !slices.Equal(s.Tags, []string{"job:home", "nightly", "dump:db"}) {
				t.Errorf("dump snapshot = %+v; want host forge, path /db/all.sql, the job's tags and dump:db", s)
			}
			// The path snapshot is a snapshot of its own.
			var paths int
			for _, s := range f.snapshots("local") {
				if slices.Equal(s.Paths, []string{f.src}) {
					paths++
				}
			}
			require.Equal(t, 1, paths, "one snapshot of the job's paths")

			got := f.metrics()
			for k, v := range map[string]float64{
				m("bakc_dump_result", "home", "local", "dump", "db", "result", "complete"):   1,
				m("bakc_dump_result", "home", "local", "dump", "db", "result", "failed"):     0,
				m("bakc_dump_exit_code", "home", "local", "dump", "db"):                      0,
				m("bakc_dump_restic_exit_code", "home", "local", "dump", "db"):               0,
				m("bakc_dump_bytes", "home", "local", "dump", "db"):                          float64(len(want)),
				m("bakc_dump_last_success_timestamp_seconds", "home", "local", "dump", "db"): float64(rep.Start.UnixNano()) / 1e9,
				m("bakc_backup_result", "home", "local", "result", "complete"):               1,
			} {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("metric %s = %v (present %v), want %v", k, g, ok, v)
				}
			}
		})
	}
}

// The dump runs as its user: uid, gid, groups, HOME and USER are that
// user's, not root's and not the backup user's.
func TestDumpRunsAsItsUser(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	f.job().Paths = []string{}
	f.job().Exclude = nil
	f.job().Dumps = []plan.Dump{{Name: "who", Command: []string{"sh", "-c", `echo "$(id -u):$(id -g):$(id -G):$HOME:$USER:$LOGNAME:$(pwd)"`}, Filename: "who.txt", Tag: "dump:who", Needs: plan.Needs{User: testUser}}}
	rep := f.backup(f.options())
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)
	got := string(f.restoreDump("local", f.job().Dumps[0]))
	if want := fmt.Sprintf("%d:%d:%d:/var/empty:%s:%s:/\n", testUID, testUID, testUID, testUser, testUser); got != want {
		t.Errorf("the dump ran as %q, want %q (uid:gid:groups:HOME:USER:LOGNAME:cwd)", got, want)
	}
	// A job of dumps only: its restic exit code is restic's, 0.
	require.Equal(t, 0, rep.Repositories[0].ResticExitCode)
}

// A dump command that fails after writing part of its output (more than
// a pipe holds, so restic has read some of it) fails the job, and no
// snapshot of it is left in the repository: bakc stops restic before its
// stdin ends. The metrics say failed, with the command's exit code; the
// error line has category source; forget does not run; the last
// success of the dump does not move. The job's paths, backed up after
// the dumps, are saved all the same.
func TestDumpFailsMidStream(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		for _, tc := range []struct {
			name    string
			script  string
			exit    int
			wantErr string
		}{
			{"exit 3", "head -c 3000000 /dev/urandom; echo 'pg_dumpall: error: query failed' >&2; exit 3", 3, "pg_dumpall: error: query failed"},
			{"killed", "head -c 3000000 /dev/urandom; kill -9 $$", 128 + 9, "signal: killed"},
		} {
			t.Run(r.Version+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t, r)
				dump := plan.Dump{Name: "db", Command: []string{"sh", "-c", tc.script}, Filename: "db.sql", Tag: "dump:db"}
				f.job().Dumps = []plan.Dump{{Name: "db", Command: []string{"sh", "-c", "echo good dump"}, Filename: "db.sql", Tag: "dump:db"}}
				first := f.backup(f.options())
				require.Equal(t, runtime.ExitOK, first.ExitCode, "%v", first.Failures)
				require.Len(t, f.dumpSnapshots("local", "dump:db"), 1)

				f.job().Dumps = []plan.Dump{dump}
				rep := f.backup(f.options())
				require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode, "failures: %v", rep.Failures)
				rr := rep.Repositories[0]
				require.Equal(t, runtime.OutcomeFailed, rr.Outcome)
				require.False(t, rr.Forgotten, "forget ran after a failed dump")
				require.Len(t, rr.Dumps, 1)
				if d := rr.Dumps[0]; d.Outcome != runtime.OutcomeFailed || d.ExitCode != tc.exit || d.Summary != nil {
					t.Errorf("dump result %+v; want failed, exit %d, no summary", d, tc.exit)
				}
				// Only the first, good dump is there.
				snaps := f.dumpSnapshots("local", "dump:db")
				require.Len(t, snaps, 1, "a snapshot of the failed dump was left: %+v", snaps)
				// The dumps ran first; the paths were backed up all the
				// same, in both runs.
				var paths int
				for _, s := range f.snapshots("local") {
					if slices.Equal(s.Paths, []string{f.src}) {
						paths++
					}
				}
				require.Equal(t, 2, paths, "snapshots of the job's paths after a good run and one with a failed dump")
				require.Equal(t, "good dump\n", string(f.restoreDump("local", dump)))

				lines := f.errorLines()
				require.Len(t, lines, 1, "%+v", lines)
				l := lines[0]
				if l.Phase != runtime.PhaseBackup || l.Category != restic.CategorySource || l.Repository != "local" || !strings.Contains(l.Message, tc.wantErr) {
					t.Errorf("error line %+v; want phase backup, category source, repository local, a message with %q", l, tc.wantErr)
				}
				got := f.metrics()
				for k, v := range map[string]float64{
					m("bakc_dump_result", "home", "local", "dump", "db", "result", "failed"):     1,
					m("bakc_dump_result", "home", "local", "dump", "db", "result", "complete"):   0,
					m("bakc_dump_exit_code", "home", "local", "dump", "db"):                      float64(tc.exit),
					m("bakc_dump_last_success_timestamp_seconds", "home", "local", "dump", "db"): float64(first.Start.UnixNano()) / 1e9,
					m("bakc_backup_result", "home", "local", "result", "failed"):                 1,
					m("bakc_backup_last_success_timestamp_seconds", "home", "local"):             float64(first.Start.UnixNano()) / 1e9,
				} {
					if g, ok := got[k]; !ok || g != v {
						t.Errorf("metric %s = %v (present %v), want %v", k, g, ok, v)
					}
				}
				// restic's lock is gone: the next run works.
				f.job().Dumps = []plan.Dump{{Name: "db", Command: []string{"sh", "-c", "echo good again"}, Filename: "db.sql", Tag: "dump:db"}}
				again := f.backup(f.options())
				require.Equal(t, runtime.ExitOK, again.ExitCode, "%v", again.Failures)
			})
		}
	}
}

// A hook or dump user the node does not have, a dump program that is
// nowhere in PATH and a declared written folder that is missing are
// preflight failures: nothing has run or changed (the pre hook did not
// run, no snapshot), exit code 4, one error line naming each.
func TestStepsPreflight(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	marker := filepath.Join(f.dir, "pre-hook-ran")
	f.job().Hooks = plan.Hooks{
		PreBackup: "touch " + marker,
		Needs:     map[string]plan.Needs{plan.HookPreBackup: {Writes: []string{filepath.Join(f.dir, "missing-folder")}}},
	}
	f.job().Dumps = []plan.Dump{
		{Name: "db", Command: []string{"pg_dumpall"}, Filename: "db.sql", Tag: "dump:db", Needs: plan.Needs{User: "postgres-not-here"}},
		{Name: "tool", Command: []string{"no-such-dump-program"}, Filename: "t.sql", Tag: "dump:tool", Needs: plan.Needs{Path: []string{f.dir}}},
	}
	rep := f.backup(f.options())
	require.Equal(t, runtime.ExitPreflightFailed, rep.ExitCode, "failures: %v", rep.Failures)
	_, err := os.Stat(marker)
	require.True(t, os.IsNotExist(err), "the pre hook ran")
	require.Empty(t, f.snapshots("local"))
	lines := f.errorLines()
	require.Len(t, lines, 1, "%+v", lines)
	for _, want := range []string{
		"dump db: the user postgres-not-here does not exist on this node",
		"dump tool: no-such-dump-program is not in PATH (" + f.dir + ":",
		"pre_backup hook: it declares it writes " + filepath.Join(f.dir, "missing-folder") + ", which is not there",
	} {
		require.Contains(t, lines[0].Message, want)
	}
	require.Equal(t, runtime.PhasePreflight, lines[0].Phase)
	require.Equal(t, restic.CategorySource, lines[0].Category)
	require.Equal(t, 1.0, f.metrics()[m2("bakc_dump_result", "db", "failed")])
}

func m2(name, dump, result string) string {
	return m(name, "home", "local", "dump", dump, "result", result)
}

// A hook declared with a user, PATH folders and writes runs as that
// user, finds a program only its folder has, and writes where it said.
func TestHookRunsAsItsUser(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[len(restictest.Restics(t))-1]
	f := newFixture(t, r)
	worldReadable(t, f)
	bin := filepath.Join(f.dir, "tools")
	require.NoError(t, os.Mkdir(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "make-dump"), []byte("#!/bin/sh\necho \"dump by $(id -u) home $HOME\"\n"), 0o755))
	out := filepath.Join(f.dir, "dumps")
	require.NoError(t, os.Mkdir(out, 0o755))
	require.NoError(t, os.Chown(out, testUID, testUID))
	f.job().Hooks = plan.Hooks{
		PreBackup: "make-dump > " + out + "/x.sql",
		Needs:     map[string]plan.Needs{plan.HookPreBackup: {User: testUser, Path: []string{bin}, Writes: []string{out}}},
	}
	rep := f.backup(f.options())
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)
	got, err := os.ReadFile(filepath.Join(out, "x.sql"))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("dump by %d home /var/empty\n", testUID), string(got))
}

// Retention with dumps and paths in one job: restic's forget, grouped by
// host, paths and tags, keeps the policy for the path snapshots and for
// each dump on its own, so that neither pushes the other out.
func TestRetentionKeepsDumpsAndPathsApart(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			f.job().Retention = plan.Retention{Last: 2}
			f.job().Dumps = []plan.Dump{
				{Name: "a", Command: []string{"sh", "-c", "date +%s%N"}, Filename: "a.sql", Tag: "dump:a"},
				{Name: "b", Command: []string{"sh", "-c", "date +%s%N"}, Filename: "b.sql", Tag: "dump:b"},
			}
			for i := range 4 {
				f.write("a.txt", fmt.Sprintf("run %d", i))
				rep := f.backup(f.options())
				require.Equal(t, runtime.ExitOK, rep.ExitCode, "run %d: %v", i, rep.Failures)
			}
			count := map[string]int{}
			for _, s := range f.snapshots("local") {
				count[strings.Join(s.Paths, ",")]++
			}
			want := map[string]int{f.src: 2, "/a.sql": 2, "/b.sql": 2}
			if diff := cmp.Diff(want, count); diff != "" {
				t.Errorf("snapshots kept per path (-want +got):\n%s", diff)
			}
		})
	}
}

// A command that ends its output early and fails later: restic must not
// take the end of the output for the end of the dump. bakc holds restic's
// stdin until the command's exit status is known, so restic never writes
// a snapshot (nothing had to be forgotten). Without that hold restic
// writes one, and the second line of defence forgets it at once: the
// repository has no snapshot of the failed dump either way.
func TestDumpEndsOutputThenFails(t *testing.T) {
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		for _, hold := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/hold=%v", r.Version, hold), func(t *testing.T) {
				if !hold {
					defer runtime.LetDumpStdinEnd()()
				}
				f := newFixture(t, r)
				f.job().Paths = []string{}
				f.job().Exclude = nil
				f.job().Dumps = []plan.Dump{{Name: "db", Command: []string{"sh", "-c", "printf 'half a dump'; exec >&-; sleep 2; exit 3"}, Filename: "db.sql", Tag: "dump:db"}}
				var log strings.Builder
				o := f.options()
				o.Log = slog.New(slog.NewTextHandler(&log, nil))
				rep := f.backup(o)
				require.Equal(t, runtime.ExitTaskFailed, rep.ExitCode, "failures: %v", rep.Failures)
				require.Empty(t, f.dumpSnapshots("local", "dump:db"), "a snapshot of the failed dump was left")
				forgot := strings.Contains(log.String(), "forgot the snapshot of an incomplete dump")
				if forgot == hold {
					t.Errorf("forgot a snapshot: %v, want %v (hold %v)\n%s", forgot, !hold, hold, log.String())
				}
			})
		}
	}
}
