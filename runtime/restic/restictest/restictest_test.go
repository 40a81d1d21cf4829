package restictest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/holthome/bakc/internal/testenv"
)

func TestMain(m *testing.M) { Main(m) }

// A repository from InitRepo opens with Password and quickly, and
// refuses another password: the cheap key is a real restic key.
func TestInitRepo(t *testing.T) {
	for _, r := range testenv.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			InitRepo(t, r, repo)
			pw := PasswordFile(t)
			start := time.Now()
			out, err := exec.Command(r.Path, "--repo", repo, "--password-file", pw, "--no-cache", "cat", "config").CombinedOutput()
			if err != nil {
				t.Fatalf("cat config: %v\n%s", err, out)
			}
			t.Logf("restic cat config took %v", time.Since(start))

			wrong := filepath.Join(t.TempDir(), "wrong")
			if err := os.WriteFile(wrong, []byte("wrong\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(r.Path, "--repo", repo, "--password-file", wrong, "--no-cache", "cat", "config").CombinedOutput(); err == nil {
				t.Fatalf("cat config with a wrong password succeeded:\n%s", out)
			}
		})
	}
}
