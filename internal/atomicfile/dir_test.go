package atomicfile

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// tooLong is a file name no Linux file system takes (NAME_MAX 255): the
// write of the second file fails after the first was written.
var tooLong = strings.Repeat("x", 256) + ".mount"

func TestWriteDirNewFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "units")
	require.NoError(t, WriteDir(dir, []File{{"a.service", []byte("a\n")}, {"b.timer", []byte("b\n")}}, 0o644))
	if diff := cmp.Diff([]string{"a.service", "b.timer"}, list(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"units"}, list(t, filepath.Dir(dir))); diff != "" {
		t.Errorf("beside the folder (-want +got):\n%s", diff)
	}
}

// TestWriteDirAllOrNothing: a file that cannot be written leaves no
// other file behind, neither in a new folder nor in an existing one
// (issue 9, item 6: units were written, then a mount unit's long name
// failed).
func TestWriteDirAllOrNothing(t *testing.T) {
	files := []File{{"a.service", []byte("new\n")}, {tooLong, []byte("x\n")}}

	parent := t.TempDir()
	err := WriteDir(filepath.Join(parent, "units"), files, 0o644)
	require.Error(t, err)
	require.Contains(t, err.Error(), "nothing was written")
	require.Empty(t, list(t, parent), "a failed write into a new folder leaves nothing")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.service"), []byte("old\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.service"), []byte("not bakc's\n"), 0o644))
	err = WriteDir(dir, files, 0o644)
	require.Error(t, err)
	require.Contains(t, err.Error(), "nothing was written")
	if diff := cmp.Diff([]string{"a.service", "other.service"}, list(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	got, err := os.ReadFile(filepath.Join(dir, "a.service"))
	require.NoError(t, err)
	require.Equal(t, "old\n", string(got))
}

// TestWriteDirExisting: into a folder that holds others' files, bakc's
// are replaced and the others kept; a target that is a folder stops
// the write before anything changes.
func TestWriteDirExisting(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.service"), []byte("old\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sshd.service"), []byte("not bakc's\n"), 0o644))
	require.NoError(t, WriteDir(dir, []File{{"a.service", []byte("new\n")}, {"b.timer", []byte("b\n")}}, 0o644))
	if diff := cmp.Diff([]string{"a.service", "b.timer", "sshd.service"}, list(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	st, err := os.Stat(filepath.Join(dir, "a.service"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())

	require.NoError(t, os.Mkdir(filepath.Join(dir, "c.service"), 0o755))
	err = WriteDir(dir, []File{{"a.service", []byte("newer\n")}, {"c.service", []byte("c\n")}}, 0o644)
	require.ErrorContains(t, err, "not a regular file")
	got, err := os.ReadFile(filepath.Join(dir, "a.service"))
	require.NoError(t, err)
	require.Equal(t, "new\n", string(got))
	if diff := cmp.Diff([]string{"a.service", "b.timer", "c.service", "sshd.service"}, list(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
