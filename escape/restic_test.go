package escape

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// readResticWords is a model of how restic (0.14 to 0.18.1) splits
// sftp.command into words, written from its behaviour: outside quotes,
// white space and backslashes separate words (and are dropped); a ' or "
// separates too and starts a quoted run that a later same quote ends,
// unless a backslash comes right before it; inside, everything is
// literal; an unterminated quote is an error. The real restic binaries
// check ResticCommand in runtime/restic (TestSFTPCommandRealRestic).
func readResticWords(s string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	in := false
	var quote, last rune
	flush := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for _, c := range s {
		split := false
		switch {
		case last != '\\' && quote != 0 && c == quote:
			quote, split = 0, true
		case last != '\\' && quote == 0 && (c == '"' || c == '\''):
			quote, split = c, true
		default:
			last = c
			split = quote == 0 && (c == '\\' || unicode.IsSpace(c))
		}
		if split {
			flush()
			continue
		}
		in = true
		cur.WriteRune(c)
	}
	flush()
	return words, quote == 0
}

func TestResticCommand(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"ssh", "-F", "none", "-p", "2222", "nas"}, "ssh -F none -p 2222 nas"},
		{[]string{"/opt/my ssh", "it's", `say "hi"`, `a\b`}, `"/opt/my ssh" "it's" 'say "hi"' "a\b"`},
		{[]string{"ssh", "UserKnownHostsFile=/etc/bakc/known_hosts"}, "ssh UserKnownHostsFile=/etc/bakc/known_hosts"},
	}
	for _, tt := range tests {
		got, err := ResticCommand(tt.argv)
		if err != nil || got != tt.want {
			t.Errorf("ResticCommand(%q) = %q, %v; want %q", tt.argv, got, err, tt.want)
		}
		words, ok := readResticWords(got)
		if diff := cmp.Diff(tt.argv, words); !ok || diff != "" {
			t.Errorf("%q reads back (-want +got):\n%s", got, diff)
		}
	}
	for _, bad := range [][]string{nil, {"ssh", ""}, {"ssh", `x\`}, {"ssh", `"'`}, {"ssh", "\xff"}, {"ssh", "a\nb"}, {"ssh", "a\r\nb"}, {"ssh", "\t"}} {
		if got, err := ResticCommand(bad); err == nil {
			t.Errorf("ResticCommand(%q) = %q, want an error", bad, got)
		}
	}
}

func TestResticOption(t *testing.T) {
	for _, kv := range []string{"sftp.command=ssh -p 22 nas", `sftp.command="/a b" x`, "a,b=c", " lead", "new\nline", "plain=1"} {
		got := ResticOption(kv)
		fields, err := csv.NewReader(strings.NewReader(got)).Read()
		if err != nil || len(fields) != 1 || fields[0] != kv {
			t.Errorf("ResticOption(%q) = %q reads back as %q (%v)", kv, got, fields, err)
		}
	}
	if got := ResticOption("sftp.connections=5"); got != "sftp.connections=5" {
		t.Errorf("a plain option changed: %q", got)
	}
}

func FuzzResticCommand(f *testing.F) {
	f.Add("ssh", "two words", `it's "x"`)
	f.Add("/p", `a\b`, "\u00a0")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		argv := []string{a, b, c}
		s, err := ResticCommand(argv)
		if err != nil {
			return
		}
		words, ok := readResticWords(s)
		if !ok || !cmp.Equal(argv, words) {
			t.Fatalf("ResticCommand(%q) = %q reads back as %q (ok %v)", argv, s, words, ok)
		}
		opt := ResticOption("sftp.command=" + s)
		fields, err := csv.NewReader(strings.NewReader(opt)).Read()
		if err != nil || len(fields) != 1 || fields[0] != "sftp.command="+s {
			t.Fatalf("ResticOption(%q) = %q reads back as %q (%v)", s, opt, fields, err)
		}
	})
}

