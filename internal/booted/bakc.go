package booted

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/internal/testenv"
)

// StandInTag is the build tag of the bakc that runs in the machine. Its
// only effect (runtime/mountpoint_nfs_standin.go, and a test in runtime
// that proves it is the only one) is that the NFS mount check accepts a
// tmpfs with the plan's exact export as its source: the machine's kernel
// has no NFS client, so the tests stand in for the NFS mount that way.
const StandInTag = "bakc_nfs_standin"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildOut  []byte
)

// Main runs the tests and removes what they built. Call it from the
// package's TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Bakc builds bakc for the machine (once per test process, with
// StandInTag) and returns the binary.
func Bakc(t testing.TB) string {
	t.Helper()
	goBin := testenv.LookPath(t, "go")
	root := ModuleRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "bakc-booted-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command(goBin, "build", "-tags", StandInTag, "-o", filepath.Join(buildDir, "bakc"), "./cmd/bakc")
		cmd.Dir = root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building bakc: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(buildDir, "bakc")
}

// Units runs `bakc units HOSTFILE -o DIR` in the fleet's folder, as a
// user would, and returns DIR.
func Units(t testing.TB, fleet, hostFile string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(Bakc(t), "units", hostFile, "-o", dir)
	cmd.Dir = fleet
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bakc units %s: %v\n%s", hostFile, err, out)
	}
	return dir
}

// Install puts the output of `bakc units` (the folder dir) into m the
// way `bakc units --help` tells a user to install it, and returns the
// node's plan:
//
//   - every unit into /etc/systemd/system, under the name bakc wrote;
//   - the timers enabled, as `systemctl enable bakc-*.timer` does (a
//     symlink in the .wants folder of each WantedBy= target);
//   - bakc-sysusers.conf as /etc/sysusers.d/bakc.conf and
//     bakc-tmpfiles.conf as /etc/tmpfiles.d/bakc.conf, so that systemd's
//     own systemd-sysusers and systemd-tmpfiles-setup make the user and
//     the folders at boot;
//   - plan.json at the plan's own path, runbook.md beside it,
//     known_hosts (when written) at
//     the plan's paths.known_hosts, and bakc at the path the units run
//     it from;
//   - a replicating node's bakc-sanoid.conf as sanoid.conf in
//     /etc/bakc/sanoid and bakc-send.authorized_keys in the send user's
//     home. bakc-replication-allow.service is installed, not enabled:
//     zfs-fuse has no zfs allow (the help's enable line is the user's).
//
// A file it does not know fails the test: a new kind of output must be
// installed here too.
func Install(t testing.TB, m *Machine, dir string) *plan.Plan {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.ReadFile(filepath.Join(dir, unitfile.PlanFile))
	if err != nil {
		t.Fatalf("the plan bakc units wrote: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case name == unitfile.PlanFile:
			m.WriteFile(p.Paths.Plan, data, 0o644)
		case name == unitfile.RunbookFile:
			// Beside the plan, as bakc units' help says; the tmpfiles
			// link it into /var/lib/backup-docs.
			m.WriteFile(units.RunbookPath(p), data, 0o644)
		case name == unitfile.SysusersFile:
			m.WriteFile("/etc/sysusers.d/bakc.conf", data, 0o644)
		case name == unitfile.TmpfilesFile:
			m.WriteFile("/etc/tmpfiles.d/bakc.conf", data, 0o644)
		case name == unitfile.KnownHostsFile:
			if p.Paths.KnownHosts == "" {
				t.Fatalf("bakc units wrote %s, and the plan has no paths.known_hosts to install it at", name)
			}
			m.WriteFile(p.Paths.KnownHosts, data, 0o644)
		case name == unitfile.SanoidConfFile:
			m.WriteFile(unitfile.SanoidConfigDir(p)+"/sanoid.conf", data, 0o644)
		case name == unitfile.SendKeysFile:
			// Root's, in a home the send user cannot write.
			m.WriteFile(unitfile.SendKeysPath(), data, 0o644)
		case strings.HasSuffix(name, ".service"), strings.HasSuffix(name, ".mount"), strings.HasSuffix(name, ".automount"):
			m.WriteFile("/etc/systemd/system/"+name, data, 0o644)
		case strings.HasSuffix(name, ".timer"):
			m.WriteFile("/etc/systemd/system/"+name, data, 0o644)
			for _, target := range wantedBy(t, name, data) {
				m.Enable(name, target)
			}
		default:
			t.Fatalf("bakc units wrote %s, which the booted tier does not know how to install", name)
		}
	}
	m.CopyFile(unitfile.DefaultProgram, Bakc(t), 0o755)
	return p
}

// wantedBy reads WantedBy= of a unit's [Install] section; any other
// install setting fails the test (Install would not do what `systemctl
// enable` does).
func wantedBy(t testing.TB, name string, data []byte) []string {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, o := range opts {
		if o.Section != "Install" {
			continue
		}
		if o.Name != "WantedBy" {
			t.Fatalf("%s: [Install] %s= is not handled by booted.Install", name, o.Name)
		}
		out = append(out, strings.Fields(o.Value)...)
	}
	return out
}
