package runbook

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// TestSopsInstall runs the runbook's commands for a sops secret, as
// root with the real sops, in a fleet folder: the file holds the key's
// value, belongs to the backup user (uid 2049, made by test-setup.sh)
// and has mode 0400, as sops-nix would leave it.
func TestSopsInstall(t *testing.T) {
	testenv.Root(t)
	sops := testenv.Sops(t)
	fleet := t.TempDir()
	keys, recipient := testenv.AgeKey(t, t.TempDir(), "age.txt")
	require.NoError(t, os.MkdirAll(filepath.Join(fleet, "secrets"), 0o755))
	testenv.SopsEncrypt(t, filepath.Join(fleet, "secrets", "n.yaml"), recipient, "restic:\n  password: \"it's $x\"\n")

	// The commands call sops by name.
	bin := t.TempDir()
	require.NoError(t, os.Symlink(sops, filepath.Join(bin, "sops")))
	target := filepath.Join(t.TempDir(), "run", "bakc", "nas", "password")
	p := &plan.Plan{User: plan.User{Name: "bakc", Group: "bakc", UID: 2049, GID: 2049}}
	script := sopsInstall(p, target, &plan.Sops{File: "secrets/n.yaml", Key: "restic/password", Format: plan.SopsYAML})
	cmd := exec.Command("sh", "-e", "-c", script)
	cmd.Dir = fleet
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "SOPS_AGE_KEY_FILE="+keys)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, out)

	data, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "it's $x", string(data))
	fi, err := os.Stat(target)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o400), fi.Mode().Perm())
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(2049), st.Uid)
	require.Equal(t, uint32(2049), st.Gid)
	require.False(t, strings.Contains(string(out), "it's"), "the commands print the secret: %s", out)
}
