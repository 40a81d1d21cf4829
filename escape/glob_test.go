package escape

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGlobMatchesItself matches Glob's pattern with Go's filepath.Glob,
// which reads patterns as glob(3) does for these characters, against
// files whose names hold every glob character, and decoys each pattern
// would match unescaped. (TestRestoreCommandsRestore in emit/runbook has
// systemd itself read such a path.)
func TestGlobMatchesItself(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b2 [1]", "b2 1", "e*v", "env", "e?v", "a\\b", "ab", "plain"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	for _, name := range []string{"b2 [1]", "e*v", "e?v", "a\\b", "plain"} {
		want := filepath.Join(dir, name)
		got, err := filepath.Glob(Glob(want))
		require.NoError(t, err)
		if len(got) != 1 || got[0] != want {
			t.Errorf("Glob(%q) = %q matches %q", want, Glob(want), got)
		}
	}
	if strings.Contains(Glob("/a b/c"), `\ `) {
		t.Error("a space is escaped; glob(3) needs no escape for it")
	}
}

func FuzzGlob(f *testing.F) {
	for _, s := range []string{"/run/secrets/b2 env", "/x/[a]*?\\", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Unescaping gives the path back: each backslash escapes the next byte.
		g := Glob(s)
		var b strings.Builder
		for i := 0; i < len(g); i++ {
			if g[i] == '\\' {
				i++
			}
			if i < len(g) {
				b.WriteByte(g[i])
			}
		}
		if b.String() != s {
			t.Fatalf("Glob(%q) = %q reads back as %q", s, g, b.String())
		}
	})
}
