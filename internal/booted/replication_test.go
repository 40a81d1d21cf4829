package booted_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/nas"
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
// user's installed authorized_keys line; and the NAS's side on the same
// machine (installNASUnits).
func replicationStandIn(t *testing.T, m *booted.Machine, p *plan.Plan) {
	installNASUnits(t, m)
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

// The NAS's side on a plain host, on the same machine: what `bakc
// nas-plan --nas nas-1 --format units -o DIR` writes, installed as its
// help says (the timers not enabled: the test starts the pull), and a
// pool standing in for the NAS's, with its receive dataset.
//
// Stand-ins, inside: the node's host key in the installed known_hosts is
// the machine's (the example's is one nobody holds), the NAS's key file
// is the test's NAS key, and forge's address resolves to the NAS's
// from= address on the loopback (/etc/hosts). And zfs-fuse answers only
// root, so the guard's zfs, run as the send user, is refused: the pull
// fails on the node's side, after syncoid logged in through sshd into the
// guard (see replicationStandIn's comment). What is checked is what
// systemd makes of the units and what `bakc run replicate` reports.
const (
	nasPullUnit = "bakc-replicate-forge-rpool-safe-home.service"
	nasCopy     = "backup/forge/zfs-recv/home"
)

func installNASUnits(t *testing.T, m *booted.Machine) {
	dir := t.TempDir()
	cmd := exec.Command(booted.Bakc(t), "nas-plan", "--nas", "nas-1", "--format", "units", "-o", dir)
	cmd.Dir = filepath.Join(booted.ModuleRoot(t), "examples", "homelab")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "bakc nas-plan --format units: %s", out)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		switch name := e.Name(); {
		case strings.HasSuffix(name, ".service"), strings.HasSuffix(name, ".timer"):
			m.WriteFile("/etc/systemd/system/"+name, data, 0o644)
		case name == nas.NASSanoidConfFile:
			m.WriteFile(nas.NASSanoidConfigDir+"/sanoid.conf", data, 0o644)
		case name == nas.NASKnownHostsFile:
			m.WriteFile(nas.KnownHostsPath, data, 0o644)
		case name == nas.NASTmpfilesFile:
			m.WriteFile("/etc/tmpfiles.d/bakc-nas.conf", data, 0o644)
		default:
			t.Fatalf("bakc nas-plan --format units wrote %s, which the booted tier does not know how to install", name)
		}
	}
	m.AddPool(booted.Pool{Name: "backup", Datasets: []booted.Dataset{{Name: "backup/forge/zfs-recv", Mountpoint: "/mnt/backup/forge/zfs-recv"}}})
}

// insideNASPull: systemd runs the plain NAS's pull unit; bakc run
// replicate runs Debian's syncoid, which logs in to forge's sshd with
// the NAS's key from the NAS's address into bakc's guard; the pull fails
// there (zfs-fuse, above), and bakc reports it: exit code 3, an error
// line of task replicate with syncoid's reason, metrics with no success.
func insideNASPull(t *testing.T, p *plan.Plan) {
	t.Run("replication-nas-pull", func(t *testing.T) {
		r := p.Replication
		hostKey, err := os.ReadFile("/etc/ssh/ssh_host_ed25519_key.pub")
		require.NoError(t, err)
		fields := strings.Fields(string(hostKey))
		require.NoError(t, os.WriteFile(nas.KnownHostsPath, []byte("forge "+fields[0]+" "+fields[1]+"\n"), 0o644))
		key, err := os.ReadFile(nasKeyInMachine)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll("/run/secrets", 0o755))
		require.NoError(t, os.WriteFile("/run/secrets/bakc-replication-key", key, 0o400))
		hosts, err := os.OpenFile("/etc/hosts", os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = hosts.WriteString(r.From[0] + " forge.holthome.net\n")
		require.NoError(t, err)
		require.NoError(t, hosts.Close())

		run(t, nasPullUnit, "exit-code", 3)
		journal := booted.Journal(nasPullUnit)
		assert.Contains(t, journal, "failed to initialize ZFS library", "the guard ran zfs for the NAS: syncoid logged in and got past the guard")
		assert.NotContains(t, journal, "send-guard: refused", "syncoid asked only what the guard allows")

		data, err := os.ReadFile("/var/log/bakc/errors.jsonl")
		require.NoError(t, err)
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m))
			if m["task"] == "replicate" {
				line = m
			}
		}
		require.NotNil(t, line, "no replicate line in the error log:\n%s", data)
		assert.Equal(t, "forge", line["node"])
		assert.Equal(t, r.Datasets[0], line["dataset"])
		assert.Equal(t, nasCopy, line["target"])
		assert.Equal(t, "replicate", line["phase"])
		assert.NotNil(t, line["syncoid_exit_code"])
		t.Logf("the pull's error line: %v", line)

		prom, err := os.ReadFile("/var/lib/node_exporter/textfile_collector/bakc-replicate-" + strings.ReplaceAll(nasCopy, "/", "%2F") + ".prom")
		require.NoError(t, err)
		assert.Contains(t, string(prom), `bakc_replication_success{dataset="`+r.Datasets[0]+`",node="forge",target="`+nasCopy+`"} 0`)
		assert.Contains(t, string(prom), `bakc_replication_last_success_timestamp_seconds{dataset="`+r.Datasets[0]+`",node="forge",target="`+nasCopy+`"} 0`)
		st, err := os.Stat("/var/lib/bakc/replication/locks")
		require.NoError(t, err, "the lock folder in the NAS's state folder from its tmpfiles")
		assert.True(t, st.IsDir())
	})
}
