package booted_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/booted"
	"github.com/holthome/bakc/internal/testenv"
)

func TestMain(m *testing.M) { booted.Main(m) }

// scenario is one boot: a node of examples/homelab with its units as
// `bakc units` writes them, set up on the host (setup), then checked
// from inside the booted machine (inside).
type scenario struct {
	name string
	// fleet is the folder of the fleet: examples/homelab unless set
	// (testFleet: the tier's own, internal/booted/testdata/fleet).
	fleet string
	// newFleet, when set, makes the scenario's fleet on the host (a copy
	// of the example fleet that `bakc init` added the node to) and
	// returns it with the sops that decrypts its secrets: installNode
	// puts each secret of the plan where sops-nix would (installSops).
	newFleet func(t *testing.T) (fleet string, decrypt sopsDecrypt)
	node     string
	setup    func(t *testing.T, m *booted.Machine, p *plan.Plan)
	inside   func(t *testing.T, p *plan.Plan)
	// restic is the restic the units run: "0.18.1" (what NixOS ships,
	// installed as /usr/local/bin/restic, first on systemd's PATH) or
	// "0.14" (Debian's /usr/bin/restic, in the tree).
	restic string
}

// scenarios, the longest first: boots run two at a time (-parallel,
// GOMAXPROCS on a 2-core machine), so the long ones start at once.
var scenarios = []scenario{
	{name: "forge", node: "forge", restic: "0.18.1", setup: setupForge, inside: insideForge},
	{name: "box", fleet: testFleet, node: "box", restic: "0.18.1", setup: setupBox, inside: insideBox},
	{name: "forge-nas-down", node: "forge", restic: "0.18.1", setup: setupForgeNASDown, inside: insideForgeNASDown},
	{name: "hive", fleet: testFleet, node: "hive", restic: "0.18.1", setup: setupHive, inside: insideHive},
	{name: "automount-idle", node: "forge", restic: "0.18.1", setup: setupAutomountIdle, inside: insideAutomountIdle},
	{name: "forge-restic-0.14", node: "forge", restic: "0.14", setup: setupForge, inside: insideForgeRestic014},
	{name: "luna", node: "luna", restic: "0.18.1", setup: setupLuna, inside: insideLuna},
	{name: "cluster-0", node: "cluster-0", restic: "0.18.1", setup: setupCluster0, inside: insideCluster0},
	{name: "mars-init", newFleet: marsFleet, node: "mars", restic: "0.18.1", setup: setupMars, inside: insideMars},
}

// testFleet is the tier's own fleet, for what the example fleet does not
// have (internal/booted/testdata/fleet/bakc.hcl says what).
const testFleet = "testdata/fleet"

// bootTimeout bounds one scenario's boot, run and poweroff.
const bootTimeout = 15 * time.Minute

// TestBooted boots one machine per scenario with a real systemd and the
// example fleet's units, and checks every job as systemd runs it. See
// docs/testing.md.
func TestBooted(t *testing.T) {
	if testing.Short() && !booted.Inside() {
		t.Skip("boots machines; not in -short")
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			if booted.Inside() {
				p, err := plan.ReadFile("/etc/bakc/plan.json")
				require.NoError(t, err)
				s.inside(t, p)
				return
			}
			// Boots run side by side (-parallel): most of a scenario is
			// waiting (on restic's retries of the unreachable B2).
			t.Parallel()
			m := booted.NewMachine(s.node)
			fleet, decrypt := fleetOf(t, s)
			p := installNode(t, m, fleet, s.node, s.restic)
			if decrypt != nil {
				installSops(t, m, p, decrypt)
			}
			s.setup(t, m, p)
			booted.Run(t, m, bootTimeout)
		})
	}
}

// fleetOf is the folder of a scenario's fleet: the example fleet, the
// tier's own, or one the scenario makes (with the sops that decrypts
// its secrets).
func fleetOf(t *testing.T, s scenario) (string, sopsDecrypt) {
	switch {
	case s.newFleet != nil:
		return s.newFleet(t)
	case s.fleet != "":
		return filepath.Join(booted.ModuleRoot(t), "internal", "booted", s.fleet), nil
	}
	return filepath.Join(booted.ModuleRoot(t), "examples", "homelab"), nil
}

