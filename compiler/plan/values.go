package plan

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/holthome/bakc/escape"
)

// The rules of single values that the compiler applies to the
// configuration and Validate applies to a plan again. The compiler turns
// their errors into located diagnostics; each error names the value and
// says what is wrong with it, without a trailing period.

// Kinds are the repository kinds, in the order the docs list them.
var Kinds = []string{KindNFS, KindLocal, KindSFTP, KindREST, KindS3, KindB2, KindAzure, KindGS, KindSwift, KindRclone}

// SnapshotModes are the values of a job's snapshot.
var SnapshotModes = []string{SnapshotNone, SnapshotZFS}

// IOSchedulingClasses are the values of IOSchedulingClass= bakc allows.
var IOSchedulingClasses = []string{"idle", "best-effort", "realtime"}

// JobTagPrefix starts the tag that names a job; forget is scoped by it,
// so a user tag may not start with it.
const JobTagPrefix = "job:"

// JobTag is the tag that names the job called name.
func JobTag(name string) string { return JobTagPrefix + name }

// NixStore is where NixOS keeps build results: readable by every user
// of the machine and read-only at run time.
const NixStore = "/nix/store"

// CheckAbsPath reports a path that is not absolute and clean. Paths are
// compared as strings everywhere (is one job path inside another, which
// dataset holds a path), which is only right for clean absolute paths,
// and a relative path would be resolved against a folder nobody chose.
func CheckAbsPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q is not an absolute path", p)
	}
	if clean := path.Clean(p); clean != p {
		return fmt.Errorf("%q is not in its clean form %q", p, clean)
	}
	return nil
}

// IsUnder reports whether p is base or inside it; both clean and
// absolute.
func IsUnder(p, base string) bool {
	if base == "/" {
		return true
	}
	return p == base || strings.HasPrefix(p, base+"/")
}

// unixNameRE is what useradd accepts by default (NAME_REGEX), kept
// portable: lowercase, digits, "_" and "-", not starting with a digit or
// hyphen.
var unixNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)

// CheckUserName reports a backup user or group name that useradd or
// systemd would refuse: a lowercase letter or "_" first, then lowercase
// letters, digits, "_" and "-", at most 31 characters.
func CheckUserName(s string) error {
	if !unixNameRE.MatchString(s) || escape.CheckUserName(s) != nil {
		return fmt.Errorf("%q is not a user name: it must start with a lowercase letter or \"_\", hold only lowercase letters, digits, \"_\" and \"-\", and have at most 31 characters (systemd's rule for User=)", s)
	}
	return nil
}

// nobodyID is the id an NFS server squashes root to.
const nobodyID = 65534

// CheckUserID reports a uid or gid the backup user must not have: root's
// (backups run without root's rights, and a NAS squashes root) and
// nobody's (every squashed client would own the repositories).
func CheckUserID(id int) error {
	switch {
	case id == 0:
		return fmt.Errorf("0 is root's id")
	case id == nobodyID:
		return fmt.Errorf("%d is nobody's id, the one an NFS server squashes root to", id)
	case id < 0 || id > 2147483647:
		return fmt.Errorf("%d is not a user id from 1 to 2147483647", id)
	}
	return nil
}

// zfsComponentRE is one component of a ZFS dataset name.
var zfsComponentRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// CheckDatasetName reports a value that is not a ZFS dataset name
// (pool/child/…): components of letters, digits and "_.:-", the pool
// name starting with a letter, no snapshot or bookmark part. The name
// reaches zfs(8) as an argument, so it must never look like an option.
func CheckDatasetName(s string) error {
	ok := s != "" && len(s) <= 255
	if ok {
		for i, c := range strings.Split(s, "/") {
			if !zfsComponentRE.MatchString(c) || c == "." || c == ".." ||
				i == 0 && !(c[0] >= 'a' && c[0] <= 'z' || c[0] >= 'A' && c[0] <= 'Z') {
				ok = false
				break
			}
		}
	}
	if !ok {
		return fmt.Errorf("%q is not a ZFS dataset name (pool/child/…: components of letters, digits and \"_.:-\", the pool name starting with a letter)", s)
	}
	return nil
}

// CheckTag reports a tag restic would read as something else: restic
// splits --tag at commas, and trims nothing.
func CheckTag(s string) error {
	if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, ",") {
		return fmt.Errorf("%q is not a tag: a tag must not be empty, hold a comma or start or end with a space", s)
	}
	return nil
}

// resticDurationRE is restic's duration for --keep-within: one or more
// numbers with the units y, m, d, h.
var resticDurationRE = regexp.MustCompile(`^([0-9]+[ymdh])+$`)

// CheckResticDuration reports a value that is not a restic duration for
// --keep-within ("1y6m", "30d").
func CheckResticDuration(s string) error {
	if !resticDurationRE.MatchString(s) {
		return fmt.Errorf("%q is not a restic duration: numbers with the units y, m, d and h, such as \"1y6m\" or \"30d\"", s)
	}
	return nil
}

// Keeps reports whether the policy keeps any snapshot. restic's forget
// refuses to run without a policy, and a backup nobody forgets fills its
// repository; restic reads "0d" as no duration at all.
func (r Retention) Keeps() bool {
	return r.Last+r.Hourly+r.Daily+r.Weekly+r.Monthly+r.Yearly > 0 ||
		r.Within != "" && strings.ContainsAny(r.Within, "123456789")
}

// checkOneOf reports a value that is not one of the list.
func checkOneOf(s string, list []string) error {
	if slices.Contains(list, s) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(quoteAll(list), ", "))
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
