package calendar

import (
	"slices"
	"strings"

	"github.com/agext/levenshtein"
)

//go:generate go run zones_gen.go

// ValidTimezone reports whether name may end a calendar expression as its
// time zone: "UTC", or an IANA zone name from the list bakc carries
// (zones.go, generated from the Go toolchain's tz database). systemd
// itself accepts any file under /usr/share/zoneinfo that starts with the
// TZif magic; that folder is the target machine's, so bakc checks a fixed
// list instead and gives the same answer on every machine. Names systemd
// would also accept that are not in the list ("posix/…", "right/…",
// "posixrules", "localtime") are refused: they are not portable.
func ValidTimezone(name string) bool {
	if name == "UTC" {
		return true
	}
	_, found := slices.BinarySearch(zoneNames, name)
	return found
}

// closestZone suggests a zone for a misspelled one: the same name in
// another case, or the nearest by edit distance if it is close.
func closestZone(zone string) string {
	for _, z := range zoneNames {
		if strings.EqualFold(z, zone) {
			return z
		}
	}
	return closest(zone, zoneNames)
}

// closest returns the candidate nearest to s by edit distance (ignoring
// case), if it is within a third of s's length; "" otherwise.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+1
	for _, c := range candidates {
		if d := levenshtein.Distance(strings.ToLower(s), strings.ToLower(c), nil); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
