package compiler

import (
	"os"
	"path"
	"strings"
)

// The exclude check needs restic's own idea of which paths a pattern
// matches; this is the matching of restic's internal/filter package
// (BSD-2-Clause, restic 0.18), reduced to what the check needs. A pattern
// starting with "/" is anchored at the root; any other pattern matches
// at any depth; "**" matches any number of folders; a leading "!"
// re-includes what an earlier pattern excluded.

// excludePattern is a parsed restic exclude pattern.
type excludePattern struct {
	text    string   // as written
	parts   []string // "/" first when anchored; "**" kept as is
	negated bool
	all     bool // "**": matches every path
}

// parseExclude parses pattern. ok is false for a pattern restic would
// refuse (a malformed character class).
func parseExclude(pattern string) (p excludePattern, ok bool) {
	p.text = pattern
	if strings.HasPrefix(pattern, "!") {
		p.negated = true
		pattern = pattern[1:]
	}
	p.parts = splitRestic(path.Clean(pattern))
	for _, part := range p.parts {
		if _, err := path.Match(part, part); err != nil {
			return p, false
		}
	}
	p.parts, p.all = simplify(p.parts)
	return p, true
}

// simplify drops what cannot change restic's verdict, so that the
// common patterns ("**/.cache", "/persist/x/**") match without
// expanding "**": a single "**" at the start (after "/" if anchored)
// only says "at any depth", which a floating pattern already means, and
// a single "**" at the end adds nothing, since a pattern that matches a
// folder matches everything below it. all is true for "**" alone, which
// matches every path. Patterns with more "**" are left as they are:
// restic's expansion has edge cases there (TestSimplifyKeepsMeaning
// compares both on every short pattern).
func simplify(parts []string) (out []string, all bool) {
	stars := 0
	for _, p := range parts {
		if p == "**" {
			stars++
		}
	}
	switch {
	case stars != 1:
		return parts, false
	case len(parts) == 1:
		return nil, true
	case parts[0] == "**":
		return parts[1:], false
	case len(parts) > 2 && parts[0] == "/" && parts[1] == "**":
		return parts[2:], false
	case parts[len(parts)-1] == "**":
		return parts[:len(parts)-1], false
	}
	return parts, false
}

func splitRestic(p string) []string {
	parts := strings.Split(p, "/")
	if parts[0] == "" {
		parts[0] = "/"
	}
	return parts
}

// matches reports whether the pattern matches the clean absolute path p.
func (pat excludePattern) matches(p string) bool {
	if pat.all {
		return true
	}
	return matchParts(pat.parts, splitRestic(p))
}

// matchParts is restic's match: "**" expands to any number of "*"; an
// anchored pattern compares from the root, a floating one at every
// offset past it.
func matchParts(pattern, strs []string) bool {
	for pos, part := range pattern {
		if part != "**" {
			continue
		}
		for i := 0; i <= len(strs)-len(pattern)+1; i++ {
			expanded := make([]string, 0, len(pattern)-1+i)
			expanded = append(expanded, pattern[:pos]...)
			for range i {
				expanded = append(expanded, "*")
			}
			expanded = append(expanded, pattern[pos+1:]...)
			if matchParts(expanded, strs) {
				return true
			}
		}
		return false
	}
	if len(pattern) == 0 || len(pattern) > len(strs) {
		return len(pattern) == 0 && len(strs) == 0
	}
	minOffset, maxOffset := 0, len(strs)-len(pattern)
	if pattern[0] == "/" {
		maxOffset = 0
	} else if strs[0] == "/" {
		minOffset = 1
	}
outer:
	for offset := maxOffset; offset >= minOffset; offset-- {
		for i := len(pattern) - 1; i >= 0; i-- {
			if !matchPart(pattern[i], strs[offset+i]) {
				continue outer
			}
		}
		return true
	}
	return false
}

// matchPart matches one component, without path.Match for the plain
// names most components are.
func matchPart(pattern, name string) bool {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return pattern == name
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// excludeList is a job's parsed exclude patterns, in order.
type excludeList []excludePattern

// parseExcludes parses patterns, leaving out empty and invalid ones
// (reported by checkExcludes).
func parseExcludes(patterns []string) excludeList {
	out := make(excludeList, 0, len(patterns))
	for _, s := range patterns {
		if s == "" {
			continue
		}
		if pat, ok := parseExclude(s); ok {
			out = append(out, pat)
		}
	}
	return out
}

// excludedBy returns the pattern (as written) that excludes the clean
// absolute path p, honouring later "!" patterns as restic does; "" when
// p is kept. restic's matching already covers parents: "/var" matches
// "/var/lib" (an anchored pattern matches a prefix of the path) and
// "lib" matches "/var/lib/db" (a floating one matches anywhere), which
// is how excluding a folder excludes what is inside it.
func (l excludeList) excludedBy(p string) string {
	by := ""
	for _, pat := range l {
		if pat.matches(p) {
			if pat.negated {
				by = ""
			} else {
				by = pat.text
			}
		}
	}
	return by
}

// excludedBy parses patterns and asks excludeList.excludedBy.
func excludedBy(patterns []string, p string) string {
	return parseExcludes(patterns).excludedBy(p)
}

// readDifferentlyByRestic reports whether restic would read pattern as
// something else if it were a line of an exclude file as written: its
// os.Expand replaces $NAME, ${NAME}, $$ and the shell's special $1, $#,
// … (and eats an unclosed "${"). bakc escapes them, so the pattern
// matches literally; a user who knows restic's files may have meant the
// expansion.
func readDifferentlyByRestic(pattern string) bool {
	return os.Expand(pattern, func(string) string { return "\x00" }) != pattern
}
