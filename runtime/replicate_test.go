package runtime

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/holthome/bakc/runtime/restic"
)

// TestClassifySyncoid: the categories of what syncoid, ssh, the node's
// guard and zfs receive print. network, host_key and diverged are also
// produced by the real syncoid in cmd/bakc's TestReplicationWithSyncoid;
// the lines here for the others are the programs' own messages (ssh's
// publickey refusal, the guard's RefusedError, OpenZFS' receive).
func TestClassifySyncoid(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      restic.Category
	}{
		{"connection refused", "ssh: connect to host 10.0.0.5 port 22: Connection refused\nCRITICAL ERROR: ssh connection echo test failed for bakc-send@forge with exit code 255", restic.CategoryNetwork},
		{"name", "ssh: Could not resolve hostname forge: Name or service not known", restic.CategoryNetwork},
		{"host key", "Host key for forge has changed and you have requested strict checking.\nHost key verification failed.\nCRITICAL ERROR: ssh connection echo test failed", CategoryHostKey},
		{"key refused", "bakc-send@10.0.0.5: Permission denied (publickey).\nCRITICAL ERROR: ssh connection echo test failed", restic.CategoryAuth},
		{"guard", `bakc send-guard: refused "zfs send -w rpool/safe/home@x": not one of the zfs send commands syncoid uses`, CategoryRefused},
		{"diverged", "CRITICAL ERROR: Target backup/forge/zfs-recv/home exists but has no snapshots matching with rpool/safe/home!", CategoryDiverged},
		// syncoid 2.3.0 (nixpkgs) writes it with writelog: the reason on
		// the line after "CRITICAL ERROR:".
		{"diverged, syncoid 2.3", "CRITICAL ERROR: \nTarget backup/forge/zfs-recv/home exists but has no snapshots matching with rpool/safe/home!\nReplication to target would require destroying existing\ntarget. Cowardly refusing to destroy your existing target.\n", CategoryDiverged},
		{"quota", "cannot receive incremental stream: out of space", restic.CategoryStorage},
		{"other", "something else entirely", restic.CategoryUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := classifySyncoid(context.Background(), 2, &syncoidError{code: 2, out: tc.out})
			if diff := cmp.Diff(tc.want, f.Category); diff != "" {
				t.Errorf("category (-want +got):\n%s", diff)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := classifySyncoid(ctx, -1, &syncoidError{code: -1}).Category; got != restic.CategoryResource {
		t.Errorf("interrupted: %s, want resource", got)
	}
}

func TestParseSyncoidOperands(t *testing.T) {
	user, node, src, dst, err := parseSyncoidOperands([]string{"--no-sync-snap", "--sendoptions", "", "bakc-send@forge:rpool/safe/home", "backup/forge/zfs-recv/home"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"bakc-send", "forge", "rpool/safe/home", "backup/forge/zfs-recv/home"}, []string{user, node, src, dst}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{
		{"backup/x"},
		{"rpool/safe/home", "backup/x"},           // a local source: not a pull
		{"u@forge:rpool/a;b", "backup/x"},         // not a dataset name
		{"u@forge:rpool/a", "backup/x; rm -rf /"}, // not a dataset name
		{"u@-o:rpool/a", "backup/x"},              // not a node name
	} {
		if _, _, _, _, err := parseSyncoidOperands(bad); err == nil {
			t.Errorf("parseSyncoidOperands(%q) accepted", bad)
		}
	}
}
