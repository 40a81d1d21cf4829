package nas

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/replication"
)

// TestUnitsGolden: a plain NAS's replication files for the example
// (examples/homelab/out/nas-1/units; -update rewrites them), the same
// bytes twice.
func TestUnitsGolden(t *testing.T) {
	p := readNASPlan(t, exampleNAS)
	files, err := Units(p, unitfile.DefaultProgram)
	require.NoError(t, err)
	again, err := Units(p, unitfile.DefaultProgram)
	require.NoError(t, err)
	require.Equal(t, files, again)
	dir := filepath.Join(exampleNAS, "units")
	if *update {
		require.NoError(t, os.RemoveAll(dir))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for _, f := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
		}
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, len(files), "files in %s", dir)
	for _, f := range files {
		want, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		if !bytes.Equal(want, f.Data) {
			t.Errorf("%s differs from the golden file (go test -update):\n%s", f.Name, cmp.Diff(string(want), string(f.Data)))
		}
	}
}

// TestUnitsVerify: systemd 252 accepts the plain NAS's units
// (systemd-analyze verify, with bakc, Debian's syncoid and sanoid in
// place), and reads back from each pull's ExecStart= `bakc run
// replicate` with the NAS plan's folders, then the syncoid command line
// that cmd/bakc's TestReplicationWithSyncoid runs through the real sshd
// and guard (replication.SyncoidArgs), with the installed known_hosts;
// its timer the node's schedule. Without bakc in place verify fails.
func TestUnitsVerify(t *testing.T) {
	p := readNASPlan(t, exampleNAS)
	files, err := Units(p, unitfile.DefaultProgram)
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	out, err := testenv.SystemdVerify(t, dir, unitfile.DefaultProgram, SyncoidProgram, units.SanoidProgram)
	if err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = testenv.SystemdVerify(t, dir, SyncoidProgram, units.SanoidProgram)
	require.Error(t, err, "verify accepted units whose bakc is missing")
	require.Contains(t, out, unitfile.DefaultProgram)

	r := p.Replication
	seen := 0
	for _, n := range p.Nodes {
		nr := n.Replication
		if nr == nil {
			continue
		}
		for _, d := range nr.Datasets {
			seen++
			name := ReplicateUnitName(n.Name, d.Source)
			dump := testenv.SystemdDump(t, dir, name+".service")[name+".service"]
			require.Len(t, dump["ExecStart"], 1, "%v", dump)
			got := testenv.ParseCommandLine(dump["ExecStart"][0])
			args, err := replication.SyncoidArgs(nr, n.Name, d, r.IdentityFile, KnownHostsPath)
			require.NoError(t, err)
			want := append([]string{unitfile.DefaultProgram, "run", "replicate", "--syncoid", SyncoidProgram,
				"--state", r.State + "/replication", "--textfile-dir", r.TextfileDir, "--error-log", r.ErrorLog, "--"}, args...)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s ExecStart (-want +got):\n%s", name, diff)
			}
			timer, err := os.ReadFile(filepath.Join(dir, name+".timer"))
			require.NoError(t, err)
			require.Contains(t, string(timer), "\nOnCalendar="+nr.Schedule.Calendar+"\n")
			require.Contains(t, string(timer), "\nRandomizedDelaySec="+nr.Schedule.RandomizedDelay+"\n")
		}
	}
	require.NotZero(t, seen)

	// systemd-tmpfiles makes the runtime's state folder from the
	// tmpfiles file, and nothing else: the textfile and log folders may
	// be a node's on the same host (the booted tier's forge found the
	// NAS's lines taking them from the node's backup user).
	tmpfiles := testenv.LookPath(t, "systemd-tmpfiles")
	root := t.TempDir()
	cmd := exec.Command(tmpfiles, "--root="+root, "--create", filepath.Join(dir, NASTmpfilesFile))
	out2, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out2)
	require.DirExists(t, filepath.Join(root, r.State, "replication"))
	require.NoDirExists(t, filepath.Join(root, r.TextfileDir))
	require.NoDirExists(t, filepath.Join(root, filepath.Dir(r.ErrorLog)))

	known, err := os.ReadFile(filepath.Join(dir, NASKnownHostsFile))
	require.NoError(t, err)
	for _, n := range p.Nodes {
		if n.Replication != nil {
			require.Contains(t, string(known), "\n"+strings.TrimSuffix(replication.KnownHostsLine(n.Name, n.Replication.HostKey), "\n")+"\n")
		}
	}
}
