package nas

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

// TestReplicationKeyFromAddresses proves from="…" with the address forms
// a node's address may take, against a real sshd: an IPv6 address (on
// ::1, when this machine has IPv6 loopback) in its short and long forms
// lets the key in from that address and keeps it out from another; and
// an IPv4-mapped IPv6 address never lets it in, since sshd sees an IPv4
// peer as IPv4 (which is why the compiler refuses such an address).
//
// A key that sshd accepts reaches the forced command, which refuses
// "true" with its own message (exit 1); a key that sshd refuses ends in
// exit 255 before any command.
func TestReplicationKeyFromAddresses(t *testing.T) {
	testenv.Root(t)
	ssh := testenv.LookPath(t, "ssh")
	dir := t.TempDir()

	type key struct {
		name, from string
		in         bool // whether sshd lets it in
	}
	try := func(t *testing.T, host string, keys []key) {
		var lines strings.Builder
		for _, k := range keys {
			pub := testenv.SSHKey(t, dir, host+"-"+k.name, "root@forge")
			line, err := authorizedKey(&plan.Receive{User: "bakc-recv-forge", PublicKey: pub, From: k.from, Permissions: []string{"receive"}})
			require.NoError(t, err)
			lines.WriteString(line)
		}
		srv := testenv.StartSSHDOn(t, host, lines.String(), "PermitRootLogin forced-commands-only", "UseDNS no", "LogLevel VERBOSE")
		for _, k := range keys {
			cmd := exec.Command(ssh, "-T", "-i", filepath.Join(dir, host+"-"+k.name), "-p", srv.Port,
				"-o", "BatchMode=yes", "-o", "UserKnownHostsFile="+srv.KnownHosts, "-o", "StrictHostKeyChecking=yes",
				"-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "root@"+host, "true")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("ssh: %v", err)
			}
			in := code == 1 && strings.Contains(string(out), "bakc: this key may only run zfs receive")
			if in != k.in || (!in && code != 255) {
				t.Errorf("from=%q, connecting from %s: exit %d, %q; want let in: %v", k.from, host, code, out, k.in)
			}
		}
	}

	t.Run("IPv4", func(t *testing.T) {
		try(t, "127.0.0.1", []key{
			{"same", "127.0.0.1", true},
			{"mapped", "::ffff:127.0.0.1", false},
		})
	})
	t.Run("IPv6", func(t *testing.T) {
		testenv.IPv6Loopback(t)
		try(t, "::1", []key{
			{"short", "::1", true},
			{"long", "0:0:0:0:0:0:0:1", true},
			{"other", "fd00::99", false},
		})
	})
}
