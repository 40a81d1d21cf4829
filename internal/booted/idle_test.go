package booted_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/booted"
)

// automount-idle (forge's units; item 11 of issue 8): every bakc service
// has PrivateMounts=yes, and an NFS repository sits behind an automount.
// systemd issues #3410 and #40586 report services being stopped when the
// automount's idle timeout expires: its idle timer counts uses in the
// host's mount namespace only, and a service in its own is invisible to
// it. bakc's automounts have no idle timeout (docs/nixos.md, "How bakc's
// units use the NFS mounts"), and its services Want the automount rather
// than RequiresMountsFor= the mount. This scenario shows why, with a
// service that has the generated sandbox of forge's plex backup (its
// [Unit] dependencies and every [Service] setting as `bakc units` wrote
// them) and, instead of bakc, a shell that holds a file of the
// repository open and writes a line a second for 20 s, as a long restic
// run that reads an unchanged source can go for minutes without a new
// lookup in the repository:
//
//   - as generated (no idle timeout): it runs to the end;
//   - with TimeoutIdleSec=5s on the automount (a user's
//     x-systemd.idle-timeout; bakc validate warns about it): it still
//     runs to the end (systemd's unmount fails: the service's copy of
//     the mount holds it);
//   - the negative control, RequiresMountsFor= the mount as bakc's units
//     had it before: stopped by systemd when the idle timeout unmounts
//     the mount (Result=signal).
//
// Stand-in: the NFS export is a tmpfs (standInNFS), behind the generated
// .mount and .automount units; /dev/autofs is bound into the machine.
// This replaces scripts/container-units.sh's idle cases, done by hand.

// holdSeconds is how long the stand-in backup holds the file open.
const holdSeconds = 20

// holdUnits are the test's services with plex's sandbox: one as
// generated, one with RequiresMountsFor= instead of Wants=/After= the
// automount.
const (
	holdWants    = "bakc-test-hold-wants.service"
	holdRequires = "bakc-test-hold-requires.service"
)

func setupAutomountIdle(t *testing.T, m *booted.Machine, p *plan.Plan) {
	_, err := os.Stat("/dev/autofs")
	require.NoError(t, err, "the machine needs the host's /dev/autofs for automounts (modprobe autofs4; scripts/test-setup.sh)")
	standInNFS(t, m, p)
	m.Mask("postgresql.service")
	r, ok := p.Repository("nas-primary")
	require.True(t, ok)
	f, ok := m.File("/etc/systemd/system/bakc-backup-plex.service")
	require.True(t, ok, "forge's plex backup unit is installed")
	generated, err := unit.DeserializeOptions(bytes.NewReader(f.Data))
	require.NoError(t, err)
	automount := mountUnit(t, m, r.NFS.Mountpoint)
	automount = strings.TrimSuffix(automount, ".mount") + ".automount"

	for _, hold := range []string{holdWants, holdRequires} {
		var opts []*unit.UnitOption
		for _, o := range generated {
			switch {
			case o.Name == "Description":
				o = unit.NewUnitOption(o.Section, o.Name, "The sandbox of bakc-backup-plex.service holding a file of the repository open ("+hold+")")
			case o.Name == "ExecStart":
				o = unit.NewUnitOption(o.Section, o.Name, escape.SystemdExec(holdCommand(r.NFS.Mountpoint+"/"+hold)))
			case hold == holdRequires && o.Section == "Unit" && (o.Name == "Wants" || o.Name == "After") && o.Value == automount:
				continue
			case hold == holdRequires && o.Name == "ReadWritePaths" && o.Value == "-"+r.NFS.Mountpoint:
				o = unit.NewUnitOption(o.Section, o.Name, r.NFS.Mountpoint)
			}
			opts = append(opts, o)
		}
		if hold == holdRequires {
			opts = append(opts, unit.NewUnitOption("Unit", "RequiresMountsFor", r.NFS.Mountpoint))
		}
		data, err := io.ReadAll(unit.Serialize(opts))
		require.NoError(t, err)
		require.Contains(t, string(data), "PrivateMounts=yes", "the generated sandbox")
		m.WriteFile("/etc/systemd/system/"+hold, data, 0o644)
	}
}

