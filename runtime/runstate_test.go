package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// A repository task's run that did not end (here: its record, in the
// documented format, as a verify cut short by a power loss leaves it,
// from an earlier boot) is reported by the next run of the task: an error
// line with category interrupted that says the node restarted, before
// the task runs and reports itself. The real kill of a real process is
// TestRunKilledIsReportedByTheNext (cmd/bakc).
func TestKilledTaskIsReportedByTheNext(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	rec := map[string]any{
		"task": "verify", "name": "local", "pid": 999999, "boot_id": "00000000-0000-0000-0000-000000000000",
		"start": start, "phase": "check", "repository": "local", "updated": start.Add(time.Minute),
	}
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	path := runtime.RunRecordPath(f.plan.Paths.State, "verify", "local")
	require.Equal(t, filepath.Join(f.plan.Paths.State, "runs", "verify-local.json"), path)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o644))

	rep, err := runtime.Verify(context.Background(), f.plan, "local", f.options())
	require.NoError(t, err)
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
	lines := f.errorLines()
	require.Len(t, lines, 1)
	l := lines[0]
	if l.Task != "verify" || l.Repository != "local" || l.Phase != runtime.PhaseCheck || l.Category != restic.CategoryInterrupted ||
		!strings.Contains(l.Message, "2026-11-01T03:00:00Z (pid 999999) did not finish") || !strings.Contains(l.Message, "the node restarted") {
		t.Errorf("error line %+v; want task verify, phase check, category interrupted, a message naming the start, the pid and the restart", l)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the record is still there after the run ended: %v", err)
	}
	got := taskMetrics(t, f, "verify")
	if v := got[`bakc_verify_result{repository="local",result="success"}`]; v != 1 {
		t.Errorf("verify result success = %v, want 1 (this run's)", v)
	}
}
