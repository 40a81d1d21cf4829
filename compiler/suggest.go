package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
)

// didYouMean returns " Did you mean "x"?" for the closest of candidates
// to given (hcl's own threshold: an edit distance below 3), or "".
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// quotedList prints names as "a", "b" and "c" for a message, sorted.
func quotedList(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	q := make([]string, len(sorted))
	for i, n := range sorted {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
