package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

var updateNixFleet = flag.Bool("update-nix-fleet", false, "rewrite nix/tests/fleet/out from nix/tests/fleet")

// TestNixOSTestFleet: the files the NixOS VM test (nix/tests) imports are
// what bakc generates from its fleet today, so that the VM test runs the
// current backup.nix and NAS configuration.
func TestNixOSTestFleet(t *testing.T) {
	fleet := filepath.Join("..", "..", "nix", "tests", "fleet")
	for _, tt := range []struct {
		out  string
		args []string
	}{
		{"out/client/backup.nix", []string{"compile", filepath.Join(fleet, "hosts", "client.hcl")}},
		{"out/nas/nas.nix", []string{"nas-plan", "client", "--format", "nix", "--fleet", fleet}},
	} {
		t.Run(tt.out, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tt.args, nil, &stdout, &stderr); code != exitOK {
				t.Fatalf("bakc %v: exit %d\n%s", tt.args, code, stderr.String())
			}
			golden := filepath.Join(fleet, tt.out)
			if *updateNixFleet {
				require.NoError(t, os.WriteFile(golden, stdout.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			if diff := cmp.Diff(string(want), stdout.String()); diff != "" {
				t.Errorf("%s is not current (-want +got); run go test ./cmd/bakc -run TestNixOSTestFleet -update-nix-fleet:\n%s", golden, diff)
			}
		})
	}
}
