package unitfile

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/internal/testenv"
)

// TestSysusersBesideSystemUsers runs the real systemd-sysusers with the
// sysusers.d lines of every backup user the compiler accepts, under a
// root whose /etc already has the users and groups a host has before
// bakc (root, nobody, a nix build user; root, wheel, users, nixbld,
// nogroup), and requires the backup user and group to exist afterwards
// with exactly the plan's ids: the NAS gives the repositories to those.
//
// For each user the compiler refuses, the lines of a plan it did not
// check are run too, and must not give the plan's user: sysusers keeps
// an existing group's gid and then does not create the user (exit 0), or
// leaves an existing user as it was, or gives the backup group another
// gid than the plan's.
func TestSysusersBesideSystemUsers(t *testing.T) {
	sysusers := testenv.LookPath(t, "systemd-sysusers")
	testenv.Root(t)
	run := func(t *testing.T, p *plan.Plan) (ok bool, why string) {
		files, err := Render(p, "/usr/bin/bakc")
		require.NoError(t, err)
		var lines []byte
		for _, f := range files {
			if f.Name == SysusersFile {
				lines = f.Data
			}
		}
		require.NotEmpty(t, lines)
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte(
			"root:x:0:0:System administrator:/root:/bin/sh\n"+
				"nobody:x:65534:65534:Unprivileged account:/var/empty:/sbin/nologin\n"+
				"nixbld1:x:30001:30000:Nix build user 1:/var/empty:/sbin/nologin\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(root, "etc", "group"), []byte(
			"root:x:0:\nwheel:x:1:\nusers:x:100:\nnixbld:x:30000:nixbld1\nnogroup:x:65534:\n"), 0o644))
		cmd := exec.Command(sysusers, "--root="+root, "-")
		cmd.Stdin = bytes.NewReader(lines)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "systemd-sysusers:\n%s", out)
		users := readDB(t, filepath.Join(root, "etc", "passwd"))
		groups := readDB(t, filepath.Join(root, "etc", "group"))
		u, g := users[p.User.Name], groups[p.User.Group]
		want := []string{strconv.Itoa(p.User.UID), strconv.Itoa(p.User.GID)}
		switch {
		case u == nil:
			return false, "no user " + p.User.Name + "; sysusers said: " + string(out)
		case u[1] != want[0] || u[2] != want[1]:
			return false, "user " + p.User.Name + " has uid:gid " + u[1] + ":" + u[2] + ", not " + want[0] + ":" + want[1]
		case g == nil || g[1] != want[1]:
			return false, "group " + p.User.Group + " is " + strings.Join(g, ":") + ", not gid " + want[1]
		}
		return true, ""
	}
	for _, c := range unitstest.SystemUserCases {
		t.Run(c.Name, func(t *testing.T) {
			p, diags := unitstest.CompileUser(t, c)
			if !diags.HasErrors() {
				ok, why := run(t, p)
				require.True(t, ok, "a user the compiler accepts is not created as planned: %s", why)
				return
			}
			for _, d := range diags {
				require.NotNil(t, d.Subject, "unlocated: %s: %s", d.Summary, d.Detail)
			}
			ok, why := run(t, unitstest.WithUser(t, c))
			require.False(t, ok, "the compiler refuses %+v, which systemd-sysusers creates as planned", c.User)
			t.Logf("unchecked, %+v: %s", c.User, why)
		})
	}
}

// readDB reads /etc/passwd or /etc/group into name → fields.
func readDB(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string][]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ":")
		out[fields[0]] = fields[1:]
	}
	require.NoError(t, s.Err())
	return out
}
