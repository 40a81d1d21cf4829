package plan

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
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

// resticSizeRE is a size as restic's ui.ParseBytes reads it (0.14 to
// 0.18), in the one spelling bakc allows: a whole number without sign or
// leading zero, and an optional unit K, M, G or T (powers of 1024).
var resticSizeRE = regexp.MustCompile(`^[1-9][0-9]{0,18}[KMGT]?$`)

// CheckResticSize reports a size restic would not read as written
// (--exclude-larger-than). restic also takes "0" (then every non-empty
// file is excluded: a backup of nothing that reports success), "+5",
// lowercase units and a B suffix; bakc takes none of them.
func CheckResticSize(s string) error {
	if !resticSizeRE.MatchString(s) {
		if up := strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b")); up != s && resticSizeRE.MatchString(up) {
			return fmt.Errorf("%q is not a size as bakc writes it for restic; write %q", s, up)
		}
		return fmt.Errorf("%q is not a size for restic: a whole number above 0 with an optional unit K, M, G or T (powers of 1024), such as \"500M\"", s)
	}
	n, _ := strconv.ParseUint(strings.TrimRight(s, "KMGT"), 10, 64)
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}[s[len(s)-1]]
	if n > math.MaxInt64>>shift {
		return fmt.Errorf("%q is larger than restic can count", s)
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

// CheckNFSMountpoint reports why p cannot be the mountpoint of an NFS
// repository, or nil. The mountpoint is read by more consumers than any
// other path of the plan, and must mean the same to each: it is a word
// of RequiresMountsFor= and ReadWritePaths= (escape.SystemdPath), the
// whole value of a mount unit's Where= (escape.SystemdString, one line
// of a unit file: no final backslash, no surrounding space), the source
// of the mount unit's name, restic's --repo and the runbook's mount
// command, and a field of NixOS's /etc/fstab line (fstab.go). The
// compiler, Validate and the unit writer all call this one
// function, so that what the compiler accepts the units can carry
// (issue 9, item 5: a mountpoint ending in a backslash passed the path
// checks and crashed the unit writer).
func CheckNFSMountpoint(p string) error {
	if err := CheckAbsPath(p); err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf(`"/" cannot be a mountpoint of a repository`)
	}
	if err := escape.CheckSystemdPath(p); err != nil {
		return fmt.Errorf("%q %w", p, err)
	}
	if err := escape.CheckSystemdLine(p); err != nil {
		return fmt.Errorf("%q cannot be a mount unit's Where=: it %w", p, err)
	}
	// NixOS's fstab line: the readers decode some backslash escapes
	// (fstab.go; issue 9, item 12).
	return checkFstabField(p)
}