// holdCommand is the stand-in backup: it opens path, writes a line a
// second through that one descriptor, and checks at the end that all of
// them are in the file (the same file system under it the whole time).
func holdCommand(path string) []string {
	return []string{"/bin/sh", "-c", `exec 3>>"$1"; i=0
while [ $i -lt ` + strconv.Itoa(holdSeconds) + ` ]; do i=$((i+1)); echo $i >&3 || exit 1; sleep 1; done
n=$(wc -l < "$1"); echo "$n lines in the repository"; [ "$n" = ` + strconv.Itoa(holdSeconds) + ` ]`, "hold", path}
}

func insideAutomountIdle(t *testing.T, p *plan.Plan) {
	r, ok := p.Repository("nas-primary")
	require.True(t, ok)
	out, err := exec.Command("systemd-escape", "--path", "--suffix=automount", r.NFS.Mountpoint).Output()
	require.NoError(t, err)
	automount := strings.TrimSpace(string(out))

	hold := func(t *testing.T, unit string) (booted.UnitRun, time.Duration) {
		start := time.Now()
		r := booted.Start(t, unit)
		took := time.Since(start)
		t.Logf("%s after %v\n%s", r, took.Round(time.Second), booted.Journal(unit))
		return r, took
	}
	// ran to its end: systemctl start succeeded after the whole hold, and
	// the service found every line in the file. (A oneshot service that
	// succeeded and that nothing references is unloaded at once, so
	// systemctl show no longer has its main process's status.)
	ranToItsEnd := func(t *testing.T, r booted.UnitRun, took time.Duration) {
		t.Helper()
		assert.NoError(t, r.StartErr, "%s", r)
		assert.Equal(t, "success", r.Result, "%s", r)
		assert.GreaterOrEqual(t, took, holdSeconds*time.Second)
		assert.Contains(t, booted.Journal(r.Unit), strconv.Itoa(holdSeconds)+" lines in the repository")
	}

	t.Run("item-11-no-idle-timeout-as-generated", func(t *testing.T) {
		props := booted.Show(t, automount, "TimeoutIdleUSec")
		require.Equal(t, "0", props["TimeoutIdleUSec"], "bakc's automount has no idle timeout")
		r, took := hold(t, holdWants)
		ranToItsEnd(t, r, took)
	})

	// An idle timeout, as a user's x-systemd.idle-timeout=5s would give:
	// the automount is stopped (with its mount), changed and started
	// again.
	booted.Systemctl(t, "stop", automount)
	booted.DropIn(t, automount, "bakc-test-idle", "[Automount]\nTimeoutIdleSec=5s\n")
	booted.Systemctl(t, "start", automount)
	require.Equal(t, "5s", booted.Show(t, automount, "TimeoutIdleUSec")["TimeoutIdleUSec"])

	t.Run("item-11-idle-timeout-wants-keeps-running", func(t *testing.T) {
		r, took := hold(t, holdWants)
		ranToItsEnd(t, r, took)
		assert.Equal(t, 2, strings.Count(booted.Journal(r.Unit), strconv.Itoa(holdSeconds)+" lines in the repository"), "both runs ended")
	})

	t.Run("item-11-idle-timeout-requires-mounts-for-is-stopped", func(t *testing.T) {
		r, took := hold(t, holdRequires)
		assert.Equal(t, "signal", r.Result, "the negative control: RequiresMountsFor= lets the idle timeout stop the service\n%s", r)
		assert.Equal(t, 15, r.ExecMainStatus, "stopped with SIGTERM: %s", r)
		assert.Less(t, took, holdSeconds*time.Second, "stopped before its end")
		assert.NotContains(t, booted.Journal(r.Unit), "lines in the repository")
	})
}
