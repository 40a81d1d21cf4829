package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// unreachableBound is the tests' --open-timeout ($BAKC_OPEN_TIMEOUT): short,
// so that the tests are, and far below what restic gives a dead server by
// itself (0.18.1: 60 s for a B2 whose name does not resolve, 15 minutes
// and more for a server that never answers; 0.14: for ever).
const unreachableBound = 8 * time.Second

// unreachableSlack is what a run may take beyond the bound: bakc's own
// steps and the backup into the local repository, on a loaded machine.
const unreachableSlack = 30 * time.Second

// A job with two repositories, one of them a cloud that cannot be
// reached, run through the real binary with restic 0.14 and 0.18.1:
//
//   - s3, rest, sftp, blackhole: a URL whose server (a listener of the
//     test on 127.0.0.1) accepts every connection and never answers;
//   - b2, no network: a B2 repository, with bakc and restic in a network
//     namespace of their own that has no network at all (`unshare -n`):
//     api.backblazeb2.com does not resolve.
//
// The run fails that repository alone, in its preflight, with category
// network and a message naming the bound, within the bound (plus bakc's
// own work); the local repository of the same job gets its snapshot and
// its metrics (complete), the cloud's metrics say failed, with no
// last-success time; the exit code is 4. restic ≥ 0.17.1 is given --stuck-request-timeout for the opening.
//
// Before the bound (issue 8 follow-up), URL repositories were not opened
// in the preflight (unless init = true, and then without a bound) and
// restic backup met the dead server: 0.14 waited for ever in both cases,
// and 0.18.1 waited 15 minutes and more for the blackhole and failed the
// B2 only after 60 s per restic call; the tests stopped bakc at the
// bound plus a minute and failed.
func TestRunBackupUnreachableRepository(t *testing.T) {
	testenv.Root(t)
	unshare := testenv.LookPath(t, "unshare")
	cases := []struct {
		name string
		// cloud makes the unreachable repository (kind, URL, ssh block)
		// and the content of its environment file ("" for none).
		cloud func(t *testing.T) (repo plan.Repository, env string)
		// wrap runs bakc in a surrounding (unshare -n), or not.
		wrap []string
	}{
		{
			name: "s3 blackhole",
			cloud: func(t *testing.T) (plan.Repository, string) {
				return plan.Repository{Kind: plan.KindS3, URL: "s3:http://" + testenv.Blackhole(t) + "/bakc-test"},
					"AWS_ACCESS_KEY_ID=bakc-test\nAWS_SECRET_ACCESS_KEY=not-a-secret\n"
			},
		},
		{
			name: "rest blackhole",
			cloud: func(t *testing.T) (plan.Repository, string) {
				return plan.Repository{Kind: plan.KindREST, URL: "rest:http://" + testenv.Blackhole(t) + "/forge/"}, ""
			},
		},
		{
			// ssh connects, then waits for the server's banner, which
			// never comes; its ConnectTimeout (30 s) is longer than
			// the bound.
			name: "sftp blackhole",
			cloud: func(t *testing.T) (plan.Repository, string) {
				dir := t.TempDir()
				pub := testenv.SSHKey(t, dir, "client", "client")
				host, port, err := net.SplitHostPort(testenv.Blackhole(t))
				require.NoError(t, err)
				line := "[" + host + "]:" + port + " " + pub // any key: ssh never gets to see the server's
				knownHosts := filepath.Join(dir, "known_hosts")
				require.NoError(t, os.WriteFile(knownHosts, []byte(line+"\n"), 0o644))
				return plan.Repository{
					Kind: plan.KindSFTP, URL: "sftp://root@" + host + ":" + port + "/srv/restic/forge",
					SSH: &plan.SSH{User: "root", Host: host, Port: port, IdentityFile: filepath.Join(dir, "client"),
						KnownHostsFile: knownHosts, KnownHosts: []string{line}},
				}, ""
			},
		},
		{
			name: "b2 without network",
			cloud: func(t *testing.T) (plan.Repository, string) {
				return plan.Repository{Kind: plan.KindB2, URL: "b2:bakc-test:forge"}, "B2_ACCOUNT_ID=bakc-test\nB2_ACCOUNT_KEY=not-a-secret\n"
			},
			wrap: []string{unshare, "--net"},
		},
	}
	for _, r := range restictest.Restics(t) {
		for _, tc := range cases {
			t.Run(r.Version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				n := newPlainNode(t, r)
				cloud, env := tc.cloud(t)
				cloud.Name, cloud.PasswordFile = "cloud", n.plan.Repositories[0].PasswordFile
				cloud.Prune = plan.Prune{Schedule: plan.Schedule{Calendar: "weekly"}}
				if env != "" {
					cloud.EnvironmentFile = filepath.Join(n.dir, "cloud.env")
					require.NoError(t, os.WriteFile(cloud.EnvironmentFile, []byte(env), 0o600))
				}
				if cloud.SSH != nil {
					n.plan.Paths.KnownHosts = cloud.SSH.KnownHostsFile // where the inline host keys are
				}
				n.plan.Repositories = append([]plan.Repository{cloud}, n.plan.Repositories...)
				n.job().Repositories = []string{"cloud", "local"}
				n.savePlan()

				cmd, out := n.bakcCommand(n.restic.Path, "BAKC_OPEN_TIMEOUT="+unreachableBound.String())
				if tc.wrap != nil {
					cmd.Args = append(append([]string(nil), tc.wrap...), cmd.Args...)
					cmd.Path = tc.wrap[0]
				}
				// Its restic goes with it if the test gives up on it.
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				t.Cleanup(func() {
					if cmd.Process != nil {
						syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					}
				})
				start := time.Now()
				exited, wait := startBakc(t, cmd, out)
				select {
				case <-exited:
				case <-time.After(unreachableBound + unreachableSlack + time.Minute):
					t.Fatalf("bakc run backup had not ended after %v:\n%s", time.Since(start).Round(time.Second), out)
				}
				err := wait()
				took := time.Since(start)
				t.Logf("bakc run backup (%v):\n%s", took.Round(100*time.Millisecond), out)
				require.Equal(t, runtime.ExitPreflightFailed, exitCodeOf(t, err))
				if took > unreachableBound+unreachableSlack {
					t.Errorf("the run took %v, more than the bound %v and %v for the rest", took.Round(time.Second), unreachableBound, unreachableSlack)
				}

				lines := n.errorLines()
				require.Len(t, lines, 1, "%+v", lines)
				l := lines[0]
				if l.Repository != "cloud" || l.Phase != runtime.PhasePreflight || l.Category != restic.CategoryNetwork ||
					!strings.Contains(l.Message, fmt.Sprintf("did not open within %v", unreachableBound)) {
					t.Errorf("error line %+v; want repository cloud, phase preflight, category network, a message saying it did not open within %v", l, unreachableBound)
				}
				require.Len(t, n.snapshots(), 1, "the local repository's snapshot")
				m := n.metrics()
				for k, want := range map[string]string{
					`bakc_backup_result{job="data",repository="local",result="complete"}`: "1",
					`bakc_backup_result{job="data",repository="cloud",result="failed"}`:   "1",
					`bakc_backup_exit_code{job="data"}`:                                   "4",
					// the cloud never had a complete backup: no success time
					`bakc_backup_last_success_timestamp_seconds{job="data",repository="cloud"}`: "0",
				} {
					if m[k] != want {
						t.Errorf("metric %s = %q, want %s", k, m[k], want)
					}
				}
				// restic ≥ 0.17.1 retries a stuck request within the bound
				// (an sftp repository stops at bakc's ssh login check).
				if cloud.SSH != nil {
					require.Contains(t, l.Message, "ssh got no answer")
					return
				}
				v, err := restic.ParseVersion("restic " + r.Version)
				require.NoError(t, err)
				stuck := fmt.Sprintf("--stuck-request-timeout %v", unreachableBound/4)
				if has := strings.Contains(out.String(), stuck); has != v.HasStuckRequestTimeout() {
					t.Errorf("restic %s was given %q: %v, want %v", r.Version, stuck, has, v.HasStuckRequestTimeout())
				}
			})
		}
	}
}
