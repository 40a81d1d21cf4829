package restic

import "strings"

// IncludePattern is a restic --include (or --exclude) pattern that
// matches exactly the path p and everything below it: restic reads
// these patterns with filepath.Match per path element, so "*", "?",
// "[", "]" and "\" are escaped with a backslash. The runbook's restore
// commands build theirs the same way (emit/runbook).
func IncludePattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if strings.IndexByte(`\*?[]`, p[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
