package zfs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// checkName rejects a dataset or snapshot name that zfs could take for an
// option or that cannot be a name at all, before it reaches an argv.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty ZFS name")
	}
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("ZFS name %q starts with '-'", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("ZFS name %q contains a control character", name)
		}
	}
	return nil
}

// Snapshot creates the snapshot name ("pool/ds@snap"); with recursive,
// the same snapshot of every descendant too, atomically: either all
// exist afterwards or none was created.
func (r *Runner) Snapshot(ctx context.Context, name string, recursive bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	args := []string{"snapshot"}
	if recursive {
		args = append(args, "-r")
	}
	_, err := r.run(ctx, append(args, name)...)
	return err
}

// Clone creates the file system clone from snapshot, with the given
// properties (for example readonly=on, mountpoint=…), set at creation so
// that the clone is never mounted without them.
func (r *Runner) Clone(ctx context.Context, snapshot, clone string, props map[string]string) error {
	for _, n := range []string{snapshot, clone} {
		if err := checkName(n); err != nil {
			return err
		}
	}
	args := []string{"clone"}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-o", k+"="+props[k])
	}
	_, err := r.run(ctx, append(args, snapshot, clone)...)
	return err
}

// Destroy destroys a file system or snapshot; with recursive, a snapshot
// of every descendant of the same name (or every descendant file
// system). It never destroys dependent clones (-R is not offered): a
// clone that still depends on a snapshot is an error to report, not
// something to remove unasked.
//
// "dataset is busy" is retried for up to BusyTimeout: zfs-fuse answers it
// for a moment after a mount went away.
func (r *Runner) Destroy(ctx context.Context, name string, recursive bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	args := []string{"destroy"}
	if recursive {
		args = append(args, "-r")
	}
	args = append(args, name)
	deadline := time.Now().Add(r.BusyTimeout)
	wait := 20 * time.Millisecond
	for {
		_, err := r.run(ctx, args...)
		if err == nil || !IsBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			if held := mountHolders(name); len(held) > 0 {
				return fmt.Errorf("%w (still mounted in the mount namespace of %s)", err, strings.Join(held, "; "))
			}
			return err
		}
		r.log.Debug("zfs: dataset busy, retrying", "name", name, "wait", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// Types of dataset for List, as zfs list -t takes them.
const (
	TypeFilesystem = "filesystem"
	TypeSnapshot   = "snapshot"
	TypeAll        = "all"
)

// ListEntry is one line of List: a dataset or snapshot, its mountpoint
// property ("-" for snapshots, "legacy", "none" or a path), and the
// transaction group it was created in (createtxg; 0 if zfs did not say).
// A dataset created in an earlier transaction group than a recursive
// snapshot of its parent is in that snapshot; one created later is not.
type ListEntry struct {
	Name       string
	Mountpoint string
	CreateTxg  uint64
}

// IsSnapshot reports whether the entry is a snapshot ("ds@snap").
func (e ListEntry) IsSnapshot() bool { return strings.Contains(e.Name, "@") }

// List returns root and everything below it of the given types
// (TypeFilesystem, TypeSnapshot, TypeAll, or several joined by commas),
// in zfs's order (parents before children). It runs
// `zfs list -H -o name,mountpoint,createtxg -r -t TYPES ROOT`, which
// zfs-fuse understands (it has no -p).
//
// On a node whose snapshots are kept by sanoid, "everything below" holds
// hundreds or thousands of snapshots, and zfs fetches each one's
// properties: list snapshots with ListChildren where that is enough.
func (r *Runner) List(ctx context.Context, root string, types string) ([]ListEntry, error) {
	return r.list(ctx, root, types, "-r")
}

// ListChildren is List of root and what is directly below it: its child
// datasets, and for TypeSnapshot root's own snapshots, not those of its
// descendants (`zfs list -d 1`).
func (r *Runner) ListChildren(ctx context.Context, root string, types string) ([]ListEntry, error) {
	return r.list(ctx, root, types, "-d", "1")
}

func (r *Runner) list(ctx context.Context, root, types string, depth ...string) ([]ListEntry, error) {
	if err := checkName(root); err != nil {
		return nil, err
	}
	args := append([]string{"list", "-H", "-o", "name,mountpoint,createtxg"}, depth...)
	out, err := r.run(ctx, append(args, "-t", types, root)...)
	if err != nil {
		return nil, err
	}
	return parseList(string(out))
}

// parseList reads `zfs list -H -o name,mountpoint,createtxg`: one line
// per dataset, the columns separated by tabs (names never hold a tab; a
// mountpoint may hold spaces). A createtxg zfs does not give ("-") is 0.
func parseList(out string) ([]ListEntry, error) {
	var entries []ListEntry
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("zfs list: unexpected line %q", line)
		}
		txg, _ := strconv.ParseUint(f[2], 10, 64)
		entries = append(entries, ListEntry{Name: f[0], Mountpoint: f[1], CreateTxg: txg})
	}
	return entries, nil
}

// Get returns one property's value (`zfs get -H -o value PROP NAME`),
// as zfs prints it ("-" when the property does not apply).
func (r *Runner) Get(ctx context.Context, name, property string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkName(property); err != nil {
		return "", err
	}
	out, err := r.run(ctx, "get", "-H", "-o", "value", property, name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(out), "\n"), nil
}
