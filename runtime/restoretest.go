package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// defaultRestoreTestFiles is how many files a restore test restores when
// the plan's repository has no restore_test block.
const defaultRestoreTestFiles = 5

// RestoreTest proves that every job's latest snapshot in a repository
// can be restored. The node's latest snapshot alone was not enough: with
// an hourly job it is always that job's, and the other jobs were never
// tested. So each run tests, for every job that writes to the
// repository:
//
//   - the latest snapshot of its paths: N random regular files of it
//     (the repository's restore_test files, divided among the jobs, at
//     least one each; seeded, the seed is logged, and Options.Seed
//     repeats a pick), each restored with `restic dump` into a temporary
//     folder and its size compared with what the snapshot records;
//   - the latest snapshot of each of its dumps: the dump is one big
//     file, so it is streamed through `restic dump` into SHA-256 and a
//     byte count, never written to disk, and its size compared with the
//     snapshot's record.
//
// restic checks every blob it restores against its id, the SHA-256 the
// snapshot records, so the content is checked too; each file's own
// SHA-256 is logged. A job without a snapshot in the repository (not
// run yet, or it never got there) is reported untested, not failed: the
// backup's own metrics say that it is missing, and a new job would
// otherwise fail every restore test until its first run. A repository
// where no job has a snapshot fails, as it did before. The folder is
// removed at the end. It reports like prune and verify (metrics
// bakc-restore-test-<repo>.prom, error lines with phase "restore", one
// per failed job), and per job (the bakc_restore_test_job_* series,
// docs/metrics.md).
func RestoreTest(ctx context.Context, p *plan.Plan, repoName string, o Options) (*TaskReport, error) {
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	var results []JobRestoreTest
	return runRepositoryTask(ctx, p, repoName, &o, repositoryTask{
		name:  "restore-test",
		phase: PhaseRestore,
		mode:  lockShared, // restic snapshots, ls and dump
		dryRun: func(w io.Writer, rs *restic.Restic, repo *plan.Repository) {
			printCommand(w, rs.Argv(restic.SnapshotsArgs(p.Node.Name, "")))
			jobs := restoreTestJobs(p, repo.Name)
			comment(w, "for each job writing here (%s): its latest snapshot of its paths and of each dump; a job without any is untested", strings.Join(jobNamesOf(jobs), ", "))
			comment(w, "pick %d regular files at random (seed %d), divided among the jobs' path snapshots (at least one each), and for each, into a temporary folder:", restoreTestFiles(repo), seed)
			printCommand(w, rs.Argv(restic.LsArgs("<snapshot of the job>", "")))
			comment(w, "a file whose path is not UTF-8 (restic's JSON shows such bytes as U+FFFD) is first found in the snapshot's trees:")
			printCommand(w, rs.Argv([]string{"cat", "snapshot", "<snapshot>"}))
			printCommand(w, rs.Argv([]string{"cat", "blob", "<tree of each folder on its path>"}))
			printCommand(w, rs.Argv(restic.DumpArgs("<snapshot>", "<file>")))
			comment(w, "compare its size with the snapshot's record (restic checks its content against the recorded SHA-256)")
			for _, j := range jobs {
				for _, d := range j.Dumps {
					comment(w, "job %s, dump %s: stream its latest snapshot through SHA-256 (nothing written) and compare its size:", j.Name, d.Name)
					printCommand(w, rs.Argv(restic.DumpArgs("<snapshot tagged "+d.Tag+">", d.SnapshotPath())))
				}
			}
		},
		run: func(ctx context.Context, rs *restic.Restic, repo *plan.Repository, log *slog.Logger) error {
			var err error
			results, err = restoreTest(ctx, rs, p, repo, seed, log)
			return err
		},
		metrics: func(reg *prometheus.Registry) { registerRestoreTestJobMetrics(reg, repoName, results) },
	})
}

