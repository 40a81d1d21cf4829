package escape

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

// hostileStrings are values a configuration might hand to the emitters:
// everything a Nix string, a unit file or a shell gives a meaning to.
var hostileStrings = []string{
	"",
	"plain",
	"/home",
	"/srv/${x}",
	"${builtins.throw \"boom\"}",
	"$${x}",
	"$$",
	"$",
	"a$",
	"$\"",
	`say "hi"`,
	`back\slash`,
	`trailing\`,
	`\${x}`,
	`\\${x}`,
	"''${x}",
	"'''",
	"''",
	"'",
	"'${x}",
	"''\\n",
	"100%",
	"%n %i %%",
	"a\nb",
	"a\r\nb",
	"\r",
	"tab\there",
	"  leading and trailing  ",
	"Plex Media Server/Cache/**",
	"`id`",
	"$(touch /tmp/pwned)",
	"; rm -rf /",
	"café ü 日本",
	"#comment",
	"{ }",
	"\"${a}\" '${b}' ''${c}''",
}

func TestNixString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"plain", "/home", `"/home"`},
		{"quote", `say "hi"`, `"say \"hi\""`},
		{"backslash", `a\b`, `"a\\b"`},
		{"antiquotation", "/srv/${x}", `"/srv/\${x}"`},
		{"lone dollar", "a$b $", `"a$b $"`},
		{"double dollar brace", "$${x}", `"$\${x}"`},
		{"newline", "a\nb", `"a\nb"`},
		{"carriage return", "a\rb", `"a\rb"`},
		{"tab", "a\tb", `"a\tb"`},
		{"percent stays", "100%", `"100%"`},
		{"unicode stays", "café", `"café"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NixString(tt.in)); diff != "" {
				t.Errorf("NixString(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCheckNixString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"hostile but carried", "$${x} \"a\" \\ ''${y} \n\r\t", true},
		{"NUL", "a\x00b", false},
		{"escape char", "a\x1bb", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u009bb", false},
		{"invalid UTF-8", "a\xffb", false},
		{"replacement character itself", "a\uFFFDb", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNixString(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("CheckNixString(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
	require.Panics(t, func() { NixString("a\x00") })
}

func TestNixAttrName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bakc", "bakc"},
		{"bakc-backup-system", "bakc-backup-system"},
		{"_x'y", "_x'y"},
		{"/mnt/nas-backup", `"/mnt/nas-backup"`},
		{"bakc/plan.json", `"bakc/plan.json"`},
		{"1st", `"1st"`},
		{"-x", `"-x"`},
		{"in", `"in"`},
		{"or", `"or"`},
		{"", `""`},
		{"a${b}", `"a\${b}"`},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, NixAttrName(tt.in)); diff != "" {
			t.Errorf("NixAttrName(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestNixIndentedString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"json", "{\n  \"a\": 1\n}\n", "''\n    {\n      \"a\": 1\n    }\n  ''"},
		{"empty line kept unindented", "a\n\nb\n", "''\n    a\n\n    b\n  ''"},
		{"two quotes", "a''b\n", "''\n    a'''b\n  ''"},
		{"antiquotation", "${x}\n", "''\n    ''${x}\n  ''"},
		{"quote before antiquotation", "'${x}\n", "''\n    ''\\'''${x}\n  ''"},
		{"tab", "\ta\n", "''\n    ''\\ta\n  ''"},
		{"backslash is literal", "a\\nb\n", "''\n    a\\nb\n  ''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NixIndentedString(tt.in, "    ", "  ")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NixIndentedString(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	for _, bad := range []string{"no newline", "  all indented\n", "a\n   \nb\n", "a\x00\n", ""} {
		if CheckNixIndentedString(bad) == nil {
			t.Errorf("CheckNixIndentedString(%q) accepted it", bad)
		}
	}
}

// randomText returns n strings drawn from an alphabet that is mostly
// characters with a meaning to Nix, systemd or a shell.
func randomText(seed uint64, n, maxLen int, alphabet []string) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for l := r.IntN(maxLen + 1); l > 0; l-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		out[i] = b.String()
	}
	return out
}

var nixAlphabet = []string{"$", "{", "}", "'", "''", "\"", "\\", "\n", "\r", "\t", " ", " ", "a", "n", "%", "é", "${", "/"}

// nixEval evaluates a list of Nix expressions with the real
// nix-instantiate, in one process, and returns their string values.
func nixEval(t *testing.T, exprs []string) []string {
	t.Helper()
	nix := testenv.NixInstantiate(t)
	file := filepath.Join(t.TempDir(), "corpus.nix")
	var src bytes.Buffer
	src.WriteString("[\n")
	for _, e := range exprs {
		src.WriteString("(\n")
		src.WriteString(e)
		src.WriteString("\n)\n")
	}
	src.WriteString("]\n")
	require.NoError(t, os.WriteFile(file, src.Bytes(), 0o644))
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(nix, "--eval", "--strict", "--json", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nix-instantiate: %v\n%s", err, stderr.String())
	}
	var got []string
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got))
	require.Len(t, got, len(exprs))
	return got
}

