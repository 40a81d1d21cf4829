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
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// defaultRestoreTestFiles is how many files a restore test restores when
// the plan's repository has no restore_test block.
const defaultRestoreTestFiles = 5

// RestoreTest proves that the node's latest snapshot in a repository can
// be restored: it picks N random regular files of it (seeded; the seed is
// logged, and Options.Seed repeats a pick), restores each with `restic
// dump` into a temporary folder, and compares its size with what the
// snapshot records. restic checks every blob it restores against its id,
// the SHA-256 the snapshot records, so the content is checked too; the
// restored file's own SHA-256 is logged. The folder is removed at the
// end. It reports like prune and verify (metrics
// bakc-restore-test-<repo>.prom, error lines with phase "restore").
func RestoreTest(ctx context.Context, p *plan.Plan, repoName string, o Options) (*TaskReport, error) {
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return runRepositoryTask(ctx, p, repoName, &o, repositoryTask{
		name:  "restore-test",
		phase: PhaseRestore,
		mode:  lockShared, // restic ls and dump
		dryRun: func(w io.Writer, rs *restic.Restic, repo *plan.Repository) {
			printCommand(w, rs.Argv(restic.LsArgs("latest", p.Node.Name)))
			comment(w, "pick %d regular files at random (seed %d), and for each, into a temporary folder:", restoreTestFiles(repo), seed)
			comment(w, "a file whose path is not UTF-8 (restic's JSON shows such bytes as U+FFFD) is first found in the snapshot's trees:")
			printCommand(w, rs.Argv([]string{"cat", "snapshot", "<snapshot>"}))
			printCommand(w, rs.Argv([]string{"cat", "blob", "<tree of each folder on its path>"}))
			printCommand(w, rs.Argv(restic.DumpArgs("<snapshot>", "<file>")))
			comment(w, "compare its size with the snapshot's record (restic checks its content against the recorded SHA-256)")
		},
		run: func(ctx context.Context, rs *restic.Restic, repo *plan.Repository, log *slog.Logger) error {
			return restoreTest(ctx, rs, p.Node.Name, restoreTestFiles(repo), seed, log)
		},
	})
}

func restoreTestFiles(repo *plan.Repository) int {
	if repo.RestoreTest != nil && repo.RestoreTest.Files > 0 {
		return repo.RestoreTest.Files
	}
	return defaultRestoreTestFiles
}

// restoreTest is one restore test: pick, restore, compare.
func restoreTest(ctx context.Context, rs *restic.Restic, host string, n int, seed uint64, log *slog.Logger) error {
	picked, snapshotID, err := pickFiles(ctx, rs, host, n, seed)
	if err != nil {
		return err
	}
	log.Info("restore test picked files", "snapshot", snapshotID, "seed", seed, "files", len(picked))
	dir, err := os.MkdirTemp("", "bakc-restore-test-")
	if err != nil {
		return fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	var errs []error
	stored := rs.StoredPaths(snapshotID)
	for i, node := range picked {
		if err := restoreOne(ctx, rs, stored, snapshotID, node, filepath.Join(dir, fmt.Sprint(i)), log); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pickFiles lists the node's latest snapshot and picks n regular files
// uniformly at random (reservoir sampling: the listing is streamed, never
// held), sorted by path.
func pickFiles(ctx context.Context, rs *restic.Restic, host string, n int, seed uint64) ([]restic.Node, string, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var picked []restic.Node
	seen := 0
	// shown counts the files listed per path that restic's JSON may have
	// changed (not UTF-8), to find the right one of those that look alike.
	shown := map[string]int{}
	id, err := rs.Ls(ctx, "latest", host, func(node restic.Node) {
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
		return nil, "", fmt.Errorf("listing the latest snapshot of %s: %w", host, err)
	}
	if len(picked) == 0 {
		return nil, "", fmt.Errorf("the latest snapshot of %s (%s) holds no regular file to restore", host, id)
	}
	sort.Slice(picked, func(i, j int) bool { return picked[i].Path < picked[j].Path })
	return picked, id, nil
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
