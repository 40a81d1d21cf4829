package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
)

// HooksFleet is the fleet with hooks in both forms, shared with the
// emitters' tests.
const HooksFleet = "testdata/hooks-fleet"

// TestHooksFleet: the seed's pg_dumpall-into-a-file pattern compiles
// clean once the hook declares its user, programs and folder, and the
// plan carries each declaration; a hook written as an attribute has none.
func TestHooksFleet(t *testing.T) {
	f, diags := LoadFleet(HooksFleet)
	require.Empty(t, diags)
	require.Empty(t, f.Validate(), "the hooks fleet must validate without a diagnostic")
	p, diags := f.Plan("db")
	require.Empty(t, diags)
	pg, ok := p.Job("postgres")
	require.True(t, ok)
	want := plan.Hooks{
		PreBackup:  "pg_dumpall > /var/lib/postgresql/dumps/all.sql",
		PostBackup: "rm -f /tmp/marker; echo done",
		Needs: map[string]plan.Needs{plan.HookPreBackup: {
			User: "postgres", Packages: []string{"postgresql"}, Path: []string{"/usr/lib/postgresql/15/bin"}, Writes: []string{"/var/lib/postgresql/dumps"},
		}},
	}
	if diff := cmp.Diff(want, pg.Hooks); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
	etc, _ := p.Job("etc")
	if diff := cmp.Diff(map[string]plan.Needs{plan.HookPreBackup: {Writes: []string{"/var/backups"}}}, etc.Hooks.Needs); diff != "" {
		t.Errorf("etc needs (-want +got):\n%s", diff)
	}
}