func restoreTestFiles(repo *plan.Repository) int {
	if repo.RestoreTest != nil && repo.RestoreTest.Files > 0 {
		return repo.RestoreTest.Files
	}
	return defaultRestoreTestFiles
}

// restoreTestJobs are the jobs of the plan that write to the
// repository, in the plan's order (by name), disabled ones too: their
// snapshots are still what a restore would use.
func restoreTestJobs(p *plan.Plan, repo string) []*plan.Job {
	var out []*plan.Job
	for i := range p.Jobs {
		if slices.Contains(p.Jobs[i].Repositories, repo) {
			out = append(out, &p.Jobs[i])
		}
	}
	return out
}

func jobNamesOf(jobs []*plan.Job) []string {
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.Name
	}
	return names
}

// JobRestoreTest is what a restore test found of one job in the
// repository.
type JobRestoreTest struct {
	Job string
	// Untested is a job without any snapshot in the repository (it has
	// not run yet, or never reached it): nothing to restore, and no
	// failure of the restore test; that the backup is missing is for
	// the backup's own metrics to say (bakc_backup_last_success_…).
	Untested bool
	// Files and Dumps are how many files and dumps were restored and
	// matched; Bytes how many bytes they held.
	Files, Dumps int
	Bytes        uint64
	// Snapshot is the time of the newest snapshot of the job tested;
	// zero when it has none.
	Snapshot time.Time
	// Err is why the job failed; nil when every file and dump matched.
	Err error
}

// restoreTarget is what a restore test reads of one job: the latest
// snapshot of its paths and of each of its dumps.
type restoreTarget struct {
	job   *plan.Job
	files *restic.Snapshot // nil: no paths, or no snapshot of them
	dumps []dumpTarget
	// missing are what should have a snapshot and has none (logged).
	missing []string
}

type dumpTarget struct {
	dump     plan.Dump
	snapshot restic.Snapshot
}

