package emitfuzz

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

func TestMain(m *testing.M) { restictest.Main(m) }

// resticExcludes is the restic column of the hostile-string matrix: the
// exclude file written as the runtime writes it (one
// escape.ResticExcludeLine per pattern), read by the real restic 0.14
// and 0.18.1 during a backup of a tree that holds a file named by the
// pattern's literal text (when that can be a file name) and a control
// file. It returns, per version, "excluded" when restic left out exactly
// the named file and kept the control file, or what it stored.
func resticExcludes(t *testing.T, pattern, literal string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range restictest.Restics(t) {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		require.NoError(t, os.Mkdir(src, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, "control"), []byte("x"), 0o644))
		named := literal != "" && len(literal) <= 255 && !strings.ContainsAny(literal, "/\x00")
		if named {
			require.NoError(t, os.WriteFile(filepath.Join(src, literal), []byte("x"), 0o644))
		}
		excludes := filepath.Join(dir, "excludes")
		require.NoError(t, os.WriteFile(excludes, []byte(escape.ResticExcludeLine(pattern)+"\n"), 0o644))
		repo := filepath.Join(dir, "repo")
		restictest.InitRepo(t, r, repo)
		env := append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD_FILE="+restictest.PasswordFile(t), "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
		backup := exec.Command(r.Path, "backup", "--exclude-file", excludes, "--host", "h", src)
		backup.Env = env
		if o, err := backup.CombinedOutput(); err != nil {
			out[r.Version] = "backup failed: " + string(o)
			continue
		}
		ls := exec.Command(r.Path, "ls", "--json", "latest")
		ls.Env = env
		o, err := ls.Output()
		require.NoError(t, err)
		var stored []string
		for _, line := range strings.Split(string(o), "\n") {
			var n struct {
				Path string `json:"path"`
			}
			if json.Unmarshal([]byte(line), &n) == nil && strings.HasPrefix(n.Path, src+"/") {
				stored = append(stored, strings.TrimPrefix(n.Path, src+"/"))
			}
		}
		if len(stored) == 1 && stored[0] == "control" {
			out[r.Version] = "excluded"
		} else {
			out[r.Version] = "stored " + strings.Join(stored, ", ")
		}
	}
	return out
}
