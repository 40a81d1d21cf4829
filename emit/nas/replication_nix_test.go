package nas

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/replication"
)

// TestReplicationNixEvaluates evaluates the example NAS's Nix form with
// the real nix-instantiate and rebuilds, from the values NixOS's
// services.syncoid module would see, the command line that module runs
// (nixos/modules/services/backup/syncoid.nix: syncoid, --sshkey KEY,
// extraArgs, --sendoptions "", --recvoptions R, --no-privilege-elevation,
// source, target). Up to the order of its options, which syncoid reads
// with Getopt, it must be the command line TestReplicationWithSyncoid
// ran with Debian's syncoid (replication.SyncoidArgs), with the known
// hosts file the module writes. sanoid's settings for each copy are the
// NAS's keep policy, taking nothing.
func TestReplicationNixEvaluates(t *testing.T) {
	p := readNASPlan(t, exampleNAS)
	require.NotNil(t, p.Replication)
	module, err := Nix(p)
	require.NoError(t, err)
	var v struct {
		Services struct {
			Syncoid struct {
				Enable  bool `json:"enable"`
				Package struct{ Name, Text string }
				Service struct {
					ServiceConfig struct {
						BindPaths    []string
						NotifyAccess string
					}
				}
				LocalTargetAllow []string `json:"localTargetAllow"`
				Commands         map[string]struct {
					Source, Target, SSHKey, RecvOptions string
					ExtraArgs                           []string
					Service                             struct {
						StartAt struct {
							Content  string `json:"content"`
							Priority int    `json:"priority"`
						} `json:"startAt"`
					} `json:"service"`
				} `json:"commands"`
			} `json:"syncoid"`
			Sanoid struct {
				Enable   bool                                  `json:"enable"`
				Datasets map[string]map[string]json.RawMessage `json:"datasets"`
			} `json:"sanoid"`
		} `json:"services"`
		Systemd struct {
			Tmpfiles struct {
				Rules struct {
					Content  []string `json:"content"`
					Priority int      `json:"priority"`
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(nixEvalJSON(t, module), &v))
	require.True(t, v.Services.Syncoid.Enable)
	require.True(t, v.Services.Sanoid.Enable)
	require.Equal(t, []string{"create", "mount", "receive"}, v.Services.Syncoid.LocalTargetAllow, "no rollback, no destroy")

	// The syncoid the module runs (package/bin/syncoid) is bakc run
	// replicate with the real syncoid and the NAS plan's folders, then
	// the module's arguments untouched; its folders are bound into the
	// units' sandbox and made by tmpfiles, the state the syncoid user's.
	r := p.Replication
	require.Equal(t, "syncoid", v.Services.Syncoid.Package.Name)
	require.Equal(t, []string{"--syncoid", "/stand-in/sanoid/bin/syncoid", "--state", r.State + "/replication", "--textfile-dir", r.TextfileDir, "--error-log", r.ErrorLog, "--", "a b", "bakc-send@forge:rpool/x", "backup/x"},
		runWrapper(t, v.Services.Syncoid.Package.Text, "a b", "bakc-send@forge:rpool/x", "backup/x"))
	require.Equal(t, []string{r.State + "/replication", r.TextfileDir, path.Dir(r.ErrorLog)}, v.Services.Syncoid.Service.ServiceConfig.BindPaths)
	require.Equal(t, "main", v.Services.Syncoid.Service.ServiceConfig.NotifyAccess, "bakc's STATUS= is received")
	require.Equal(t, []string{
		"d " + r.State + "/replication 0750 syncoid syncoid - -",
		"d " + r.TextfileDir + " 0775 root syncoid - -",
		"d " + path.Dir(r.ErrorLog) + " 0775 root syncoid - -",
	}, v.Systemd.Tmpfiles.Rules.Content)
	require.Equal(t, 1500, v.Systemd.Tmpfiles.Rules.Priority, "lib.mkAfter: after a node's own rules on the same host")

	seen := 0
	for _, n := range p.Nodes {
		nr := n.Replication
		if nr == nil {
			continue
		}
		for _, d := range nr.Datasets {
			seen++
			c, ok := v.Services.Syncoid.Commands[CommandName(n.Name, d.Source)]
			require.True(t, ok, "no syncoid command for %s", d.Source)
			var knownHosts string
			for _, a := range c.ExtraArgs {
				if k, ok := strings.CutPrefix(a, "UserKnownHostsFile="); ok {
					knownHosts = k
				}
			}
			require.True(t, strings.HasPrefix(knownHosts, "/nix/store/"), "known hosts %q", knownHosts)
			data, err := os.ReadFile(knownHosts)
			if err == nil { // toFile in --eval may not write it
				require.Contains(t, string(data), replication.KnownHostsLine(n.Name, nr.HostKey))
			}
			module := append([]string{"--sshkey", c.SSHKey}, c.ExtraArgs...)
			module = append(module, "--sendoptions", "", "--recvoptions", c.RecvOptions, "--no-privilege-elevation", c.Source, c.Target)
			want, err := replication.SyncoidArgs(nr, n.Name, d, p.Replication.IdentityFile, knownHosts)
			require.NoError(t, err)
			if diff := cmp.Diff(syncoidOptions(want), syncoidOptions(module)); diff != "" {
				t.Errorf("%s: syncoid's options (-SyncoidArgs +NixOS):\n%s", d.Source, diff)
			}
			require.Equal(t, nr.Schedule.Calendar, c.Service.StartAt.Content)
			require.Equal(t, 50, c.Service.StartAt.Priority, "lib.mkForce over services.syncoid.interval")

			got := map[string]string{}
			for k, raw := range v.Services.Sanoid.Datasets[d.Target] {
				got[k] = string(raw)
			}
			if diff := cmp.Diff(replication.SanoidSettings(nr.Keep, false), got); diff != "" {
				t.Errorf("services.sanoid.datasets.%q (-keep +nix):\n%s", d.Target, diff)
			}
		}
	}
	require.Equal(t, seen, len(v.Services.Syncoid.Commands))
	require.NotZero(t, seen)
}

// syncoidOptions normalises a syncoid command line as Getopt reads it:
// "--opt=value" and "--opt value" alike, an empty --sendoptions as none,
// options sorted, the two operands last.
func syncoidOptions(args []string) []string {
	valued := map[string]bool{"--sshkey": true, "--sshoption": true, "--sshport": true, "--sendoptions": true, "--recvoptions": true}
	var opts, operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case valued[a]:
			i++
			if a == "--sendoptions" && args[i] == "" {
				continue
			}
			opts = append(opts, a+"="+args[i])
		case strings.HasPrefix(a, "--"):
			opts = append(opts, a)
		default:
			operands = append(operands, a)
		}
	}
	slices.Sort(opts)
	return append(opts, operands...)
}

// runWrapper runs the wrapper's text with sh, with pkgs.bakc a program
// that prints its arguments one a line, and returns what followed `run
// replicate`.
func runWrapper(t *testing.T, text string, args ...string) []string {
	t.Helper()
	dir := t.TempDir()
	bakc := filepath.Join(dir, "bakc")
	require.NoError(t, os.WriteFile(bakc, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\"\n"), 0o755))
	require.Contains(t, text, "'/stand-in/bakc/bin/bakc'")
	script := filepath.Join(dir, "syncoid")
	require.NoError(t, os.WriteFile(script, []byte(strings.Replace(text, "/stand-in/bakc/bin/bakc", bakc, 1)), 0o755))
	out, err := exec.Command("sh", append([]string{script}, args...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Equal(t, []string{"run", "replicate"}, got[:2])
	return got[2:]
}
