package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// applyTestHooks sets what only the tests change, from the environment
// of the bakc the scripts run (TestMain calls it before Main):
//
//	BAKC_TEST_NOW=RFC3339       the clock of every command (clock): the
//	                            runs' start and restic's --time, status's
//	                            now, what "2 days ago" means
//	BAKC_TEST_SYSTEMCTL="…"     how status asks systemd (systemctl), and
//	                            that systemd runs (a test's own manager)
//	BAKC_TEST_FUSE_CONF=FILE    the fuse.conf mount reads (fuseConf)
func applyTestHooks() {
	if v := os.Getenv("BAKC_TEST_FUSE_CONF"); v != "" {
		fuseConf = v
	}
	if v := os.Getenv("BAKC_TEST_NOW"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			panic("BAKC_TEST_NOW: " + err.Error())
		}
		clock = func() time.Time { return t }
	}
	if v := os.Getenv("BAKC_TEST_SYSTEMCTL"); v != "" {
		systemctl = strings.Fields(v)
		systemdBooted = func() bool { return true }
	}
}

// TestNodeScripts runs testdata/node/*.txtar: sessions of a person at a
// node, with real things — a ZFS pool in a file (zfs-fuse), restic
// repositories in the script's folder, `bakc run` making the state,
// metrics and error log that status reads — once per restic version
// (0.14 and 0.18.1). Besides testscript's own commands and exitcode they
// have:
//
//	zfspool               make a pool for the script; $POOL is its name
//	userfuse              skip (or fail) unless a user may mount with FUSE
//	usermanager           start a systemd user manager of the script's
//	                      own (systemctl --user, systemd-run --user reach it)
//
// and $RESTIC (the restic under test, also $BAKC_RESTIC, which bakc
// reads), [restic0.14], [restic0.18]. The scripts run as root below
// /var/lib (the compiler refuses paths in /tmp for the runtime's
// folders), with TZ=UTC.
func TestNodeScripts(t *testing.T) {
	testenv.Root(t)
	testenv.LookPath(t, "zfs")
	for _, r := range restictest.Restics(t) {
		t.Run("restic-"+r.Version, func(t *testing.T) {
			root, err := os.MkdirTemp("/var/lib", "bakc-node-test-")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(root) })
			// The backup user execs restic stand-ins and fusermount
			// below it, which its capabilities do not help with.
			require.NoError(t, os.Chmod(root, 0o755))
			testscript.Run(t, testscript.Params{
				Dir:                 "testdata/node",
				WorkdirRoot:         root,
				RequireExplicitExec: true,
				Setup: func(env *testscript.Env) error {
					env.Setenv("RESTIC", r.Path)
					env.Setenv("BAKC_RESTIC", r.Path)
					env.Setenv("TZ", "UTC")
					env.Values[scriptTKey{}] = env.T()
					return nil
				},
				Condition: func(cond string) (bool, error) {
					switch cond {
					case "restic0.14":
						return strings.HasPrefix(r.Version, "0.14."), nil
					case "restic0.18":
						return strings.HasPrefix(r.Version, "0.18."), nil
					}
					return false, nil
				},
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"exitcode": cmdExitCode,
					"usermanager": func(ts *testscript.TestScript, neg bool, args []string) {
						if neg || len(args) != 0 {
							ts.Fatalf("usage: usermanager")
						}
						m := testenv.StartSystemdManager(scriptT(ts))
						for _, kv := range m.Env {
							k, v, _ := strings.Cut(kv, "=")
							ts.Setenv(k, v)
						}
					},
					"userfuse": func(ts *testscript.TestScript, neg bool, args []string) {
						if neg || len(args) != 0 {
							ts.Fatalf("usage: userfuse")
						}
						testenv.UserFUSE(scriptT(ts))
					},
					"zfspool": func(ts *testscript.TestScript, neg bool, args []string) {
						if neg || len(args) != 0 {
							ts.Fatalf("usage: zfspool")
						}
						ts.Setenv("POOL", testenv.ZFSPool(scriptT(ts), 256<<20))
					},
				},
			})
		})
	}
}

// scriptTKey keeps a script's T for its commands (zfspool, userfuse).
type scriptTKey struct{}

// scriptT is the script's T, for testenv's helpers.
func scriptT(ts *testscript.TestScript) testing.TB {
	tb, ok := ts.Value(scriptTKey{}).(testing.TB)
	if !ok {
		ts.Fatalf("the script's T is not a testing.TB")
	}
	return tb
}
