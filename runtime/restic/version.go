package restic

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Version is a restic release, as `restic version` names it.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// AtLeastPatch reports whether v is major.minor.patch or newer.
func (v Version) AtLeastPatch(major, minor, patch int) bool {
	if v.Major != major || v.Minor != minor {
		return v.AtLeast(major, minor)
	}
	return v.Patch >= patch
}

// HasRetryLock reports whether restic knows --retry-lock (0.16 added it;
// an older restic refuses the unknown flag and does nothing).
func (v Version) HasRetryLock() bool { return v.AtLeast(0, 16) }

// HasStuckRequestTimeout reports whether restic knows
// --stuck-request-timeout: 0.17.1 added it (changelog/0.17.1_2024-09-05/
// issue-4970; cmd/restic/global.go), not 0.17.0. It is a global flag
// every command accepts; what it bounds is one HTTP request that makes
// no progress (internal/backend/watchdog_roundtriper.go, 5 minutes by
// default): restic then cancels it and retries. It applies to the
// backends that speak HTTP through restic's transport (s3, b2, rest,
// azure, gs, swift), not to sftp, rclone or a local folder.
func (v Version) HasStuckRequestTimeout() bool { return v.AtLeastPatch(0, 17, 1) }

// ParseVersion reads the first line of `restic version`:
// "restic 0.18.1 compiled with go1.24.1 on linux/amd64". A development
// build ("restic 0.18.1-dev (compiled manually) …") counts as its release.
func ParseVersion(out string) (Version, error) {
	f := strings.Fields(out)
	if len(f) < 2 || f[0] != "restic" {
		return Version{}, fmt.Errorf("restic version printed %q, not \"restic X.Y.Z …\"", firstLine(out))
	}
	num, _, _ := strings.Cut(f[1], "-")
	parts := strings.Split(num, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("restic version printed %q, not \"restic X.Y.Z …\"", firstLine(out))
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("restic version printed %q, not \"restic X.Y.Z …\"", firstLine(out))
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// versions caches DetectVersion per binary for the life of the process:
// `restic version` runs (and its output is parsed) once per binary,
// however many repositories and restic calls a run has.
var versions = struct {
	sync.Mutex
	m map[string]Version
}{m: map[string]Version{}}

// DetectVersion runs `restic version` with the binary once per process
// and returns what it said; later calls return the same answer. A
// failure is not cached: the next call tries again.
func DetectVersion(ctx context.Context, binary string) (Version, error) {
	versions.Lock()
	defer versions.Unlock()
	if v, ok := versions.m[binary]; ok {
		return v, nil
	}
	out, err := exec.CommandContext(ctx, binary, "version").Output()
	if err != nil {
		return Version{}, fmt.Errorf("%s version: %w", binary, err)
	}
	v, err := ParseVersion(string(out))
	if err != nil {
		return Version{}, err
	}
	versions.m[binary] = v
	return v, nil
}