// installNode installs what `bakc units hosts/NODE.hcl` writes in the
// fleet's folder, the restic the scenario runs, and the repositories'
// secrets, and checks that the tree has neither the backup user nor its
// folders (so that finding them inside proves that the boot made them).
func installNode(t *testing.T, m *booted.Machine, fleet, node, resticVersion string) *plan.Plan {
	t.Helper()
	units := booted.Units(t, fleet, "hosts/"+node+".hcl")
	p := booted.Install(t, m, units)

	switch resticVersion {
	case "0.18.1":
		m.CopyFile("/usr/local/bin/restic", resticBinary(t, "0.18.1"), 0o755)
	case "0.14":
		// The tree's own restic, Debian's 0.14, at /usr/bin/restic.
	default:
		t.Fatalf("unknown restic %q", resticVersion)
	}

	// The secrets, as sops-nix or an administrator would put them: under
	// /run/secrets, readable by the backup user only.
	for _, r := range p.Repositories {
		m.WriteFileOwned(r.PasswordFile, []byte("booted-"+p.Node.Name+"-password\n"), 0o400, p.User.UID, p.User.GID)
		if r.EnvironmentFile != "" {
			// Stand-in: B2 keys that cannot be checked (no network here),
			// only parsed.
			m.WriteFileOwned(r.EnvironmentFile, []byte("B2_ACCOUNT_ID=0000000000000000000000000\nB2_ACCOUNT_KEY=K000000000000000000000000000000\n"), 0o400, p.User.UID, p.User.GID)
		}
	}
	m.WriteFile("/etc/hosts", []byte(hosts(node)), 0o644)

	tree := booted.Tree(t)
	passwd, err := os.ReadFile(filepath.Join(tree, "etc", "passwd"))
	require.NoError(t, err)
	require.NotContains(t, string(passwd), "\n"+p.User.Name+":", "the tree must not have the backup user: the boot makes it")
	for _, d := range []string{p.Paths.State, p.Paths.Cache, p.Paths.Log, p.Monitoring.TextfileDir} {
		require.NoDirExists(t, filepath.Join(tree, d), "the tree must not have %s: the boot makes it", d)
	}
	return p
}

// hosts is the machine's /etc/hosts. nas-1 is the machine itself: its
// own sshd stands in for the NAS's (cluster-0's sftp repository).
func hosts(node string) string {
	return fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n127.0.0.1\tnas-1.holthome.net nas-1\n::1\tlocalhost ip6-localhost ip6-loopback\n", node)
}

// resticBinary is the path of the restic of that version on the host.
func resticBinary(t *testing.T, version string) string {
	t.Helper()
	for _, r := range testenv.Restics(t) {
		if strings.HasPrefix(r.Version, version) {
			return r.Path
		}
	}
	t.Fatalf("no restic %s on this machine", version)
	return ""
}

// standInNFS replaces what the machine cannot do with the NFS
// repositories' mount units: mount the export. This machine's kernel has
// no NFS client, so a drop-in makes each mount a tmpfs whose source is
// the plan's exact export (nas-1.holthome.net:/mnt/backup/forge/restic),
// owned by the backup user with mode 0700 as the NAS's export is
// (docs/nas.md), with the generated options but those only NFS knows.
// The bakc in the machine is built with booted.StandInTag, whose only
// effect is that its mount check takes such a tmpfs for NFS; the check
// of the source stays. The unit file itself stays as generated.
func standInNFS(t *testing.T, m *booted.Machine, p *plan.Plan) {
	t.Helper()
	for _, r := range p.Repositories {
		if r.NFS == nil {
			continue
		}
		name := mountUnit(t, m, r.NFS.Mountpoint)
		var opts []string
		for _, o := range r.NFS.Options {
			if genericMountOption(o) {
				opts = append(opts, o)
			}
		}
		opts = append(opts, fmt.Sprintf("uid=%d", p.User.UID), fmt.Sprintf("gid=%d", p.User.GID), "mode=0700")
		m.WriteFile("/etc/systemd/system/"+name+".d/bakc-test-nfs-standin.conf", []byte(
			"# Stand-in for NFS, which this machine's kernel cannot mount (internal/booted).\n"+
				"[Mount]\nType=tmpfs\nOptions="+strings.Join(opts, ",")+"\n"), 0o644)
	}
}

