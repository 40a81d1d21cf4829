package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/nas"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/replication"
)

// TestReplicationPruning: Debian's real sanoid prunes the node's
// snapshots by the node's snapshots {} policy and the NAS's copies by
// the keep {} policy, from the sanoid.conf bakc writes for each side,
// with the clock moved forward by libfaketime. The NAS's is the file a
// NAS without NixOS installs (nas.Units); NixOS's services.sanoid gets
// the same settings (emit/nas's TestReplicationNixEvaluates).
//
// What sanoid reads, and so what this proves: sanoid prunes a snapshot
// of a kind (its name's suffix, _hourly) when its creation property
// (`zfs get -Hrpt snapshot creation`, real time: zfs-fuse sets it) is
// older than time() minus count × period and more than count of the
// kind are left (sanoid 2.1.0, prune_snapshots). libfaketime moves
// perl's time() (checked below: it is what sanoid compares with); each
// run gets a cache folder of its own, as libfaketime also moves the
// cache file's mtime. So a snapshot made now is, to a sanoid run at
// +3h1m, 3 h 1 m old — the only stand-in is that the snapshots were made
// within a second of each other, not an hour apart, so which of a kind's
// snapshots survive is sanoid's order among equal times (the newest,
// which the next pull needs, is made a second later); the counts left
// are what is checked.
//
// Node: hourly = 3, daily = 2; NAS: hourly = 6, daily = 4. Eight hourly
// and five daily snapshots are made on the node and sent to the copy.
// At +2h59m nothing is pruned on the node; at +3h1m its hourlies go down
// to 3 while the NAS keeps all 8 (its maxage is 6 h); at +6h1m the NAS
// keeps 6; at +2d1m the node's dailies go down to 2, at +4d1m the NAS's
// to 4. After the node pruned, a pull of a new snapshot still finds the
// newest common one.
func TestReplicationPruning(t *testing.T) {
	testenv.Root(t)
	sanoid := testenv.LookPath(t, "sanoid")
	faketime := testenv.LookPath(t, "faketime")
	perl := testenv.LookPath(t, "perl")

	// libfaketime moves what sanoid compares with: perl's time().
	out, err := exec.Command(faketime, "-f", "+10860", perl, "-e", "print time").Output()
	require.NoError(t, err)
	faked, err := strconv.ParseInt(string(out), 10, 64)
	require.NoError(t, err)
	require.InDelta(t, time.Now().Unix()+10860, faked, 30, "faketime does not move perl's time()")

	pool := testenv.ZFSPool(t, 128<<20)
	home, copyDS := pool+"/node/home", pool+"/nas/forge/zfs-recv/home"
	replZFS(t, "create", "-p", home)
	replZFS(t, "create", "-p", pool+"/nas/forge/zfs-recv")
	replZFS(t, "set", "atime=off", pool+"/nas")
	writeIn(t, home, "file", "data")

	nodePolicy := plan.SnapshotPolicy{Hourly: 3, Daily: 2}
	nasPolicy := plan.SnapshotPolicy{Hourly: 6, Daily: 4}
	var names []string
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		names = append(names, "autosnap_"+day.AddDate(0, 0, i).Format("2006-01-02_15:04:05")+"_daily")
	}
	for i := range 8 {
		names = append(names, "autosnap_"+day.AddDate(0, 0, 4).Add(time.Duration(i+1)*time.Hour).Format("2006-01-02_15:04:05")+"_hourly")
	}
	for i, n := range names {
		if i == len(names)-1 {
			// The newest is the one the next pull needs: a creation
			// time of its own, so that sanoid, which prunes a kind's
			// oldest first, never takes it for one of the oldest.
			time.Sleep(1100 * time.Millisecond)
		}
		replZFS(t, "snapshot", home+"@"+n)
	}
	sendInto(t, home, copyDS, "", names[0])
	sendInto(t, home, copyDS, names[0], names[len(names)-1])

	dir := t.TempDir()
	zfsT := zfsGetT(t)
	conf := func(name string, ds string, p plan.SnapshotPolicy, take bool) string {
		d := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "sanoid.conf"), []byte(replication.SanoidConfig(name, []string{ds}, p, take)), 0o644))
		return d
	}
	nodeConf := conf("node", home, nodePolicy, true)
	// The NAS's: the sanoid.conf a NAS without NixOS installs (bakc
	// nas-plan --format units) for a NAS plan with this copy.
	nasConf := filepath.Join(dir, "nas")
	require.NoError(t, os.MkdirAll(nasConf, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(nasConf, "sanoid.conf"), nasSanoidConf(t, pool, home, copyDS, nasPolicy), 0o644))
	prune := func(confDir string, offset time.Duration) {
		t.Helper()
		cmd := exec.Command(faketime, "-f", fmt.Sprintf("%+d", int64(offset.Seconds())), sanoid,
			"--configdir", confDir, "--cache-dir", t.TempDir(), "--run-dir", t.TempDir(), "--prune-snapshots", "--verbose")
		cmd.Env = []string{"PATH=" + filepath.Dir(zfsT) + ":/usr/sbin:/usr/bin:/sbin:/bin", "TZ=UTC"}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "sanoid --prune-snapshots at %v:\n%s", offset, out)
		t.Logf("sanoid %s at +%v:\n%s", filepath.Base(confDir), offset, out)
	}
	counts := func(ds string) [2]int {
		t.Helper()
		var c [2]int
		for _, s := range sanoidSnaps(t, ds) {
			switch {
			case strings.HasSuffix(s, "_hourly"):
				c[0]++
			case strings.HasSuffix(s, "_daily"):
				c[1]++
			}
		}
		return c
	}
	minute, hour := time.Minute, time.Hour
	for _, step := range []struct {
		name       string
		conf       string
		ds         string
		offset     time.Duration
		hourly, dy int
	}{
		{"node, hourlies younger than 3 h", nodeConf, home, 3*hour - minute, 8, 5},
		{"node, hourlies older than 3 h", nodeConf, home, 3*hour + minute, 3, 5},
		{"NAS, the same time: keeps 6 h", nasConf, copyDS, 3*hour + minute, 8, 5},
		{"NAS, hourlies older than 6 h", nasConf, copyDS, 6*hour + minute, 6, 5},
		{"node, dailies younger than 2 d", nodeConf, home, 48*hour - minute, 3, 5},
		{"node, dailies older than 2 d", nodeConf, home, 48*hour + minute, 3, 2},
		{"NAS, dailies younger than 4 d", nasConf, copyDS, 96*hour - minute, 6, 5},
		{"NAS, dailies older than 4 d", nasConf, copyDS, 96*hour + minute, 6, 4},
		{"node, a year on: the counts stay", nodeConf, home, 365 * 24 * hour, nodePolicy.Hourly, nodePolicy.Daily},
		{"NAS, a year on: the counts stay", nasConf, copyDS, 365 * 24 * hour, nasPolicy.Hourly, nasPolicy.Daily},
	} {
		prune(step.conf, step.offset)
		require.Equal(t, [2]int{step.hourly, step.dy}, counts(step.ds), "%s: [hourly daily] left", step.name)
	}

	// The node pruned its older snapshots; its newest is still the
	// copy's newest, so the next incremental finds it.
	newest := names[len(names)-1]
	require.Contains(t, sanoidSnaps(t, home), newest)
	next := "autosnap_" + day.AddDate(0, 0, 4).Add(10*time.Hour).Format("2006-01-02_15:04:05") + "_hourly"
	writeIn(t, home, "file", "later")
	replZFS(t, "snapshot", home+"@"+next)
	sendInto(t, home, copyDS, newest, next)
	require.Equal(t, "later", readIn(t, copyDS, "file"))
}

