package escape

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

func TestResticExcludePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/bakc", "/var/lib/bakc"},
		{"/", "/"},
		{"/a*b/c?d", `/a\*b/c\?d`},
		{"/x[1]/back\\slash", `/x\[1]/back\\slash`},
		{"/**", `/\*\*`},
		{"/$HOME/${USER}", "/$$HOME/$${USER}"},
		{"/ lead/trail ", "/[ ]lead/trail[ ]"},
		{"/tab\there", "/tab[\t]here"},
		{"/#not-a-comment/!not-negated", "/#not-a-comment/!not-negated"},
		{"/grüße/日本", "/grüße/日本"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ResticExcludePath(tt.in); got != tt.want {
				t.Errorf("ResticExcludePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheckResticExcludePath(t *testing.T) {
	for _, p := range []string{"relative", "", "/a/../b", "/a/", "/a\nb", "/a\rb", "/a\x00b"} {
		if CheckResticExcludePath(p) == nil {
			t.Errorf("CheckResticExcludePath(%q) = nil, want an error", p)
		}
		require.Panics(t, func() { ResticExcludePath(p) }, "%q", p)
	}
}

// resticReads is how restic 0.14 and 0.18 read one line of an exclude
// file (cmd/restic readExcludePatternsFromFiles in 0.14,
// internal/filter readPatternsFromFiles in 0.18, the same code) and
// match it (internal/filter: a pattern is split at "/", each part matched
// with filepath.Match, "**" any number of folders; only what a path that
// ResticExcludePath wrote can hold is modelled). The real restic reads
// the same lines in TestResticExcludePathWithRestic.
func resticReads(line, p string, getenv func(string) string) bool {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
		return false
	}
	line = os.Expand(line, func(s string) string {
		if s == "$" {
			return "$"
		}
		return getenv(s)
	})
	pat := strings.Split(filepath.Clean(line), "/")
	str := strings.Split(p, "/")
	if p == "/" {
		str = []string{""}
	}
	if line == "/" {
		pat = []string{""}
	}
	if len(pat) != len(str) {
		return false
	}
	for i := range pat {
		if pat[i] == "**" {
			return true // would match anything from here: a failure below
		}
		ok, err := filepath.Match(pat[i], str[i])
		if err != nil || !ok {
			return false
		}
	}
	return true
}

// FuzzResticExcludePath: the line matches the path it was made from,
// whatever the environment holds, and not a path that differs in one
// character.
func FuzzResticExcludePath(f *testing.F) {
	for _, s := range []string{"/var/lib/bakc", "/a*b", "/$HOME", "/ x ", "/[", `/\`, "/**", "/a?"} {
		f.Add(s)
	}
	env := func(s string) string { return "EXPANDED" }
	f.Fuzz(func(t *testing.T, p string) {
		if CheckResticExcludePath(p) != nil {
			return
		}
		line := ResticExcludePath(p)
		if !resticReads(line, p, env) {
			t.Fatalf("line %q does not match its path %q", line, p)
		}
		if p != "/" {
			for _, other := range []string{p + "x", p[:len(p)-1] + "\x01", filepath.Dir(p) + "/EXPANDED"} {
				if other != p && resticReads(line, other, env) {
					t.Fatalf("line %q of %q also matches %q", line, p, other)
				}
			}
		}
	})
}

// The real restic (0.14 and 0.18.1) reads the lines: each folder named
// with restic's special characters is left out of a backup, and its
// sibling, which the unescaped name would match as a pattern, is not.
func TestResticExcludePathWithRestic(t *testing.T) {
	// name to exclude → a sibling that the name, unescaped, would match
	// or turn into (a glob, an expanded variable, trimmed space).
	pairs := map[string]string{
		"a*b":      "aXb",
		"q?":       "qq",
		"x[1]":     "x1",
		`back\x`:   "backx",
		"**":       "other",
		"$HOME":    "home-sibling",
		"${X}y":    "valuey",
		" lead":    "lead",
		"trail ":   "trail",
		"#hash":    "hash",
		"!bang":    "bang",
		"tab\tin":  "tab in",
		"dollar$$": "dollar$",
	}
	for _, r := range testenv.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			dir := t.TempDir()
			tree := filepath.Join(dir, "tree")
			var lines []string
			for name, sibling := range pairs {
				for _, n := range []string{name, sibling} {
					require.NoError(t, os.MkdirAll(filepath.Join(tree, n), 0o755))
					require.NoError(t, os.WriteFile(filepath.Join(tree, n, "f"), []byte(n), 0o644))
				}
				lines = append(lines, ResticExcludePath(filepath.Join(tree, name)))
			}
			excludes := filepath.Join(dir, "excludes")
			require.NoError(t, os.WriteFile(excludes, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
			repo := filepath.Join(dir, "repo")
			restic := func(args ...string) []byte {
				cmd := exec.Command(r.Path, append([]string{"--repo", repo, "--no-cache"}, args...)...)
				// Variables an unescaped line would expand to a sibling.
				cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=x", "HOME=home-sibling", "X=value")
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "restic %v: %s", args, out)
				return out
			}
			restic("init")
			restic("backup", "--exclude-file", excludes, tree)
			var got []string
			sc := bufio.NewScanner(strings.NewReader(string(restic("ls", "latest"))))
			for sc.Scan() {
				if rel, ok := strings.CutPrefix(sc.Text(), tree+"/"); ok && !strings.Contains(rel, "/") {
					got = append(got, rel)
				}
			}
			var want []string
			for _, sibling := range pairs {
				want = append(want, sibling)
			}
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("folders in the backup (-want +got):\n%s", diff)
			}
		})
	}
}
