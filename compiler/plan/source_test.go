package plan_test

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// TestSourceReadByMountNFS gives NFSMount.Source to nfs-utils' own
// mount.nfs in fake mode (-f: it parses the source and the options and
// resolves the server as for a real mount, then mounts nothing; no NFS
// server runs here) and requires that it reaches the plan's server:
// "trying text-based options '…,addr=<server>,…'". An IPv6 server must
// be in brackets, or mount.nfs splits the source at its first colon; the
// last case shows that it does, so that this test can tell.
func TestSourceReadByMountNFS(t *testing.T) {
	mountNFS := testenv.MountNFS(t)
	mnt := t.TempDir()
	run := func(source string) (string, error) {
		out, err := exec.Command(mountNFS, source, mnt, "-f", "-v", "-n", "-o", "nfsvers=4.2").CombinedOutput()
		return string(out), err
	}
	for _, tt := range []struct {
		name, server, addr string
	}{
		{"IPv4", "192.0.2.10", "192.0.2.10"},
		{"IPv6", "fd00::1", "fd00::1"},
		{"IPv6 in capitals and long form", "FD00:0:0::A", "fd00::a"},
		{"IPv6 loopback", "::1", "::1"},
		{"host name", "localhost", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := plan.NFSMount{Server: tt.server, Export: "/mnt/backup/forge/restic"}
			out, err := run(m.Source())
			require.NoError(t, err, "mount.nfs -f %s:\n%s", m.Source(), out)
			addr := optionValue(t, out, "addr")
			if tt.addr != "" && addr != tt.addr {
				t.Errorf("mount.nfs reached %s for %s; want %s", addr, m.Source(), tt.addr)
			}
			if _, err := netip.ParseAddr(addr); err != nil {
				t.Errorf("mount.nfs resolved %s to %q, not an address", m.Source(), addr)
			}
		})
	}
	t.Run("unbracketed IPv6 is split at its first colon", func(t *testing.T) {
		out, err := run("fd00::1:/mnt/backup/forge/restic")
		require.Error(t, err)
		require.Contains(t, out, "Failed to resolve server fd00:")
	})
}

// optionValue finds key=value in mount.nfs's "trying text-based options
// '…'" line.
func optionValue(t *testing.T, out, key string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		_, opts, ok := strings.Cut(line, "trying text-based options '")
		if !ok {
			continue
		}
		for _, o := range strings.Split(strings.TrimSuffix(opts, "'"), ",") {
			if v, ok := strings.CutPrefix(o, key+"="); ok {
				return v
			}
		}
	}
	t.Fatalf("no %s= in mount.nfs's output:\n%s", key, out)
	return ""
}