// readResticExcludeFile is restic's reading of an --exclude-file, step
// by step as in 0.14.0 (cmd/restic/cmd_backup.go:390-430) and 0.18.1
// (internal/filter/exclude.go:57-97), which are the same: BOM dropped,
// lines split by bufio.Scanner, trimmed, empty and "#" lines skipped,
// then os.Expand with restic's mapping ("$" stays "$", any other name
// is looked up). The lookup here answers «NAME», so that an expansion
// shows. It is the model the unit tests use; the runtime's tests run
// the real restic 0.14 and 0.18.1 on the same cases.
func readResticExcludeFile(t *testing.T, data []byte) []string {
	t.Helper()
	data = bytes.TrimPrefix(data, []byte{0xef, 0xbb, 0xbf})
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, os.Expand(line, func(name string) string {
			if name == "$" {
				return "$"
			}
			return "«" + name + "»"
		}))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("restic would fail reading the file: %v", err)
	}
	return out
}

func TestResticExcludeLine(t *testing.T) {
	for _, tt := range []struct {
		name, pattern, want string
	}{
		{"plain", "**/.cache", "**/.cache"},
		{"anchored", "/persist/var/lib/plex/**", "/persist/var/lib/plex/**"},
		{"glob syntax passes", "**/*.[ch]", "**/*.[ch]"},
		{"negation passes", "!**/keep", "!**/keep"},
		{"backslash passes", `x\y`, `x\y`},
		{"variable", "$HOME", "$$HOME"},
		{"braced variable", "**/${NOPE}", "**/$${NOPE}"},
		{"dollars", "a$$b", "a$$$$b"},
		{"dollar at the end", "end$", "end$$"},
		{"special variables", "$1$*$#$?", "$$1$$*$$#$$?"},
		{"dollar in a class", "[$]x", "[$$]x"},
		{"comment", "#c", "[#]c"},
		{"comment deep", "**/#c", "**/#c"},
		{"only a hash", "#", "[#]"},
		{"leading space", "  lead", "[ ] lead"},
		{"leading tab", "\tx", "[\t]x"},
		{"leading no-break space", "\u00a0x", "[\u00a0]x"},
		{"byte order mark", "\ufeffx", "[\ufeff]x"},
		{"trailing space", "trail ", "trail[ ]"},
		{"trailing spaces", "trail  ", "trail [ ]"},
		{"trailing escaped space", `trail\ `, "trail[ ]"},
		{"trailing ideographic space", "x\u3000", "x[\u3000]"},
		{"trailing class with a space", "x[ ]", "x[ ]"},
		{"only spaces", "   ", "[ ] [ ]"},
		{"negated trailing space", "!x ", "!x[ ]"},
		{"negated comment", "!#c", "!#c"},
		{"both ends and a dollar", " $x ", "[ ]$$x[ ]"},
		{"unicode", "Grüße/日本", "Grüße/日本"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ResticExcludeLine(tt.pattern)
			if got != tt.want {
				t.Errorf("ResticExcludeLine(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
			back := readResticExcludeFile(t, []byte(got+"\n"))
			if len(back) != 1 {
				t.Fatalf("restic reads %q as %q, want one pattern", got, back)
			}
			assertSameMatches(t, tt.pattern, back[0], nil)
		})
	}
}

func TestCheckResticExcludeLine(t *testing.T) {
	longest := strings.Repeat("a", resticMaxLine)
	for _, tt := range []struct {
		name, pattern, want string
	}{
		{"empty", "", "is empty"},
		{"newline", "a\nb", "a line break at byte 1"},
		{"carriage return", "a\r", "a carriage return"},
		{"nul", "a\x00", "a NUL byte"},
		{"not utf-8", "\xff\xfea", "not valid UTF-8"},
		{"unclosed class", "**/[ab", "not a valid restic pattern"},
		{"backslash at the end of a component", `a\/b`, "not a valid restic pattern"},
		{"unclosed class restic's own check passes", `\0*[/ `, "not a valid restic pattern"},
		{"empty class", "a[]", "not a valid restic pattern"},
		{"empty negated class", "a[^]", "not a valid restic pattern"},
		{"range without its end", "[a-]", "not a valid restic pattern"},
		{"class across a slash", "a[/]b", "not a valid restic pattern"},
		{"too long", longest + "a", "65536 bytes long"},
		{"too long once escaped", longest[1:] + "$", "65536 bytes long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckResticExcludeLine(tt.pattern)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckResticExcludeLine(%.40q) = %v, want an error with %q", tt.pattern, err, tt.want)
			}
		})
	}
	for _, ok := range []string{longest, `[\]]`, "[^a-z]x", `[a\-z]`, "**/*.[ch]", `\[x\]`} {
		if err := CheckResticExcludeLine(ok); err != nil {
			t.Errorf("CheckResticExcludeLine(%.40q) = %v, want nil", ok, err)
		}
	}
	if back := readResticExcludeFile(t, []byte(longest+"\n")); len(back) != 1 || back[0] != longest {
		t.Errorf("the longest line is not read back whole")
	}
}

