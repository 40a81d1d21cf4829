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
// exactly the intended argv, whatever the repository's settings hold.
// Run by sh with stand-ins that print their arguments — restic, and
// systemd-run, which here only names the environment file it was given
// and runs the rest — it gives them back word for word. The environment
// file goes to systemd-run glob-escaped, as systemd reads
// EnvironmentFile= (escape.Glob); the shell never reads it.
func TestUnlockCommand(t *testing.T) {
	bin := t.TempDir()
	stand := filepath.Join(bin, "restic it's")
	script := "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"
	require.NoError(t, os.WriteFile(stand, []byte(script), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "restic-standin"), []byte(script), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "systemd-run"), []byte(`#!/bin/sh
for a; do
	case $a in
	--property=EnvironmentFile=*) echo "ENVFILE=${a#--property=EnvironmentFile=}" ;;
	--*) ;;
	*) break ;;
	esac
	shift
done
exec "$@"
`), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	env := "/run/secrets/b2 [1] $creds"
	tests := []struct {
		name   string
		user   plan.User
		binary string
		repo   plan.Repository
		opts   []string
		want   []string
	}{
		{
			name: "root: restic alone",
			user: plan.User{UID: 0}, binary: stand,
			repo: plan.Repository{URL: "/srv/restic", PasswordFile: "/run/pw"},
			want: []string{"--repo", "/srv/restic", "--password-file", "/run/pw", "--no-cache", "unlock"},
		},
		{
			name: "environment file, options and odd characters",
			user: plan.User{UID: 0}, binary: stand,
			repo: plan.Repository{URL: "b2:bucket:/a b'$x", PasswordFile: "/run/pw `x`", EnvironmentFile: env},
			opts: []string{"sftp.command=ssh -p 2222 \"h\""},
			want: []string{`ENVFILE=/run/secrets/b2 \[1] $creds`, "--repo", "b2:bucket:/a b'$x", "--password-file", "/run/pw `x`", "--no-cache", "-o", "sftp.command=ssh -p 2222 \"h\"", "unlock"},
		},
		{
			name: "environment file and restic from PATH",
			user: plan.User{UID: 0}, binary: "restic-standin",
			repo: plan.Repository{URL: "b2:bucket:/a", PasswordFile: "/run/pw", EnvironmentFile: env},
			want: []string{`ENVFILE=/run/secrets/b2 \[1] $creds`, "--repo", "b2:bucket:/a", "--password-file", "/run/pw", "--no-cache", "unlock"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &restic.Restic{Binary: tt.binary, Options: tt.opts}
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
