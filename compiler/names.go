package compiler

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The name rule. Every name in a fleet ends up as part of something with
// stricter rules of its own: job and repository names in systemd unit
// names (bakc-backup-<job>), node names in ZFS dataset names
// (backup/<node>/restic), restic's --host, NFS export paths and the NAS
// user bakc-recv-<node>, which useradd limits to 32 characters; NAS and
// dataset names in dataset names and paths. One rule that fits all of
// them, so that no emitter has to escape a name: a lowercase letter, then
// lowercase letters, digits and single hyphens, not ending in a hyphen
// (a DNS label that starts with a letter).
var nameRE = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-[a-z0-9])*$`)

const (
	// maxNameLen is a DNS label's limit.
	maxNameLen = 63
	// recvUserPrefix names a node's replication user on the NAS.
	recvUserPrefix = "bakc-recv-"
	// maxUserLen is useradd's limit on a user name.
	maxUserLen = 32
	// maxNodeNameLen keeps bakc-recv-<node> within maxUserLen.
	maxNodeNameLen = maxUserLen - len(recvUserPrefix)
)

// checkName reports a name that breaks the name rule. kind is "job",
// "node", … for the message.
func checkName(name string, rng hcl.Range, kind string) hcl.Diagnostics {
	limit := maxNameLen
	if kind == "node" {
		limit = maxNodeNameLen
	}
	if nameRE.MatchString(name) && len(name) <= limit {
		return nil
	}
	var why string
	switch {
	case name == "":
		why = "It is empty."
	case len(name) > limit && kind == "node":
		why = fmt.Sprintf("It is %d characters long; a node name may have at most %d, since the NAS user %s<node> must fit in %d.", len(name), limit, recvUserPrefix, maxUserLen)
	case len(name) > limit:
		why = fmt.Sprintf("It is %d characters long; a name may have at most %d.", len(name), limit)
	default:
		why = "It becomes part of systemd unit names, ZFS dataset names, paths and user names, so only lowercase letters, digits and single hyphens are allowed, starting with a letter and not ending with a hyphen."
	}
	suggest := ""
	if s := suggestName(name); s != "" && s != name && nameRE.MatchString(s) && len(s) <= limit {
		suggest = fmt.Sprintf(" For example %q.", s)
	}
	return hcl.Diagnostics{errorAt(rng, "Invalid "+kind+" name",
		"The %s name %q cannot be used. %s Choose another name.%s", kind, name, why, suggest)}
}

// suggestName turns a name into one that follows the rule, where that
// is obvious (case, underscores, spaces, dots).
func suggestName(name string) string {
	s := strings.ToLower(name)
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r == '-', r == '_', r == ' ', r == '.':
			return '-'
		}
		return -1
	}, s)
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return strings.Trim(s, "-")
}