// genericMountOption reports whether a mount option is one of the
// kernel's own or systemd's (kept for the tmpfs), not NFS's.
func genericMountOption(o string) bool {
	if strings.HasPrefix(o, "x-systemd.") {
		return true
	}
	switch o {
	case "_netdev", "noauto", "auto", "nofail", "noatime", "relatime", "nodiratime", "ro", "rw",
		"nosuid", "nodev", "noexec", "sync", "async":
		return true
	}
	return false
}

// mountUnit is the name of the installed mount unit whose Where= is
// mountpoint.
func mountUnit(t *testing.T, m *booted.Machine, mountpoint string) string {
	t.Helper()
	for _, p := range m.Files() {
		if !strings.HasPrefix(p, "/etc/systemd/system/") || !strings.HasSuffix(p, ".mount") {
			continue
		}
		f, _ := m.File(p)
		opts, err := unit.DeserializeOptions(strings.NewReader(string(f.Data)))
		require.NoError(t, err)
		for _, o := range opts {
			if o.Section == "Mount" && o.Name == "Where" && o.Value == mountpoint {
				return filepath.Base(p)
			}
		}
	}
	t.Fatalf("no mount unit for %s among the installed units", mountpoint)
	return ""
}

// pools are the node's ZFS datasets as zfs-fuse pools made at boot (a
// stand-in for the node's kernel ZFS, which this machine cannot run).
func pools(p *plan.Plan) []booted.Pool {
	var out []booted.Pool
	index := map[string]int{}
	for _, d := range p.Node.Datasets {
		pool, _, _ := strings.Cut(d.Name, "/")
		i, ok := index[pool]
		if !ok {
			i = len(out)
			index[pool] = i
			out = append(out, booted.Pool{Name: pool})
		}
		out[i].Datasets = append(out[i].Datasets, booted.Dataset{Name: d.Name, Mountpoint: d.Mountpoint})
	}
	return out
}

// grantZFSFuse gives the backup services of the plan's ZFS jobs what
// zfs-fuse needs and kernel ZFS does not (booted.ZFSFuseDropIn).
func grantZFSFuse(m *booted.Machine, p *plan.Plan) {
	for _, j := range p.Jobs {
		if j.Snapshot == plan.SnapshotZFS {
			m.GrantZFSFuse("bakc-backup-" + j.Name + ".service")
		}
	}
}

// standInDisk mounts a tmpfs at a local repository's mountpoint before
// local-fs.target (so before systemd-tmpfiles-setup makes the
// repository's folder on it), standing in for the disk the repository
// lives on: a real mount, another device than the folder above it, as
// the runtime's check of the mountpoint needs.
func standInDisk(t *testing.T, m *booted.Machine, p *plan.Plan) {
	t.Helper()
	for _, r := range p.Repositories {
		if r.Kind != plan.KindLocal || r.Mountpoint == "" {
			continue
		}
		out, err := exec.Command("systemd-escape", "--path", "--suffix=mount", r.Mountpoint).Output()
		require.NoError(t, err)
		name := strings.TrimSpace(string(out))
		m.WriteFile("/etc/systemd/system/"+name, []byte(
			"# Stand-in for the disk of repository "+r.Name+" (internal/booted).\n"+
				"[Unit]\nDescription=The disk of repository "+r.Name+" (a tmpfs)\nBefore=local-fs.target\n"+
				"[Mount]\nWhat=disk-"+r.Name+"\nWhere="+r.Mountpoint+"\nType=tmpfs\nOptions=size=1G,mode=0755\n"+
				"[Install]\nWantedBy=local-fs.target\n"), 0o644)
		m.Enable(name, "local-fs.target")
	}
}
