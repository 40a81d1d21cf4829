package restic

import (
	"bytes"
	"sort"
	"strings"
)

// redactMin is the shortest environment value that is hidden: a shorter
// one ("1", "us") would blank out ordinary words of restic's messages,
// and is no credential.
const redactMin = 4

// redactor hides the values of the repository's environment file (Env:
// cloud credentials) in what restic writes to stderr, before a line is
// logged or kept for an error (and so for the error log and the
// journal). restic's own messages were not seen to carry them (0.14 and
// 0.18.1 against unreachable s3, b2 and rest servers print the URL,
// 0.18.1 with the rest password as ***), but a backend that echoes what
// a server answered, or a value restic refuses and quotes, would put a
// key into the logs; each value is replaced by [KEY redacted] instead.
type redactor struct {
	values [][]byte
	names  []string
}

func newRedactor(env []string) *redactor {
	r := &redactor{}
	type kv struct{ name, value string }
	var kvs []kv
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		if len(value) >= redactMin {
			kvs = append(kvs, kv{name, value})
		}
	}
	// Longest first, so that a value inside another is not replaced
	// first and the longer one then missed.
	sort.SliceStable(kvs, func(i, j int) bool { return len(kvs[i].value) > len(kvs[j].value) })
	for _, e := range kvs {
		r.values = append(r.values, []byte(e.value))
		r.names = append(r.names, e.name)
	}
	return r
}

// line returns line with every value replaced.
func (r *redactor) line(line []byte) []byte {
	for i, v := range r.values {
		if bytes.Contains(line, v) {
			line = bytes.ReplaceAll(line, v, []byte("["+r.names[i]+" redacted]"))
		}
	}
	return line
}

// text is line for a string.
func (r *redactor) text(s string) string { return string(r.line([]byte(s))) }
