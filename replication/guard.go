package replication

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Guard is the forced command of the NAS's key on a node (`bakc
// send-guard DATASET…` in the key's command="…"). sshd runs it instead
// of whatever the NAS asked for, with the request in
// SSH_ORIGINAL_COMMAND; Decide says what of it may run.
//
// It allows exactly what syncoid (2.1 to 2.3) runs on a remote source
// with SyncoidArgs' flags, for the node's replicated datasets and
// sanoid's snapshots of them only, and refuses everything else before
// anything runs:
//
//	exit                                   (syncoid's master connection)
//	echo -n                                (its connection test)
//	command -v PROGRAM                     (is mbuffer/lzop there? always "no")
//	zfs get -H syncoid:sync DS
//	zfs get -Hpd 1 -t snapshot guid,creation DS     (filtered, see below)
//	zfs get -Hpd 1 type,guid,creation DS            (syncoid's fallback, filtered)
//	zfs get -Hpd 1 -t bookmark guid,creation DS
//	zfs send -nvP DS@SNAP                  (size estimates)
//	zfs send -nvP -I DS@SNAP DS@SNAP
//	zfs send DS@SNAP                       (the first, full stream)
//	zfs send -I DS@SNAP DS@SNAP            (an incremental stream with every
//	                                        snapshot in between)
//
// DS is one of Datasets, exactly; SNAP is a sanoid snapshot name
// (autosnap_2026-01-31_23:59:00_daily). Nothing that writes is allowed:
// no receive, destroy, rollback, snapshot, hold, bookmark, set; no
// pipeline (mbuffer or compression on the node: "command -v" always
// answers "not there", so syncoid sends plain streams); no resume token
// (`zfs send -t` names its dataset inside an opaque token), no raw,
// replicated or property stream (-w, -R, -p), no other dataset.
//
// The snapshot lists are filtered to sanoid's snapshots: syncoid then
// sends only those (bakc's own backup snapshots, which live for the
// length of a backup, would otherwise become the newest snapshot the
// NAS holds and stop the next incremental once they are gone).
type Guard struct {
	// Datasets are the node's datasets the NAS may pull.
	Datasets []string
}

// Action is what the guard does with one request.
type Action struct {
	// Argv, when set, is the zfs command to run, "zfs" first; the guard
	// runs it with this argument vector, never through a shell.
	Argv []string
	// FilterSnapshotsOf, when set, is the dataset whose `zfs get` lines
	// are kept, and only those of its sanoid snapshots (SnapshotLines).
	FilterSnapshotsOf string
	// Exit is the exit code when Argv is empty; nothing is printed.
	Exit int
}

// RefusedError is a request the guard does not run.
type RefusedError struct {
	Command string
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused %q: %s; this key may only read snapshot lists and zfs send sanoid's snapshots of %s", e.Command, e.Reason, "the node's replicated datasets")
}

// sanoidSnapshotRE is a snapshot sanoid took: autosnap_, its local time
// as %Y-%m-%d_%H:%M:%S, and the kind (sanoid's get_date and
// take_snapshots, 2.1.0 to 2.3.0).
var sanoidSnapshotRE = regexp.MustCompile(`^autosnap_[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}:[0-9]{2}:[0-9]{2}_(frequently|hourly|daily|weekly|monthly|yearly)$`)

// IsSanoidSnapshot reports whether name (the part after "@") is a
// snapshot sanoid took.
func IsSanoidSnapshot(name string) bool { return sanoidSnapshotRE.MatchString(name) }

// Decide returns what to do with the request line, or a RefusedError.
func (g Guard) Decide(line string) (Action, error) {
	refuse := func(format string, args ...any) (Action, error) {
		return Action{}, &RefusedError{Command: line, Reason: fmt.Sprintf(format, args...)}
	}
	w, err := Words(line)
	if err != nil {
		return refuse("%v", err)
	}
	switch {
	case len(w) == 0:
		return refuse("no command (a login shell is not allowed)")
	case slices.Equal(w, []string{"exit"}), slices.Equal(w, []string{"echo", "-n"}):
		return Action{Exit: 0}, nil
	case len(w) == 3 && w[0] == "command" && w[1] == "-v":
		// mbuffer, lzop, zstd …: "not there", so the stream is plain
		// zfs send and no pipeline ever runs on the node.
		return Action{Exit: 1}, nil
	case w[0] != "zfs" || len(w) < 2:
		return refuse("only zfs get and zfs send run here")
	}
	last := w[len(w)-1]
	switch w[1] {
	case "get":
		if !g.allowed(last) {
			return refuse("%q is not a dataset this node replicates (%s)", last, strings.Join(g.Datasets, ", "))
		}
		args := w[2 : len(w)-1]
		switch {
		case slices.Equal(args, []string{"-H", "syncoid:sync"}),
			slices.Equal(args, []string{"-Hpd", "1", "-t", "bookmark", "guid,creation"}):
			return Action{Argv: w}, nil
		case slices.Equal(args, []string{"-Hpd", "1", "-t", "snapshot", "guid,creation"}),
			slices.Equal(args, []string{"-Hpd", "1", "type,guid,creation"}):
			return Action{Argv: w, FilterSnapshotsOf: last}, nil
		}
		return refuse("not one of the zfs get commands syncoid uses")
	case "send":
		args := w[2:]
		if len(args) > 0 && args[0] == "-nvP" {
			args = args[1:]
		}
		switch {
		case len(args) == 1:
			if err := g.checkSnapshot(args[0]); err != nil {
				return refuse("%v", err)
			}
		case len(args) == 3 && args[0] == "-I":
			if err := g.checkSnapshot(args[1]); err != nil {
				return refuse("%v", err)
			}
			if err := g.checkSnapshot(args[2]); err != nil {
				return refuse("%v", err)
			}
			if dataset(args[1]) != dataset(args[2]) {
				return refuse("an incremental stream between two datasets")
			}
		default:
			return refuse("not one of the zfs send commands syncoid uses (a full stream of one snapshot, or -I between two)")
		}
		return Action{Argv: w}, nil
	}
	return refuse("zfs %s is not allowed", w[1])
}

// allowed reports whether ds is one of the replicated datasets.
func (g Guard) allowed(ds string) bool { return slices.Contains(g.Datasets, ds) }

// checkSnapshot accepts DATASET@SNAPSHOT of a replicated dataset and a
// sanoid snapshot.
func (g Guard) checkSnapshot(s string) error {
	ds, snap, ok := strings.Cut(s, "@")
	switch {
	case !ok:
		return fmt.Errorf("%q is not a snapshot (dataset@name)", s)
	case !g.allowed(ds):
		return fmt.Errorf("%q is not a dataset this node replicates (%s)", ds, strings.Join(g.Datasets, ", "))
	case !IsSanoidSnapshot(snap):
		return fmt.Errorf("%q is not a snapshot sanoid took (autosnap_…)", snap)
	}
	return nil
}

func dataset(snapshot string) string {
	ds, _, _ := strings.Cut(snapshot, "@")
	return ds
}

// SnapshotLines keeps, of `zfs get -H…` output, the lines about sanoid's
// snapshots of ds ("ds@autosnap_…<TAB>property<TAB>value<TAB>source"),
// in order.
func SnapshotLines(out, ds string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		name, _, _ := strings.Cut(line, "\t")
		d, snap, ok := strings.Cut(name, "@")
		if ok && d == ds && IsSanoidSnapshot(snap) {
			b.WriteString(line)
		}
	}
	return b.String()
}
