package booted_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
)

// The node's side of replication on a plain host (forge replicates
// rpool/safe/home and rpool/safe/persist to nas-1): bakc-sanoid.service
// and its sanoid.conf as `bakc units` writes them, run by systemd with
// Debian's sanoid; the send user made by systemd-sysusers from
// bakc-sysusers.conf; its authorized_keys as written, used by the
// machine's own sshd.
//
// Stand-ins: the example's NAS key is one nobody holds the private half
// of, so the installed line's key (only the key: its options, from= and
// the guard's command, stay as written) is replaced by one the test
// made; the NAS's address (from=) is added to the machine's loopback, so
// that ssh can log in from it. bakc-replication-allow.service is not
// run: zfs-fuse has no zfs allow. And zfs-fuse answers only root, so a
// request the guard lets through reaches zfs, which refuses the send
// user here (on kernel ZFS, the zfs allow above lets it read and send).
const nasKeyInMachine = "/root/.ssh/bakc-test-nas-key"

// replicationStandIn is the host side: the test's NAS key in the send
// user's installed authorized_keys line.
func replicationStandIn(t *testing.T, m *booted.Machine, p *plan.Plan) {
	require.NotNil(t, p.Replication, "examples/homelab/hosts/forge.hcl replicates")
	f, ok := m.File(unitfile.SendKeysPath())
	require.True(t, ok, "bakc units wrote %s and booted.Install put it at %s", unitfile.SendKeysFile, unitfile.SendKeysPath())
	dir := t.TempDir()
	pub := testenv.SSHKey(t, dir, "nas", "bakc@nas-1")
	text := string(f.Data)
	require.Contains(t, text, p.Replication.PublicKey, "the installed line holds the NAS's key")
	m.WriteFile(unitfile.SendKeysPath(), []byte(strings.Replace(text, p.Replication.PublicKey, pub, 1)), 0o644)
	priv, err := os.ReadFile(filepath.Join(dir, "nas"))
	require.NoError(t, err)
	m.WriteFile(nasKeyInMachine, priv, 0o600)
}

// autosnapRE is a snapshot sanoid takes: autosnap_<date>_<time>_<kind>.
var autosnapRE = regexp.MustCompile(`^(.+)@autosnap_\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d_(hourly|daily|weekly|monthly|yearly|frequently)$`)

// insideReplication: sanoid takes the node's snapshots by its policy,
// and the NAS's key logs in as the send user from the NAS's address
// only, into bakc's guard only.
func insideReplication(t *testing.T, p *plan.Plan) {
	r := p.Replication
	t.Run("replication-sanoid", func(t *testing.T) {
		run(t, "bakc-sanoid.service", "success", 0)
		out, err := exec.Command("zfs", "list", "-H", "-t", "snapshot", "-o", "name").CombinedOutput()
		require.NoError(t, err, "%s", out)
		kinds := map[string][]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if m := autosnapRE.FindStringSubmatch(l); m != nil {
				kinds[m[1]] = append(kinds[m[1]], m[2])
			}
		}
		for _, ds := range r.Datasets {
			// The policy has hourly, daily, weekly and monthly counts:
			// a first run takes one of each.
			var want []string
			for _, k := range r.Snapshots.Kinds() {
				if k.Count > 0 {
					want = append(want, k.Name)
				}
			}
			assert.ElementsMatch(t, want, kinds[ds], "sanoid's first snapshots of %s:\n%s\n%s", ds, out, booted.Journal("bakc-sanoid.service"))
		}
	})
	t.Run("replication-send-user", func(t *testing.T) {
		from := r.From[0]
		out, err := exec.Command("ip", "addr", "add", from+"/32", "dev", "lo").CombinedOutput()
		require.NoError(t, err, "%s", out)
		booted.Systemctl(t, "restart", "ssh.service")
		ssh := func(bind, command string) (string, error) {
			out, err := exec.Command("ssh", "-F", "none", "-i", nasKeyInMachine, "-b", bind,
				"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
				r.User+"@127.0.0.1", command).CombinedOutput()
			return string(out), err
		}
		// A request the guard refuses: refused by bakc, nothing run.
		out2, err := ssh(from, "zfs destroy "+r.Datasets[0]+"@x")
		require.Error(t, err)
		assert.Contains(t, out2, "bakc send-guard: refused", "%s\n%s", out2, booted.Journal("ssh.service"))
		// One it lets through: zfs runs, as the send user (zfs-fuse
		// answers only root; see above).
		out2, err = ssh(from, "zfs get -H syncoid:sync "+r.Datasets[0])
		assert.NotContains(t, out2, "refused", "%v", err)
		assert.Contains(t, out2, "failed to initialize ZFS library", "zfs-fuse refuses the send user, so zfs did run: %v\n%s", err, out2)
		// From another address, the key is not accepted at all.
		out2, err = ssh("127.0.0.1", "zfs get -H syncoid:sync "+r.Datasets[0])
		require.Error(t, err)
		assert.Contains(t, out2, "Permission denied (publickey", "from= refuses 127.0.0.1")
	})
}
