package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime/restic"
)

// The unlock command a lock failure advises is one shell line that runs
// exactly the intended argv, whatever the repository's settings hold:
// run by sh with a stand-in that prints its arguments (and the
// environment file's variable), it gives them back word for word.
func TestUnlockCommand(t *testing.T) {
	dir := t.TempDir()
	stand := filepath.Join(dir, "restic it's")
	require.NoError(t, os.WriteFile(stand, []byte("#!/bin/sh\necho \"CRED=$B2_ACCOUNT_KEY\"\nfor a in \"$@\"; do echo \"$a\"; done\n"), 0o755))
	env := filepath.Join(dir, "b2 $creds")
	require.NoError(t, os.WriteFile(env, []byte("B2_ACCOUNT_KEY='k ey'\n"), 0o600))
	tests := []struct {
		name string
		user plan.User
		repo plan.Repository
		opts []string
		want []string
	}{
		{
			name: "root: restic alone",
			user: plan.User{UID: 0},
			repo: plan.Repository{URL: "/srv/restic", PasswordFile: "/run/pw"},
			want: []string{"CRED=", "--repo", "/srv/restic", "--password-file", "/run/pw", "--no-cache", "unlock"},
		},
		{
			name: "environment file, options and odd characters",
			user: plan.User{UID: 0},
			repo: plan.Repository{URL: "b2:bucket:/a b'$x", PasswordFile: "/run/pw `x`", EnvironmentFile: env},
			opts: []string{"sftp.command=ssh -p 2222 \"h\""},
			want: []string{"CRED=k ey", "--repo", "b2:bucket:/a b'$x", "--password-file", "/run/pw `x`", "--no-cache", "-o", "sftp.command=ssh -p 2222 \"h\"", "unlock"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &restic.Restic{Binary: stand, Options: tt.opts}
			line := unlockCommand(tt.user, &tt.repo, rs)
			out, err := exec.Command("sh", "-c", line).CombinedOutput()
			require.NoError(t, err, "%s\n%s", line, out)
			got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s\nargv (-want +got):\n%s", line, diff)
			}
		})
	}
	// The backup user: restic runs through setpriv as that user.
	line := unlockCommand(plan.User{UID: 2049, GID: 2050}, &plan.Repository{URL: "/r", PasswordFile: "/pw"}, &restic.Restic{Binary: "restic"})
	want := "setpriv '--reuid=2049' '--regid=2050' --clear-groups '--inh-caps=+dac_read_search' '--ambient-caps=+dac_read_search' restic --repo /r --password-file /pw --no-cache unlock"
	if line != want {
		t.Errorf("unlock command\n%s\nwant\n%s", line, want)
	}
}