// restoreTest is one restore test: find each job's latest snapshots,
// pick, restore, compare. It returns the result per job and every
// job's failure joined.
func restoreTest(ctx context.Context, rs *restic.Restic, p *plan.Plan, repo *plan.Repository, seed uint64, log *slog.Logger) ([]JobRestoreTest, error) {
	snaps, err := rs.Snapshots(ctx, p.Node.Name, "")
	if err != nil {
		return nil, fmt.Errorf("listing the snapshots of %s: %w", p.Node.Name, err)
	}
	targets := findRestoreTargets(restoreTestJobs(p, repo.Name), snaps)
	withFiles, tested := 0, 0
	for _, t := range targets {
		if t.files != nil {
			withFiles++
		}
		if t.files != nil || len(t.dumps) > 0 {
			tested++
		}
	}
	if tested == 0 {
		// As before jobs were tested one by one: a repository without
		// a snapshot of the node cannot pass a restore test.
		return nil, fmt.Errorf("no job writing to the repository %s has a snapshot of %s there: nothing to restore", repo.Name, p.Node.Name)
	}
	shares := splitFiles(restoreTestFiles(repo), withFiles)
	dir, err := os.MkdirTemp("", "bakc-restore-test-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)

	var results []JobRestoreTest
	var errs []error
	share := 0
	for i, t := range targets {
		res := JobRestoreTest{Job: t.job.Name}
		var jobErrs []error
		if t.files == nil && len(t.dumps) == 0 {
			res.Untested = true
			log.Warn("restore test: job without a snapshot in the repository, nothing to restore", "job", t.job.Name)
			results = append(results, res)
			continue
		}
		for _, m := range t.missing {
			log.Warn("restore test: no snapshot in the repository, not tested", "job", t.job.Name, "of", m)
		}
		if t.files != nil {
			res.Snapshot = t.files.Time
			n := shares[share]
			share++
			files, bytes, err := restoreFilesOf(ctx, rs, t.files.ID, n, seed+uint64(i), filepath.Join(dir, t.job.Name), log.With("job", t.job.Name))
			res.Files, res.Bytes = files, bytes
			if err != nil {
				jobErrs = append(jobErrs, err)
			}
		}
		for _, d := range t.dumps {
			if d.snapshot.Time.After(res.Snapshot) {
				res.Snapshot = d.snapshot.Time
			}
			n, err := verifyDump(ctx, rs, d, log.With("job", t.job.Name))
			res.Bytes += n
			if err != nil {
				jobErrs = append(jobErrs, err)
				continue
			}
			res.Dumps++
		}
		if err := errors.Join(jobErrs...); err != nil {
			res.Err = err
			errs = append(errs, &jobError{job: t.job.Name, err: err})
		}
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}

// findRestoreTargets finds each job's latest snapshots among the node's
// snapshots in the repository: the latest that carries the job's tag and
// no dump tag (its paths), and for each dump the latest with the job's
// tag and the dump's.
func findRestoreTargets(jobs []*plan.Job, snaps []restic.Snapshot) []restoreTarget {
	latest := func(keep func(s *restic.Snapshot) bool) *restic.Snapshot {
		var best *restic.Snapshot
		for i := range snaps {
			s := &snaps[i]
			if keep(s) && (best == nil || !s.Time.Before(best.Time)) {
				best = s
			}
		}
		return best
	}
	var out []restoreTarget
	for _, j := range jobs {
		t := restoreTarget{job: j}
		if len(j.Paths) > 0 {
			t.files = latest(func(s *restic.Snapshot) bool {
				return slices.Contains(s.Tags, j.JobTag) && !slices.ContainsFunc(s.Tags, isDumpTag)
			})
			if t.files == nil {
				t.missing = append(t.missing, "the job's paths")
			}
		}
		for _, d := range j.Dumps {
			s := latest(func(s *restic.Snapshot) bool {
				return slices.Contains(s.Tags, j.JobTag) && slices.Contains(s.Tags, d.Tag)
			})
			if s == nil {
				t.missing = append(t.missing, "the dump "+d.Name)
				continue
			}
			t.dumps = append(t.dumps, dumpTarget{dump: d, snapshot: *s})
		}
		out = append(out, t)
	}
	return out
}

func isDumpTag(tag string) bool { return strings.HasPrefix(tag, plan.DumpTagPrefix) }

// splitFiles divides n files among k snapshots as evenly as it goes,
// the first ones getting the remainder, each at least one.
func splitFiles(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
		if out[i] < 1 {
			out[i] = 1
		}
	}
	return out
}

// restoreFilesOf picks n random regular files of a snapshot, restores
// each into dir and compares it; it returns how many matched and their
// bytes.
func restoreFilesOf(ctx context.Context, rs *restic.Restic, snapshotID string, n int, seed uint64, dir string, log *slog.Logger) (int, uint64, error) {
	picked, err := pickFiles(ctx, rs, snapshotID, n, seed)
	if err != nil {
		return 0, 0, err
	}
	log.Info("restore test picked files", "snapshot", snapshotID, "seed", seed, "files", len(picked))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, 0, fmt.Errorf("temporary folder: %w", err)
	}
	var errs []error
	matched := 0
	var bytes uint64
	stored := rs.StoredPaths(snapshotID)
	for i, node := range picked {
		if err := restoreOne(ctx, rs, stored, snapshotID, node, filepath.Join(dir, fmt.Sprint(i)), log); err != nil {
			errs = append(errs, err)
			continue
		}
		matched++
		bytes += node.Size
	}
	return matched, bytes, errors.Join(errs...)
}

