package escape

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
)

func TestShellQuote(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "''"},
		{"dataset", "backup/forge/restic", "backup/forge/restic"},
		{"option", "-p", "-p"},
		{"address", "forge.holthome.net", "forge.holthome.net"},
		{"user at host", "bakc-recv-forge@nas-1", "bakc-recv-forge@nas-1"},
		{"percent plus colon comma", "5%+a:b,c", "5%+a:b,c"},
		{"equals is quoted", "quota=300G", "'quota=300G'"},
		{"space", "Plex Media Server", "'Plex Media Server'"},
		{"single quote", "it's", `'it'\''s'`},
		{"only a quote", "'", `''\'''`},
		{"double quote", `say "hi"`, `'say "hi"'`},
		{"dollar paren", "$(touch x)", "'$(touch x)'"},
		{"backticks", "`id`", "'`id`'"},
		{"variable", "$HOME", "'$HOME'"},
		{"glob", "**/.cache", "'**/.cache'"},
		{"tilde", "~root", "'~root'"},
		{"hash", "#comment", "'#comment'"},
		{"semicolon", "a;b", "'a;b'"},
		{"newline", "a\nb", "'a\nb'"},
		{"backslash", `a\b`, `'a\b'`},
		{"non-ascii", "café", "'café'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ShellQuote(tt.in)); diff != "" {
				t.Errorf("ShellQuote(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestShellQuotePanicsOnNUL(t *testing.T) {
	if err := CheckShellWord("a\x00b"); err == nil {
		t.Error("CheckShellWord accepted a NUL byte")
	}
	if err := CheckShellWord("a'b\n$(x)"); err != nil {
		t.Errorf("CheckShellWord refused a quotable word: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("ShellQuote quoted a word with a NUL byte instead of refusing it")
		}
	}()
	ShellQuote("a\x00b")
}

// hostileWords are values that would run something, or split into
// several words, if they reached a shell unquoted or badly quoted. Each
// that runs anything creates the file "pwned" in the shell's folder.
var hostileWords = []string{
	"$(touch pwned)",
	"`touch pwned`",
	"; touch pwned",
	"a && touch pwned",
	"a | touch pwned",
	"a\ntouch pwned",
	"a\r\ntouch pwned\r\n",
	"' ; touch pwned ; '",
	"'$(touch pwned)'",
	`"$(touch pwned)"`,
	`\'; touch pwned; \'`,
	"$'\\x27'; touch pwned",
	"${x:-$(touch pwned)}",
	"$((1+1))",
	"a > pwned",
	"<(touch pwned)",
	"*",
	"?",
	"[a-z]*",
	"~",
	"-n",
	"a=b",
	"!",
	"{a,b}",
	"# not a comment",
	"\t lead and trail \t",
	"'",
	"''",
	`\`,
	"\x01\x1b[31m\x7f",
	"\xff\xfe not utf-8",
	"",
}

// shells are the POSIX shells the quoting is proven against: the system
// sh (dash on Debian) and bash in POSIX mode.
func shells(t testing.TB) [][]string {
	t.Helper()
	return [][]string{
		{testenv.LookPath(t, "sh"), "-c"},
		{testenv.LookPath(t, "bash"), "--posix", "-c"},
	}
}

// runShell runs script with the shell in an empty folder and returns its
// stdout; it fails the test if the script left anything in that folder
// (a hostile word that ran).
func runShell(t testing.TB, shell []string, script string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(shell[0], append(shell[1:], script)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nscript: %q\nstderr: %s", shell[0], err, script, stderr.String())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s: script %q created %s: a quoted word ran", shell[0], script, e.Name())
	}
	return stdout.String()
}

// TestShellQuoteRoundTrip proves with real shells that a quoted word is
// read back as exactly the original string and runs nothing, alone and
// concatenated with another quoted word.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, shell := range shells(t) {
		for _, w := range hostileWords {
			got := runShell(t, shell, "printf '%s|' "+ShellQuote(w))
			if diff := cmp.Diff(w+"|", got); diff != "" {
				t.Errorf("%s: word %q (-want +got):\n%s", shell[0], w, diff)
			}
		}
		// One script with every word as its own argument: the word count
		// must not change (no splitting, no empty word lost).
		var args []string
		for _, w := range hostileWords {
			args = append(args, ShellQuote(w))
		}
		got := runShell(t, shell, "printf '%s\\000' "+strings.Join(args, " "))
		if diff := cmp.Diff(hostileWords, strings.Split(strings.TrimSuffix(got, "\x00"), "\x00")); diff != "" {
			t.Errorf("%s: all words as arguments (-want +got):\n%s", shell[0], diff)
		}
		// Concatenated quoted words are one word.
		got = runShell(t, shell, "printf '%s|' "+ShellQuote("a b")+ShellQuote("'")+ShellQuote("$(touch pwned)")+ShellQuote("x"))
		if diff := cmp.Diff("a b'$(touch pwned)x|", got); diff != "" {
			t.Errorf("%s: concatenation (-want +got):\n%s", shell[0], diff)
		}
	}
}

// FuzzShellQuote checks, with the system sh and bash, that every string
// without a NUL byte survives quoting unchanged and runs nothing.
func FuzzShellQuote(f *testing.F) {
	for _, w := range hostileWords {
		f.Add(w)
	}
	sh := shells(f)
	f.Fuzz(func(t *testing.T, s string) {
		if CheckShellWord(s) != nil {
			return
		}
		q := ShellQuote(s)
		if isBareShellWord(q) && q != s {
			t.Fatalf("bare result %q for %q", q, s)
		}
		for _, shell := range sh {
			got := runShell(t, shell, "printf '%s|' "+q)
			if got != s+"|" {
				t.Fatalf("%s: ShellQuote(%q) = %s reads back as %q", shell[0], s, q, strings.TrimSuffix(got, "|"))
			}
		}
	})
}