// TestNixRealCorpus proves NixString and NixIndentedString with the real
// nix-instantiate on the hostile strings and thousands of random ones,
// and checks that the Go model of Nix's reader (nixread_test.go) used by
// the fuzz tests agrees with nix on all of them.
func TestNixRealCorpus(t *testing.T) {
	corpus := append([]string{}, hostileStrings...)
	corpus = append(corpus, randomText(1, 3000, 12, nixAlphabet)...)

	var inputs, exprs, kinds []string
	for _, s := range corpus {
		if CheckNixString(s) != nil {
			continue
		}
		inputs, exprs, kinds = append(inputs, s), append(exprs, NixString(s)), append(kinds, "string")
		// Indented strings: make s a text that can be carried, the
		// way the plan JSON is (a flush first line, a final newline).
		text := "x" + s + "\n"
		if CheckNixIndentedString(text) == nil {
			inputs, exprs, kinds = append(inputs, text), append(exprs, NixIndentedString(text, "    ", "  ")), append(kinds, "indented")
		}
	}
	got := nixEval(t, exprs)
	for i := range inputs {
		if got[i] != inputs[i] {
			t.Errorf("%s literal %s evaluates to %q, want %q", kinds[i], exprs[i], got[i], inputs[i])
			continue
		}
		var model string
		var err error
		if kinds[i] == "string" {
			model, err = readNixString(exprs[i])
		} else {
			model, err = readNixIndented(exprs[i])
		}
		if err != nil || model != got[i] {
			t.Errorf("model of Nix's reader disagrees with nix on %s: model %q (%v), nix %q", exprs[i], model, err, got[i])
		}
	}
	t.Logf("%d literals evaluated", len(inputs))
}

// TestNixReadModelAgainstRealNix feeds the model literals that are not
// produced by the escaping functions (raw $${, three quotes…), so that the model
// is checked on the corners the fuzz tests lean on.
func TestNixReadModelAgainstRealNix(t *testing.T) {
	lits := []string{
		`"$${x}"`, `"$\${x}"`, `"a$"`, `"\$"`, `"$\""`, "\"a\rb\"", "\"a\r\nb\"", `"$$$"`,
		"''\n  $${x}\n''", "''\n  a'b\n''", "''\n  '$\n''", "''\n  ''$\n''", "''\n  ''\\x\n''",
		"''\n    a\n  b\n''", "''\n  a\n\n    b\n  ''", "''\n  a\n  b''", "''  \n  a\n''", "''a\n  b\n''",
		"''\n  ''' '\n''", "''\n  $'\n''", "''\n\t  a\n''",
	}
	got := nixEval(t, lits)
	for i, lit := range lits {
		var model string
		var err error
		if lit[0] == '"' {
			model, err = readNixString(lit)
		} else {
			model, err = readNixIndented(lit)
		}
		if err != nil || model != got[i] {
			t.Errorf("model reads %q as %q (%v), nix as %q", lit, model, err, got[i])
		}
	}
}

// TestNixAttrNameRealNix checks that every name selects its own attribute.
func TestNixAttrNameRealNix(t *testing.T) {
	names := []string{"bakc", "bakc-backup-system", "/mnt/nas backup", "in", "or", "1st", "a${b}", `q"uote`, "x'y", "_"}
	var exprs []string
	for _, n := range names {
		exprs = append(exprs, "builtins.head (builtins.attrNames { "+NixAttrName(n)+" = 1; })")
	}
	if diff := cmp.Diff(names, nixEval(t, exprs)); diff != "" {
		t.Errorf("attribute names (-want +got):\n%s", diff)
	}
}

func FuzzNixString(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckNixString(s) != nil {
			return
		}
		lit := NixString(s)
		if strings.ContainsAny(lit, "\n\r") {
			t.Fatalf("NixString(%q) = %s spans lines", s, lit)
		}
		got, err := readNixString(lit)
		if err != nil || got != s {
			t.Fatalf("NixString(%q) = %s reads back as %q (%v)", s, lit, got, err)
		}
	})
}

func FuzzNixIndentedString(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add("x" + s + "\n")
	}
	f.Add("{\n  \"a\": \"''${x}\"\n}\n")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckNixIndentedString(s) != nil {
			return
		}
		lit := NixIndentedString(s, "    ", "  ")
		got, err := readNixIndented(lit)
		if err != nil || got != s {
			t.Fatalf("NixIndentedString(%q) = %s reads back as %q (%v)", s, lit, got, err)
		}
	})
}

func FuzzNixAttrName(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckNixString(s) != nil {
			return
		}
		name := NixAttrName(s)
		if name == s {
			if !isNixIdentifier(s) {
				t.Fatalf("NixAttrName(%q) left a non-identifier bare", s)
			}
			return
		}
		got, err := readNixString(name)
		if err != nil || got != s {
			t.Fatalf("NixAttrName(%q) = %s reads back as %q (%v)", s, name, got, err)
		}
	})
}
