package envfile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// cases are environment files and what a service gets from them, as
// systemd reads EnvironmentFile= (TestParseAgreesWithSystemd checks
// every accepted one against systemd itself), or the start of Parse's
// error for what it refuses.
var cases = []struct {
	name, text string
	want       []string
	err        string
}{
	{"plain", "A=1\nB=two words\n", []string{"A=1", "B=two words"}, ""},
	{"comments and blank lines", "# c\n; c\n\n  \nA=1\n", []string{"A=1"}, ""},
	{"white space around", "  A  =  x y  \t\n", []string{"A=x y"}, ""},
	{"empty value", "A=\nB=''\n", []string{"A=", "B="}, ""},
	{"shell stays text", "A=$(touch /tmp/pwned)\nB=`id`\nC=${HOME}\nD=$HOME;rm -rf /\n", []string{"A=$(touch /tmp/pwned)", "B=`id`", "C=${HOME}", "D=$HOME;rm -rf /"}, ""},
	{"single quotes", "A='a \"b\" \\n $c'\n", []string{`A=a "b" \n $c`}, ""},
	{"double quotes and their escapes", `A="a \"b\" \\ \$c \` + "`" + ` \n"` + "\n", []string{"A=a \"b\" \\ $c ` \\n"}, ""},
	{"pieces joined", `A="a" 'b' c` + "\n", []string{"A=abc"}, ""},
	{"quote inside a value is text", `A=a"b"c` + "\n", []string{`A=a"b"c`}, ""},
	{"backslash outside quotes", `A=a\ b\\c\#` + "\n", []string{`A=a b\c#`}, ""},
	{"escaped trailing space kept", "A=a\\ \n", []string{"A=a "}, ""},
	{"continued line", "A=a\\\nb\nB=1\n", []string{"A=ab", "B=1"}, ""},
	{"continued line in double quotes", "A=\"a\\\nb\"\n", []string{"A=ab"}, ""},
	{"newline in single quotes", "A='a\nb'\n", []string{"A=a\nb"}, ""},
	{"hash in a value", "A=x # not a comment\n", []string{"A=x # not a comment"}, ""},
	{"CR ends a line", "A=1\rB=2\r\n", []string{"A=1", "B=2"}, ""},
	{"last one wins", "A=1\nB=2\nA=3\n", []string{"A=3", "B=2"}, ""},
	{"no final newline", "A=1", []string{"A=1"}, ""},
	{"unterminated quote runs to the end", "A='x\nB=2\n", []string{"A=x\nB=2\n"}, ""},
	{"equals in the value", "A=b=c\n", []string{"A=b=c"}, ""},
	{"UTF-8", "A=grüße\n", []string{"A=grüße"}, ""},
	{"export is not read", "export A=1\n", nil, `env:1: the name before "="`},
	{"no equals", "A=1\nthe secret\n", nil, `env:2: no "="`},
	{"name with a dash", "A-B=1\n", nil, `env:1: the name before "="`},
	{"name starting with a digit", "1A=1\n", nil, `env:1: the name before "="`},
	{"comment ending in a backslash", "# a \\\nA=1\n", nil, "env:1: a comment ends in a backslash"},
	{"NUL", "A=1\x00\nB=2\n", nil, "env: contains a NUL byte"},
	{"invalid UTF-8", "A=\xff\n", nil, "env: is not valid UTF-8"},
}

func TestParse(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("env", tt.text)
			if tt.err != "" {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), tt.err), "error %q, want %q…", err, tt.err)
				require.NotContains(t, err.Error(), "secret", "an error shows the file's text")
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseAgreesWithSystemd gives every accepted case, and random
// files made of the characters the grammar cares about, to systemd
// itself (a user manager of the test's own running a transient service
// with EnvironmentFile=, testenv.StartSystemdManager) and requires what
// the service gets to be what Parse returns. For the refused cases it
// requires that systemd does not simply give the variable the line
// seems to set, which is why Parse refuses them.
func TestParseAgreesWithSystemd(t *testing.T) {
	m := testenv.StartSystemdManager(t)
	dir := t.TempDir()
	baseline, err := serviceEnv(t, m, "")
	require.NoError(t, err)
	fromFile := func(t *testing.T, text string) ([]string, error) {
		file := filepath.Join(dir, "env")
		require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
		env, err := serviceEnv(t, m, file)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, kv := range env {
			// systemd sets these anew for every run.
			name, _, _ := strings.Cut(kv, "=")
			if !slices.Contains(baseline, kv) && name != "INVOCATION_ID" && name != "SYSTEMD_EXEC_PID" {
				out = append(out, kv)
			}
		}
		return out, nil
	}
	sorted := func(l []string) []string { l = slices.Clone(l); slices.Sort(l); return l }
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fromFile(t, tt.text)
			if tt.err == "" {
				require.NoError(t, err, "systemd refuses %q", tt.text)
				if diff := cmp.Diff(sorted(tt.want), sorted(got)); diff != "" {
					t.Errorf("systemd reads %q otherwise (-Parse +systemd):\n%s", tt.text, diff)
				}
				return
			}
			t.Logf("systemd gives %q (%v) for %q, which Parse refuses", got, err, tt.text)
			if tt.name == "export is not read" || tt.name == "name with a dash" || tt.name == "name starting with a digit" {
				require.Empty(t, got, "systemd takes the line")
			}
		})
	}
	rng := rand.New(rand.NewPCG(9, 9))
	const alphabet = "ab$`\\'\" \t\n#;=\r"
	agreed, refused := 0, 0
	for i := range 240 {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(string(rune('A'+rng.IntN(3))) + "=")
			for range rng.IntN(12) {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
			b.WriteByte('\n')
		}
		text := b.String()
		want, err := Parse("env", text)
		if err != nil {
			refused++
			continue
		}
		agreed++
		got, err := fromFile(t, text)
		require.NoError(t, err, "systemd refuses %q", text)
		if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
			t.Errorf("random file %d %q: (-Parse +systemd):\n%s", i, text, diff)
		}
	}
	t.Logf("random files: %d compared with systemd, %d refused by Parse", agreed, refused)
	require.Greater(t, agreed, 100, "too few random files were compared")
}

// serviceEnv is the environment of a transient service with
// EnvironmentFile=file (none when file is ""), as env -0 prints it; an
// error when systemd does not start the service.
func serviceEnv(t *testing.T, m *testenv.SystemdManager, file string) ([]string, error) {
	t.Helper()
	args := []string{"--quiet", "--wait", "--collect", "--pipe"}
	if file != "" {
		args = append(args, "--property=EnvironmentFile="+file)
	}
	out, stderr, err := m.Run(append(args, "/usr/bin/env", "-0")...)
	if err != nil {
		return nil, fmt.Errorf("systemd-run: %v: %s", err, stderr)
	}
	return strings.Split(strings.TrimSuffix(out, "\x00"), "\x00"), nil
}
