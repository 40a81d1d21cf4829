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