// sendInto sends ds@to (incrementally from ds@from, with every snapshot
// between, when from is set) into target, as syncoid does.
func sendInto(t *testing.T, ds, target, from, to string) {
	t.Helper()
	zfs := testenv.LookPath(t, "zfs")
	args := []string{"send", ds + "@" + to}
	if from != "" {
		args = []string{"send", "-I", ds + "@" + from, ds + "@" + to}
	}
	send := exec.Command(zfs, args...)
	recv := exec.Command(zfs, "receive", target)
	pipe, err := send.StdoutPipe()
	require.NoError(t, err)
	recv.Stdin = pipe
	var sendErr strings.Builder
	send.Stderr = &sendErr
	require.NoError(t, send.Start())
	out, err := recv.CombinedOutput()
	require.NoError(t, err, "zfs receive: %s", out)
	require.NoError(t, send.Wait(), "zfs send: %s", sendErr.String())
}

// nasSanoidConf is bakc-nas-sanoid.conf of nas.Units for a NAS plan
// whose one node's dataset ds is copied into copyDS with the keep
// policy.
func nasSanoidConf(t *testing.T, pool, ds, copyDS string, keep plan.SnapshotPolicy) []byte {
	t.Helper()
	hostKey := testenv.SSHKey(t, t.TempDir(), "host", "root@forge")
	p := &plan.NASPlan{
		Version: plan.Version,
		NAS:     plan.NAS{Name: "nas-1", Parent: pool + "/nas", MountRoot: "/mnt/nas"},
		Nodes: []plan.NASNode{{Name: "forge", Dataset: pool + "/nas/forge", Replication: &plan.NodeReplication{
			Address: "127.0.0.1", User: plan.SendUser, HostKey: hostKey, Schedule: plan.Schedule{Calendar: "hourly"},
			Datasets: []plan.ReplicaDataset{{Source: ds, Target: copyDS}}, Keep: keep,
		}}},
		Replication: &plan.NASReplication{IdentityFile: "/run/secrets/key", PublicKey: hostKey,
			State: "/var/lib/bakc", TextfileDir: "/var/lib/node_exporter/textfile_collector", ErrorLog: "/var/log/bakc/errors.jsonl"},
	}
	files, err := nas.Units(p, "/usr/local/bin/bakc")
	require.NoError(t, err)
	for _, f := range files {
		if f.Name == nas.NASSanoidConfFile {
			return f.Data
		}
	}
	t.Fatalf("nas.Units wrote no %s", nas.NASSanoidConfFile)
	return nil
}
