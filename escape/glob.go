package escape

import "strings"

// Glob returns a path as a glob(3) pattern that matches exactly that
// path: "*", "?", "[" and "\" are escaped with a backslash. systemd
// expands EnvironmentFile= paths with glob() before reading them
// (exec_context_load_environment), so "/run/secrets/b2 [1]" would match
// "/run/secrets/b2 1" or nothing; Glob("/run/secrets/b2 [1]") is read
// back as itself. The runbook passes environment files to systemd-run
// with it.
func Glob(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if strings.IndexByte(`*?[\`, path[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(path[i])
	}
	return b.String()
}
