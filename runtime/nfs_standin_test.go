package runtime_test

import (
	"errors"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// standInTag is the build tag of the bakc that the booted-systemd tier
// runs in its container (internal/booted), which has no NFS client.
const standInTag = "bakc_nfs_standin"

// TestNFSStandInTagChangesOnlyTheMountCheck proves what the stand-in
// build tag does, so that the booted tier's bakc is the real one but for
// one line: across the whole module, the tag adds exactly one file, and
// that file only lets the NFS mount check accept tmpfs (whose source the
// test sets to the plan's exact export).
func TestNFSStandInTagChangesOnlyTheMountCheck(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))

	plain := build.Default
	plain.CgoEnabled = true
	tagged := plain
	tagged.BuildTags = []string{standInTag}

	var added []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		without := goFiles(t, plain, path)
		for f := range goFiles(t, tagged, path) {
			if !without[f] {
				rel, _ := filepath.Rel(root, filepath.Join(path, f))
				added = append(added, rel)
			}
		}
		if len(without) > len(goFiles(t, tagged, path)) {
			t.Errorf("%s: the tag removes files", path)
		}
		return nil
	})
	require.NoError(t, err)
	if diff := cmp.Diff([]string{"runtime/mountpoint_nfs_standin.go"}, added); diff != "" {
		t.Fatalf("files the %s tag adds (-want +got):\n%s", standInTag, diff)
	}

	// The file: no imports, one declaration, func init() { nfsFSTypes["tmpfs"] = true }.
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, added[0]), nil, 0)
	require.NoError(t, err)
	require.Empty(t, file.Imports, "the stand-in file imports nothing")
	require.Len(t, file.Decls, 1, "the stand-in file declares one thing")
	fn, ok := file.Decls[0].(*ast.FuncDecl)
	require.True(t, ok && fn.Name.Name == "init" && fn.Recv == nil, "the stand-in file's declaration is func init()")
	require.Len(t, fn.Body.List, 1, "init has one statement")
	assign, ok := fn.Body.List[0].(*ast.AssignStmt)
	require.True(t, ok && len(assign.Lhs) == 1 && len(assign.Rhs) == 1 && assign.Tok == token.ASSIGN, "init assigns one value")
	index, ok := assign.Lhs[0].(*ast.IndexExpr)
	require.True(t, ok, "init sets a map entry")
	m, _ := index.X.(*ast.Ident)
	key, _ := index.Index.(*ast.BasicLit)
	val, _ := assign.Rhs[0].(*ast.Ident)
	require.True(t, m != nil && m.Name == "nfsFSTypes", "the map is nfsFSTypes")
	require.True(t, key != nil && key.Value == `"tmpfs"`, "the key is \"tmpfs\"")
	require.True(t, val != nil && val.Name == "true", "the value is true")
}

// goFiles are the non-test Go files the context builds in dir.
func goFiles(t *testing.T, ctx build.Context, dir string) map[string]bool {
	t.Helper()
	pkg, err := ctx.ImportDir(dir, 0)
	var noGo *build.NoGoError
	if err != nil && !errors.As(err, &noGo) {
		t.Fatalf("%s: %v", dir, err)
	}
	out := map[string]bool{}
	if pkg != nil {
		for _, f := range append(append([]string{}, pkg.GoFiles...), pkg.CgoFiles...) {
			out[f] = true
		}
	}
	return out
}
