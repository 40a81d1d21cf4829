package plan

import (
	"fmt"
	"regexp"
)

// The name rule. Every name in a fleet ends up as part of something with
// stricter rules of its own: job and repository names in systemd unit
// names (bakc-backup-<job>) and in the runtime's lock, state and metrics
// file names, node names in ZFS dataset names (backup/<node>/restic),
// restic's --host, NFS export paths and the NAS user bakc-recv-<node>,
// which useradd limits to 32 characters; NAS and dataset names in
// dataset names and paths. One rule that fits all of them, so that no
// emitter has to escape a name and no name can climb out of a folder: a
// lowercase letter, then lowercase letters, digits and single hyphens,
// not ending in a hyphen (a DNS label that starts with a letter).
//
// The compiler checks names with CheckName when it reads the
// configuration, and Validate checks them again when the runtime reads a
// plan: one function, so that the two can never disagree.
var nameRE = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9])*$`)

const (
	// MaxNameLen is a DNS label's limit.
	MaxNameLen = 63
	// RecvUserPrefix names a node's replication user on the NAS.
	RecvUserPrefix = "bakc-recv-"
	// maxUserLen is useradd's limit on a user name.
	maxUserLen = 32
	// MaxNodeNameLen keeps RecvUserPrefix+<node> within useradd's limit.
	MaxNodeNameLen = maxUserLen - len(RecvUserPrefix)
)

// NameKind says what a name names; node names have a shorter limit.
type NameKind string

// The kinds of names in a fleet.
const (
	NameJob        NameKind = "job"
	NameRepository NameKind = "repository"
	NameNode       NameKind = "node"
	NameNAS        NameKind = "NAS"
	NameDataset    NameKind = "dataset"
)

// NameLimit is the longest name of the kind.
func NameLimit(kind NameKind) int {
	if kind == NameNode {
		return MaxNodeNameLen
	}
	return MaxNameLen
}

// CheckName reports a name of the given kind that breaks the name rule,
// with an error that says why in a sentence (no trailing period).
func CheckName(kind NameKind, name string) error {
	limit := NameLimit(kind)
	switch {
	case name == "":
		return fmt.Errorf("it is empty")
	case len(name) > limit && kind == NameNode:
		return fmt.Errorf("it is %d characters long; a node name may have at most %d, since the NAS user %s<node> must fit in %d", len(name), limit, RecvUserPrefix, maxUserLen)
	case len(name) > limit:
		return fmt.Errorf("it is %d characters long; a name may have at most %d", len(name), limit)
	case !nameRE.MatchString(name):
		return fmt.Errorf("it becomes part of systemd unit names, ZFS dataset names, paths and user names, so only lowercase letters, digits and single hyphens are allowed, starting with a letter and not ending with a hyphen")
	}
	return nil
}
