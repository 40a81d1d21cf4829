package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
)

// TestNASPlanOnZFS is the user's session on a real ZFS pool (zfs-fuse):
// `bakc nas-plan web --check` lists what is missing, the script from
// `bakc nas-plan web` runs with sh, and `--check` then finds nothing,
// as does the script's second run. /etc goes to a temporary root
// (BAKC_NAS_ROOT) and `true` stands in for exportfs: this machine has
// no NFS server.
func TestNASPlanOnZFS(t *testing.T) {
	mountRoot := filepath.Join(t.TempDir(), "nas")
	pool := testenv.ZFSPool(t, 128<<20)
	root := t.TempDir()
	fleet := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(fleet, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(fleet, name), []byte(content), 0o644))
	}
	write("bakc.hcl", `
nas "nas-t" {
  address    = "nas-t.example.net"
  parent     = "`+pool+`/backup"
  mount_root = "`+mountRoot+`"

  dataset "restic" {
    quota       = "64M"
    compression = "on"
    recordsize  = "128K"
    atime       = "off"
    export      = "nfs"
  }
}
`)
	write("hosts/web.hcl", `
node "web" {
  address = "web.example.net"
  nas     = "nas-t"

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas"
    }
    password_file = "/run/secrets/restic-password"
  }

  job "www" {
    paths    = ["/srv/www"]
    schedule = "daily"
  }
}
`)
	t.Setenv("BAKC_NAS_ROOT", root)
	bakc := func(want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		got := Main(append(args, "--fleet", fleet), nil, &stdout, &stderr)
		require.Equal(t, want, got, "bakc %v:\n%s%s", args, stdout.String(), stderr.String())
		return strings.NewReplacer(pool, "$POOL", mountRoot, "$MNT").Replace(stdout.String())
	}
	want := `nas-t differs from the configuration of web in 4 places:
  dataset $POOL/backup: is missing, the configuration says a dataset
  dataset $POOL/backup/web: is missing, the configuration says a dataset
  dataset $POOL/backup/web/restic: is missing, the configuration says a dataset
  /etc/exports.d/bakc-web.exports: is missing, the configuration says a file
`
	if diff := cmp.Diff(want, bakc(exitDiffers, "nas-plan", "web", "--check")); diff != "" {
		t.Errorf("--check before (-want +got):\n%s", diff)
	}

	script := filepath.Join(t.TempDir(), "web-nas.sh")
	bakc(0, "nas-plan", "web", "-o", script)
	run := func() string {
		cmd := exec.Command(testenv.LookPath(t, "sh"), script)
		cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "BAKC_EXPORTFS=true")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	if out := run(); !strings.Contains(out, "changed: created dataset "+pool+"/backup/web/restic\n") {
		t.Errorf("first run did not create the dataset:\n%s", out)
	}
	if diff := cmp.Diff("nas-t is as configured for web: the script would change nothing (zfs allow rights are not checked).\n", bakc(0, "nas-plan", "web", "--check")); diff != "" {
		t.Errorf("--check after (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("bakc nas-plan: nothing changed: nas-t is as configured for web\n", run()); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}
	exports, err := os.ReadFile(filepath.Join(root, "etc/exports.d/bakc-web.exports"))
	require.NoError(t, err)
	if !strings.HasSuffix(string(exports), "\n"+mountRoot+"/web/restic web.example.net(rw,sync,no_subtree_check,root_squash)\n") {
		t.Errorf("exports file:\n%s", exports)
	}
}
