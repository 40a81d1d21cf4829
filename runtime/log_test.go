package runtime_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// testLogger logs into the test's output, shown for failing tests.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Every line of a backup's and a repository task's log names its
// repository once: restic's lines (start, stderr, end) were given the
// repository twice by maintenance tasks and `bakc restic`, whose logger
// already carried it.
func TestLogLinesNameTheRepositoryOnce(t *testing.T) {
	testenvRoot(t)
	r := restictest.Restics(t)[0]
	f := newFixture(t, r)
	var buf bytes.Buffer
	o := f.options()
	o.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep := f.backup(o)
	require.Equal(t, runtime.ExitOK, rep.ExitCode, "%v", rep.Failures)
	_, err := runtime.Verify(context.Background(), f.plan, "local", o)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	restics := 0
	for _, l := range lines {
		if n := strings.Count(l, `"repository":`); n > 1 {
			t.Errorf("the repository %d times: %s", n, l)
		}
		if strings.Contains(l, `"msg":"restic start"`) {
			restics++
			require.Contains(t, l, `"repository":"local"`)
		}
	}
	require.Greater(t, restics, 1, "restic's lines from the backup and the verify:\n%s", buf.String())
}
