package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The seed's option names (and nixpkgs' services.restic.backups ones)
// get bakc's name in the diagnostic, not only "not expected here", in
// the native syntax and in JSON; the fixture foreign-names.txtar has
// their locations.
func TestForeignNamesHintedInBothSyntaxes(t *testing.T) {
	native := `node "web" {
  repository "nas" {
    path          = "/srv/restic"
    password_file = "/run/secrets/restic"
    primary       = true
  }
  job "state" {
    paths           = ["/var/lib"]
    enable          = true
    excludePatterns = ["**/.cache"]
    preBackupScript = "true"
  }
}
`
	json := `{"node": {"web": {
  "repository": {"nas": {"path": "/srv/restic", "password_file": "/run/secrets/restic", "primary": true}},
  "job": {"state": {"paths": ["/var/lib"], "enable": true, "excludePatterns": ["**/.cache"], "preBackupScript": "true"}}
}}}
`
	want := map[string]string{
		`"primary"`:         `bakc calls it "default"`,
		`"enable"`:          `bakc calls it "enabled"`,
		`"excludePatterns"`: `bakc calls it "exclude"`,
		`"preBackupScript"`: `bakc calls it "pre_backup"`,
	}
	for _, tc := range []struct{ file, src string }{{"hosts/web.hcl", native}, {"hosts/web.hcl.json", json}} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "bakc.hcl"), []byte("defaults {\n  retention {\n    daily = 7\n  }\n}\n"), 0o644))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "hosts"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.src), 0o644))
			_, diags := LoadFleet(dir)
			got := map[string]string{}
			for _, d := range diags {
				require.NotNil(t, d.Subject, "%s: %s", d.Summary, d.Detail)
				for name := range want {
					if strings.Contains(d.Detail, name) {
						got[name] = d.Detail
					}
				}
			}
			for name, hint := range want {
				if !strings.Contains(got[name], hint) {
					t.Errorf("the diagnostic for %s says %q, want it to say %q", name, got[name], hint)
				}
			}
		})
	}
}
