package runtime

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// An sftp repository's login check starts the open bound (repoRun.openBy);
// restic's first opening of the repository gets only what is left of it,
// against a server that never answers: it stops when the bound started
// by the check ends, not a whole bound later. A second opening (under
// the repository's lock) gets a whole bound again.
//
// Before, the opening started a bound of its own: reaching an sftp
// server could take twice the bound.
func TestOpenAfterTheLoginCheckGetsWhatIsLeftOfTheBound(t *testing.T) {
	r := restictest.Restics(t)[0]
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pw, []byte("secret\n"), 0o600))
	repo := &plan.Repository{Name: "far", Kind: plan.KindS3, URL: "s3:http://" + testenv.Blackhole(t) + "/bakc-test"}
	rr := &repoRun{repo: repo, restic: &restic.Restic{Binary: r.Path, Repo: repo.URL, PasswordFile: pw, CacheDir: filepath.Join(dir, "cache"),
		Env: []string{"AWS_ACCESS_KEY_ID=bakc-test", "AWS_SECRET_ACCESS_KEY=not-a-secret"}}}
	o := &Options{OpenTimeout: 6 * time.Second}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	rr.openBy = time.Now().Add(time.Second) // the login check used five of six seconds
	start := time.Now()
	err := openURLRepository(t.Context(), o, log, rr)
	took := time.Since(start)
	var ue *unreachableError
	require.True(t, errors.As(err, &ue), "%v", err)
	if took > 4*time.Second {
		t.Errorf("the opening took %v: a bound of its own, not the second left of the login check's", took.Round(100*time.Millisecond))
	}
	require.True(t, rr.openBy.IsZero(), "the login check's bound is used once")

	start = time.Now()
	err = openURLRepository(t.Context(), o, log, rr)
	took = time.Since(start)
	require.True(t, errors.As(err, &ue), "%v", err)
	require.GreaterOrEqual(t, took, 5*time.Second, "the second opening gets a whole bound")
}
