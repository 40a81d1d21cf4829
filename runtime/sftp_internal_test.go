package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// TestCheckSSHBeforeConnecting: what the sftp preflight finds without
// connecting, each with the category and the words that say what to do.
// (The connection itself is tested against a real sshd in
// TestBackupOverSFTP.)
func TestCheckSSHBeforeConnecting(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(key, []byte("not really a key\n"), 0o600))
	kh := filepath.Join(dir, "known_hosts")
	line := "nas ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOq8B0VF0d9ZVPFtGJed4g7hoAs6BjzRCeE/yjuYM3Se"
	require.NoError(t, os.WriteFile(kh, []byte("# comment\n"+line+"\n"), 0o644))
	repo := func() *plan.Repository {
		return &plan.Repository{Name: "far", Kind: plan.KindSFTP, URL: "sftp:restic@nas:/srv",
			SSH: &plan.SSH{User: "restic", Host: "nas", IdentityFile: key, KnownHostsFile: kh, KnownHosts: []string{line}}}
	}
	me := &syscall.Credential{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	tests := []struct {
		name     string
		mutate   func(t *testing.T, r *plan.Repository)
		path     string
		category restic.Category
		words    string
	}{
		{"no ssh on PATH", nil, dir, restic.CategoryUnknown, "ssh is not on the PATH"},
		{"missing key", func(t *testing.T, r *plan.Repository) { r.SSH.IdentityFile = filepath.Join(dir, "nope") }, "", restic.CategoryAuth, "ssh identity file"},
		{"key others may read", func(t *testing.T, r *plan.Repository) {
			require.NoError(t, os.Chmod(key, 0o644))
			t.Cleanup(func() { os.Chmod(key, 0o600) })
		}, "", restic.CategoryAuth, "chmod 600"},
		{"known_hosts not installed", func(t *testing.T, r *plan.Repository) { r.SSH.KnownHostsFile = filepath.Join(dir, "missing") }, "", restic.CategoryAuth, "known_hosts file"},
		{"known_hosts stale", func(t *testing.T, r *plan.Repository) { r.SSH.KnownHosts = []string{line + "x"} }, "", restic.CategoryAuth, "lacks the host key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			r := repo()
			if tt.mutate != nil {
				tt.mutate(t, r)
			}
			cat, err := checkSSH(t.Context(), r, &Options{}, me)
			require.Error(t, err)
			require.Equal(t, tt.category, cat, "%v", err)
			require.Contains(t, err.Error(), tt.words)
		})
	}
	// Options of one's own that set the ssh command take over: no check.
	cat, err := checkSSH(t.Context(), repo(), &Options{ResticOptions: []string{"sftp.command=ssh -p 2 x -s sftp"}}, me)
	require.NoError(t, err)
	require.Empty(t, cat)
	require.False(t, strings.Contains(strings.Join(resticOptions(repo(), &Options{ResticOptions: []string{"sftp.args=-v"}}), " "), "sftp.command"))
	require.Contains(t, strings.Join(resticOptions(repo(), &Options{}), " "), "sftp.command=ssh -F none -i "+key)
}