// verifyDump streams the dump's file out of its snapshot through
// SHA-256 and a byte count, writing nothing (a dump may be as large as
// the database), and compares the count with the snapshot's record of
// the file. It returns the bytes read.
func verifyDump(ctx context.Context, rs *restic.Restic, d dumpTarget, log *slog.Logger) (uint64, error) {
	path := d.dump.SnapshotPath()
	var record *restic.Node
	if _, err := rs.Ls(ctx, d.snapshot.ID, "", func(n restic.Node) {
		if n.Type == "file" && n.Path == path {
			record = &n
		}
	}); err != nil {
		return 0, fmt.Errorf("listing the snapshot of the dump %s: %w", d.dump.Name, err)
	}
	if record == nil {
		return 0, fmt.Errorf("the snapshot %s of the dump %s holds no file %s", d.snapshot.Short(), d.dump.Name, path)
	}
	h := sha256.New()
	count := &countingWriter{}
	if err := rs.Dump(ctx, d.snapshot.ID, path, io.MultiWriter(h, count)); err != nil {
		return count.n, fmt.Errorf("reading the dump %s (%s): %w", d.dump.Name, path, err)
	}
	if count.n != record.Size {
		return count.n, &mismatchError{fmt.Sprintf("the dump %s (%s) has %d bytes in the repository, the snapshot records %d", d.dump.Name, path, count.n, record.Size)}
	}
	log.Info("dump read whole and matches its snapshot", "dump", d.dump.Name, "snapshot", d.snapshot.Short(), "path", path, "bytes", count.n, "sha256", hex.EncodeToString(h.Sum(nil)))
	return count.n, nil
}

// pickFiles lists a snapshot and picks n regular files uniformly at
// random (reservoir sampling: the listing is streamed, never held),
// sorted by path.
func pickFiles(ctx context.Context, rs *restic.Restic, snapshotID string, n int, seed uint64) ([]restic.Node, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var picked []restic.Node
	seen := 0
	// shown counts the files listed per path that restic's JSON may have
	// changed (not UTF-8), to find the right one of those that look alike.
	shown := map[string]int{}
	_, err := rs.Ls(ctx, snapshotID, "", func(node restic.Node) {
		if node.Type != "file" {
			return
		}
		if !node.Exact() {
			node.Occurrence = shown[node.Path]
			shown[node.Path]++
		}
		seen++
		if len(picked) < n {
			picked = append(picked, node)
		} else if j := rng.IntN(seen); j < n {
			picked[j] = node
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing the snapshot %s: %w", snapshotID, err)
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("the snapshot %s holds no regular file to restore", snapshotID)
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Path < picked[j].Path })
	return picked, nil
}

// restoreOne restores one file to target and compares its size. A file
// whose path restic's listing could not show exactly is restored by its
// path as the snapshot stores it (restic.StoredPaths).
func restoreOne(ctx context.Context, rs *restic.Restic, stored *restic.StoredPaths, snapshotID string, node restic.Node, target string, log *slog.Logger) error {
	path, err := stored.Find(ctx, node)
	if err != nil {
		return fmt.Errorf("finding %s in the snapshot: %w", logPath(node.Path), err)
	}
	if path != node.Path {
		log.Info("path not UTF-8: found in the snapshot's trees", "listed", node.Path, "path", logPath(path))
	}
	node.Path = path
	f, err := os.Create(target)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	count := &countingWriter{}
	if err := rs.Dump(ctx, snapshotID, node.Path, io.MultiWriter(f, h, count)); err != nil {
		return fmt.Errorf("restoring %s: %w", logPath(node.Path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restoring %s: %w", logPath(node.Path), err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if count.n != node.Size {
		return &mismatchError{fmt.Sprintf("restored %s has %d bytes, the snapshot records %d", logPath(node.Path), count.n, node.Size)}
	}
	log.Info("file restored and matches its snapshot", "path", logPath(node.Path), "bytes", count.n, "sha256", sum)
	return nil
}

// logPath is a path for the log and messages: as it is when it is UTF-8,
// else Go-quoted ("/srv/caf\xe9"), since a log line (JSON, the journal)
// would put U+FFFD in place of its bytes and so name another file.
func logPath(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	return strconv.Quote(p)
}

// mismatchError is a restored file that differs from its record:
// corruption.
type mismatchError struct{ msg string }

func (e *mismatchError) Error() string { return e.msg }

type countingWriter struct{ n uint64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += uint64(len(p))
	return len(p), nil
}
