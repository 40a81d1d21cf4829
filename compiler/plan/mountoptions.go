package plan

import (
	"fmt"
	"strings"
)

// Mount options are kept in the order the configuration writes them:
// mount(8) and the NFS client read them left to right, and for a pair
// that sets the same thing the later one wins ("soft,…,hard" is hard).
// Sorting them (as bakc did before issue 9, item 11) could flip that
// meaning; keeping the order but refusing every pair that contradicts
// itself makes the order not matter at all, which is what a reader of
// the configuration expects.

// exclusiveMountOptions are the groups of flags of which at most one may
// be given: each sets the same thing another way. From nfs(5) (soft,
// softerr and hard; intr; cto; ac; lock; acl; rdirplus; sharecache;
// resvport; fsc; udp, tcp and rdma, which are proto= too) and mount(8)'s
// file system independent options (ro/rw, sync/async, atime, diratime,
// relatime, dev, exec, suid, auto, user, mand, iversion, lazytime).
var exclusiveMountOptions = [][]string{
	{"soft", "softerr", "hard"},
	{"ro", "rw"},
	{"sync", "async"},
	{"intr", "nointr"},
	{"ac", "noac"},
	{"cto", "nocto"},
	{"lock", "nolock"},
	{"acl", "noacl"},
	{"rdirplus", "nordirplus"},
	{"sharecache", "nosharecache"},
	{"resvport", "noresvport"},
	{"fsc", "nofsc"},
	{"atime", "noatime"},
	{"diratime", "nodiratime"},
	{"relatime", "norelatime"},
	{"dev", "nodev"},
	{"exec", "noexec"},
	{"suid", "nosuid"},
	{"auto", "noauto"},
	{"user", "nouser"},
	{"mand", "nomand"},
	{"iversion", "noiversion"},
	{"lazytime", "nolazytime"},
}

// mountOptionKey is what an option sets, so that two options with the
// same key contradict each other unless they are equal: the flag's
// group, or the name of a name=value option (vers= is nfsvers=; udp,
// tcp and rdma are proto=).
func mountOptionKey(o string) string {
	name, _, hasValue := strings.Cut(o, "=")
	switch {
	case name == "vers":
		return "nfsvers"
	case !hasValue && (name == "udp" || name == "tcp" || name == "rdma"):
		return "proto"
	case hasValue:
		return name
	}
	for _, g := range exclusiveMountOptions {
		for _, f := range g {
			if f == name {
				return g[0] + "/" + strings.Join(g[1:], "/")
			}
		}
	}
	return ""
}

// MountOptionConflict is a later option that contradicts or repeats an
// earlier one of the same list.
type MountOptionConflict struct {
	// First and Second index the list; First < Second.
	First, Second int
	// Duplicate says the two are equal: harmless, but said once.
	Duplicate bool
}

// MountOptionConflicts finds, for every option, the first earlier option
// it repeats or contradicts: the same option twice, two flags of one
// group (soft and hard), or one name with two values (nfsvers=4.1 and
// vers=4.2, proto=udp and tcp). The compiler reports them with their
// locations; Validate refuses a plan that has any.
func MountOptionConflicts(opts []string) []MountOptionConflict {
	var out []MountOptionConflict
	for j, o := range opts {
		k := mountOptionKey(o)
		for i := range j {
			if opts[i] == o {
				out = append(out, MountOptionConflict{First: i, Second: j, Duplicate: true})
				break
			}
			if k != "" && mountOptionKey(opts[i]) == k {
				out = append(out, MountOptionConflict{First: i, Second: j})
				break
			}
		}
	}
	return out
}

// checkMountOptions: Validate's rule for a whole option list.
func checkMountOptions(opts []string) error {
	for _, c := range MountOptionConflicts(opts) {
		if c.Duplicate {
			return fmt.Errorf("%q is given twice (options %d and %d)", opts[c.Second], c.First, c.Second)
		}
		return fmt.Errorf("%q contradicts %q (options %d and %d): the later one would win", opts[c.Second], opts[c.First], c.First, c.Second)
	}
	return nil
}
