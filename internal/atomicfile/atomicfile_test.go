package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.nix")
	require.NoError(t, Write(path, []byte("old\n"), 0o644))
	require.NoError(t, Write(path, []byte("new\n"), 0o600))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if string(got) != "new\n" {
		t.Fatalf("content %q, want %q", got, "new\n")
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.nix")
	require.NoError(t, Write(path, []byte("old\n"), 0o644))
	// A folder where the file should be makes the rename fail after the
	// temporary file was written.
	target := filepath.Join(dir, "sub")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "x"), 0o755))
	if err := Write(target, []byte("new\n"), 0o644); err == nil {
		t.Fatal("writing over a non-empty folder succeeded")
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	if string(got) != "old\n" {
		t.Fatalf("old file changed to %q", got)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	if len(entries) != 2 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
