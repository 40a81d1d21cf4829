package compiler

import (
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
	return p, true
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
	return matchParts(pat.parts, splitRestic(p))
}

func matchParts(pattern, strs []string) bool {
	for pos, part := range pattern {
		if part != "**" {
			continue
		}
		// Expand "**" into 0, 1, … single wildcards.
		for i := 0; i <= len(strs)-len(pattern)+1; i++ {
			expanded := append([]string(nil), pattern[:pos]...)
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
	if len(pattern) == 0 {
		return len(strs) == 0
	}
	if len(pattern) > len(strs) {
		return false
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
			if ok, _ := path.Match(pattern[i], strs[offset+i]); !ok {
				continue outer
			}
		}
		return true
	}
	return false
}

// excludedBy returns the pattern (as written) that excludes the clean
// absolute path p in the list patterns, honouring later "!" patterns as
// restic does; "" when p is kept. restic's matching already covers
// parents: "/var" matches "/var/lib" (an anchored pattern matches a
// prefix of the path) and "lib" matches "/var/lib/db" (a floating one
// matches anywhere), which is how excluding a folder excludes what is
// inside it.
func excludedBy(patterns []string, p string) string {
	by := ""
	for _, s := range patterns {
		if s == "" {
			continue
		}
		pat, ok := parseExclude(s)
		if !ok {
			continue // reported as an invalid pattern
		}
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
