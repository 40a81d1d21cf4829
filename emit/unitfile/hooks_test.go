package unitfile

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/internal/testenv"
)

// TestHooksFleet: the units of a node whose hooks declare what they need
// pass systemd-analyze verify, and systemd reads back what each grants:
// the hook's folder writable (optional), its PATH folder before the
// default, root with the narrow bounding set for a hook as postgres, the
// backup user for a hook without a user.
func TestHooksFleet(t *testing.T) {
	p := unitstest.HooksFleetPlan(t)
	files, err := Render(p, DefaultProgram)
	require.NoError(t, err)
	dir := writeFiles(t, files)
	out, err := testenv.SystemdVerify(t, dir, DefaultProgram)
	if err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	dump := testenv.SystemdDump(t, dir, "bakc-backup-postgres.service")
	pg := dump["bakc-backup-postgres.service"]
	require.NotNil(t, pg)
	rw := pg["ReadWritePaths"]
	require.Len(t, rw, 1)
	if want := "-/var/lib/postgresql/dumps"; !slices.Contains(strings.Fields(rw[0]), want) {
		t.Errorf("ReadWritePaths = %q, want it to hold %s", rw[0], want)
	}
	if diff := cmp.Diff([]string{"PATH=/usr/lib/postgresql/15/bin:" + units.DefaultPath}, pg["Environment"]); diff != "" {
		t.Errorf("Environment (-want +got):\n%s", diff)
	}
	if pg["User"] != nil && !slices.Equal(pg["User"], []string{"root"}) {
		t.Errorf("User = %q, want root (the hook switches to postgres)", pg["User"])
	}
	if diff := cmp.Diff([]string{"cap_chown cap_dac_override cap_dac_read_search cap_fowner cap_kill cap_setgid cap_setuid"}, pg["CapabilityBoundingSet"]); diff != "" {
		t.Errorf("CapabilityBoundingSet (-want +got):\n%s", diff)
	}

	dump = testenv.SystemdDump(t, dir, "bakc-backup-etc.service")
	etc := dump["bakc-backup-etc.service"]
	require.NotNil(t, etc)
	if diff := cmp.Diff([]string{"bakc"}, etc["User"]); diff != "" {
		t.Errorf("etc User (-want +got):\n%s", diff)
	}
	require.Nil(t, etc["Environment"], "no PATH declared, no Environment=")
}
