package plan

import (
	"fmt"
	"regexp"
	"strconv"
)

// The restic options a plan may carry and the restic release that
// added each. The compiler refuses an option the node's declared
// restic_version lacks (a located diagnostic); the runtime refuses it
// when the restic it finds is older (preflight), since an older restic
// fails on the unknown flag or value, or ignores it.

// ResticRelease is a restic release, major.minor.
type ResticRelease struct{ Major, Minor int }

// OldestRestic is the oldest restic bakc supports (Debian 12's), the
// restic_version of a node that declares none.
var OldestRestic = ResticRelease{0, 14}

func (r ResticRelease) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// AtLeast reports whether r is o or newer.
func (r ResticRelease) AtLeast(o ResticRelease) bool {
	return r.Major > o.Major || r.Major == o.Major && r.Minor >= o.Minor
}

var resticReleaseRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(\.(0|[1-9][0-9]{0,3}))?$`)

// ParseResticRelease reads "0.18" or "0.18.1" (the patch level is
// allowed and does not matter: options come with minor releases).
func ParseResticRelease(s string) (ResticRelease, error) {
	m := resticReleaseRE.FindStringSubmatch(s)
	if m == nil {
		return ResticRelease{}, fmt.Errorf("%q is not a restic release such as \"0.18\" or \"0.18.1\"", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	r := ResticRelease{major, minor}
	if !r.AtLeast(OldestRestic) {
		return ResticRelease{}, fmt.Errorf("%q is older than restic %s, the oldest bakc supports", s, OldestRestic)
	}
	return r, nil
}

// CompressionModes are the values of a repository's compression.
// restic 0.14 added auto, off and max; 0.19 fastest and better.
var CompressionModes = []string{"auto", "off", "max", "fastest", "better"}

// MaxRateKiB bounds limit_upload and limit_download (KiB/s): 1 TiB/s,
// far above any link, and far below where restic's int would overflow.
const MaxRateKiB = 1 << 30

// MaxReadConcurrency bounds read_concurrency: restic starts that many
// file readers.
const MaxReadConcurrency = 1024

// ResticNeed is an option in use and the restic release that added it.
type ResticNeed struct {
	// Option is the configuration's name and value, as a message says
	// it: `read_concurrency`, `compression = "better"`.
	Option string
	Since  ResticRelease
}

// ResticNeeds are the options of the job that need more than restic
// 0.14.
func (j *Job) ResticNeeds() []ResticNeed {
	var out []ResticNeed
	if j.ReadConcurrency > 0 {
		out = append(out, ResticNeed{"read_concurrency", ResticRelease{0, 15}})
	}
	return out
}

// ResticNeeds are the options of the repository that need more than
// restic 0.14.
func (r *Repository) ResticNeeds() []ResticNeed {
	var out []ResticNeed
	if r.Compression == "fastest" || r.Compression == "better" {
		out = append(out, ResticNeed{fmt.Sprintf("compression = %q", r.Compression), ResticRelease{0, 19}})
	}
	return out
}