// Every line ResticExcludeLine writes, read back by restic, is one
// pattern that matches what the original matches, component by
// component, for any name.
func FuzzResticExcludeLine(f *testing.F) {
	for _, s := range []string{"**/${NOPE}", "$HOME", "#c", "a$$b", `x\y`, "  lead", "trail ", `t\ `, "*.tmp", "[abc]", "!#", " \u00a0", "[ ]x\t", "${", "$", "\ufeff#"} {
		f.Add(s, "lead")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		// filepath.Match costs the product of the lengths: keep the
		// fuzzer on short inputs, where the cases are (the line limit has
		// its own test).
		if len(pattern) > 256 || len(name) > 256 || CheckResticExcludeLine(pattern) != nil || strings.Contains(name, "/") {
			return
		}
		line := ResticExcludeLine(pattern)
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("line %q holds a line break", line)
		}
		back := readResticExcludeFile(t, []byte(line+"\n"))
		if len(back) != 1 {
			t.Fatalf("restic reads %q (from %q) as %q, want one pattern", line, pattern, back)
		}
		assertSameMatches(t, pattern, back[0], []string{name})
	})
}

// assertSameMatches fails unless restic, given got instead of want,
// excludes the same paths: the same negation, the same components after
// restic's Clean, each either equal or matching the same names (the
// given ones, and want's and got's own components).
func assertSameMatches(t *testing.T, want, got string, names []string) {
	t.Helper()
	if strings.HasPrefix(want, "!") != strings.HasPrefix(got, "!") {
		t.Fatalf("restic reads %q for %q: negation differs", got, want)
	}
	wp := strings.Split(filepath.Clean(strings.TrimPrefix(want, "!")), "/")
	gp := strings.Split(filepath.Clean(strings.TrimPrefix(got, "!")), "/")
	if len(wp) != len(gp) {
		t.Fatalf("restic reads %q for %q: components %q, want %q", got, want, gp, wp)
	}
	for i := range wp {
		if wp[i] == gp[i] {
			continue
		}
		if wp[i] == "**" || gp[i] == "**" {
			t.Fatalf("restic reads %q for %q: component %q for %q", got, want, gp[i], wp[i])
		}
		cands := append([]string{unescapeLiteral(wp[i]), wp[i], gp[i]}, names...)
		for _, n := range cands {
			if n == "" || !utf8.ValidString(n) {
				continue
			}
			w, werr := filepath.Match(wp[i], n)
			g, gerr := filepath.Match(gp[i], n)
			if werr != nil || gerr != nil {
				t.Fatalf("an accepted pattern fails to match: %q: %v; %q: %v", wp[i], werr, gp[i], gerr)
			}
			if w != g {
				t.Fatalf("restic reads %q for %q: component %q matches %q: %v, want %v", got, want, gp[i], n, g, w)
			}
		}
	}
}

// unescapeLiteral drops the backslashes of a pattern, the name a pattern
// without wildcards matches.
func unescapeLiteral(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

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
