package compiler

import "testing"

// TestExcludedBy checks the exclude matching against restic's rules
// (internal/filter): anchored and floating patterns, "**", character
// classes, parents of a path, and "!" re-includes.
func TestExcludedBy(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		want     string
	}{
		{"anchored exact", []string{"/var/lib"}, "/var/lib", "/var/lib"},
		{"anchored parent", []string{"/var"}, "/var/lib/db", "/var"},
		{"anchored other", []string{"/var/lib"}, "/var/libs", ""},
		{"double star below", []string{"/var/**"}, "/var/lib", "/var/**"},
		{"double star matches zero folders", []string{"/var/lib/**"}, "/var/lib", "/var/lib/**"},
		{"floating name", []string{"**/lib"}, "/var/lib/db", "**/lib"},
		{"floating without stars", []string{"lib"}, "/var/lib", "lib"},
		{"floating suffix", []string{"lib/db"}, "/var/lib/db", "lib/db"},
		{"glob in a component", []string{"/var/l?b"}, "/var/lib", "/var/l?b"},
		{"class", []string{"/var/[kl]ib"}, "/var/lib", "/var/[kl]ib"},
		{"star does not cross folders", []string{"/v*/db"}, "/var/lib/db", ""},
		{"inside the path only", []string{"/var/lib/db/cache"}, "/var/lib/db", ""},
		{"cache excludes keep the path", []string{"**/.cache", "**/node_modules"}, "/home", ""},
		{"re-included", []string{"/var/**", "!/var/lib"}, "/var/lib", ""},
		{"re-include of another path", []string{"/var/**", "!/var/log"}, "/var/lib", "/var/**"},
		{"later exclude wins again", []string{"!/var/lib", "/var/lib"}, "/var/lib", "/var/lib"},
		{"invalid pattern ignored", []string{"/var/[lib"}, "/var/lib", ""},
		{"root path is never a parent", []string{"/"}, "/home", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := excludedBy(tt.patterns, tt.path); got != tt.want {
				t.Errorf("excludedBy(%q, %q) = %q, want %q", tt.patterns, tt.path, got, tt.want)
			}
		})
	}
}

// TestSimplifyKeepsMeaning compares, for every pattern and path built
// from a small alphabet, restic's matching of the pattern as written
// with the matching of its simplified form.
func TestSimplifyKeepsMeaning(t *testing.T) {
	var patterns [][]string
	var grow func(p []string, n int)
	grow = func(p []string, n int) {
		if len(p) > 0 {
			patterns = append(patterns, append([]string(nil), p...))
		}
		if n == 0 {
			return
		}
		for _, part := range []string{"**", "*", "a", "b"} {
			grow(append(p, part), n-1)
		}
	}
	grow(nil, 4)
	for _, p := range append([][]string(nil), patterns...) {
		patterns = append(patterns, append([]string{"/"}, p...))
	}
	var paths [][]string
	var walk func(p []string, n int)
	walk = func(p []string, n int) {
		if len(p) > 1 {
			paths = append(paths, append([]string(nil), p...))
		}
		if n == 0 {
			return
		}
		for _, c := range []string{"a", "b", "c"} {
			walk(append(p, c), n-1)
		}
	}
	walk([]string{"/"}, 4)
	for _, pat := range patterns {
		simple, all := simplify(append([]string(nil), pat...))
		for _, p := range paths {
			want := matchParts(pat, p)
			got := all || matchParts(simple, p)
			if got != want {
				t.Fatalf("pattern %q (simplified %q, all %v) on %q: got %v, restic's matching says %v", pat, simple, all, p, got, want)
			}
		}
	}
}
