package restic

import (
	"bytes"
	"context"
	"strings"
)

// Feature flags of restic (≥ 0.17), as `restic features` lists them and
// RESTIC_FEATURES sets them.
const (
	// FeatureDeviceIDForHardlinks stores a file's device ID only for hard
	// links (and no directory's): without it every node records st_dev,
	// and a file system shown through a new mount each run (a ZFS
	// snapshot or clone gets a new device number whenever another mount
	// took the last one's) gives every directory a new tree blob every
	// run although nothing changed.
	FeatureDeviceIDForHardlinks = "device-id-for-hardlinks"
)

// FeaturesArgs is `restic features`: the feature flags this restic knows.
func FeaturesArgs() []string { return []string{"features"} }

// ListFeatures returns the feature flags this restic knows, by name, with
// their type ("alpha", "beta", "stable", "deprecated"). restic before
// 0.17 has no feature flags and no such command: it fails, and the
// caller treats that as none.
//
// It logs nothing (the caller says what it found): an old restic's
// "unknown command" is no news every night.
func (r *Restic) ListFeatures(ctx context.Context) (map[string]string, error) {
	quiet := *r
	quiet.Log = nil
	var out bytes.Buffer
	err := quiet.Run(ctx, FeaturesArgs(), func(line []byte) {
		out.Write(line)
		out.WriteByte('\n')
	})
	if err != nil {
		return nil, err
	}
	return parseFeatures(out.String()), nil
}

// parseFeatures reads the table `restic features` prints:
//
//	All Feature Flags:
//	Name                     Type   Default  Description
//	-----------------------------------------------------
//	device-id-for-hardlinks  alpha  false    store deviceID only …
//	-----------------------------------------------------
func parseFeatures(out string) map[string]string {
	flags := map[string]string{}
	rules := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "---") {
			rules++
			continue
		}
		if rules != 1 {
			continue // before the header's rule, or after the table
		}
		if f := strings.Fields(line); len(f) >= 2 {
			flags[f[0]] = f[1]
		}
	}
	return flags
}

// Optional reports whether a feature flag of this type can be switched
// (alpha and beta ones); a stable one is always on, a deprecated one
// always off, and restic warns when either is set.
func Optional(flagType string) bool { return flagType == "alpha" || flagType == "beta" }
