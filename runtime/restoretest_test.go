package runtime_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// TestRestoreTestNonUTF8Names is issue 9, item 15: restic ls --json
// writes a name that is not valid UTF-8 with U+FFFD for each such byte
// (restic 0.14 and 0.18 alike), restic dump of that path then finds no
// file, and the restore test failed with category "unknown", a false
// alarm. On a tree of nothing but such names, with real restic, every
// file is restored and is the file it names: the logged path is the file
// in the source byte for byte, and its content hashes the same. Among
// them are names that restic's JSON makes identical (a\xff and a\xfe,
// and a valid "\uFFFD" beside \xff), down to size and modification time,
// in folders whose own names are not UTF-8.
func TestRestoreTestNonUTF8Names(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			f := newFixture(t, r)
			// The fixture's own files go: every pick must hit a hard name.
			require.NoError(t, os.RemoveAll(f.src))
			same := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
			files := map[string]string{
				"latin1-caf\xe9.txt":               "a Latin-1 name",
				"\xff\xfe":                         "only invalid bytes",
				"dir-\xff/inner-\xfe.txt":          "in a folder that is not UTF-8 either",
				"dir-\xfe/inner-\xfe.txt":          "its twin in a twin folder",
				"twin-\xff":                        "twin one",
				"twin-\xfe":                        "twin two",
				"twin-\ufffd":                      "a real U+FFFD",
				`quoted-\xff-\"-` + "\xc3(":        `backslashes, quotes and a bad pair`,
				"deep/a\x80/b\x81/c\x82/d\x83.txt": "four folders down",
				"ok.txt":                           "a plain name beside them",
			}
			for name, content := range files {
				f.write(name, content)
				// Equal sizes and times: nothing but order tells twins apart.
				require.NoError(t, os.Chtimes(filepath.Join(f.src, name), same, same))
			}
			f.repository("local").RestoreTest = &plan.RestoreTest{Files: len(files)}
			require.Equal(t, runtime.ExitOK, f.backup(f.options()).ExitCode)

			var log strings.Builder
			o := f.options()
			o.Seed = 1
			o.Log = slog.New(slog.NewJSONHandler(&log, nil))
			rep, err := runtime.RestoreTest(context.Background(), f.plan, "local", o)
			require.NoError(t, err)
			require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v\nlog:\n%s", rep.Failures, log.String())

			restored := map[string]string{} // path → sha256, as logged
			for _, line := range strings.Split(log.String(), "\n") {
				if !strings.Contains(line, "file restored and matches its snapshot") {
					continue
				}
				path, sum := logField(t, line, "path"), logField(t, line, "sha256")
				restored[path] = sum
			}
			want := map[string]string{}
			for name, content := range files {
				h := sha256.Sum256([]byte(content))
				want[filepath.Join(f.src, name)] = hex.EncodeToString(h[:])
			}
			require.Equal(t, want, restored, "every file restored, each as itself")
		})
	}
}

// logField reads a string field of a JSON log line. The runtime logs a
// path that is not valid UTF-8 Go-quoted ("/src/a\xff"), since JSON
// (and so slog) cannot carry its bytes; this reads either form back.
func logField(t *testing.T, line, key string) string {
	t.Helper()
	i := strings.Index(line, `"`+key+`":`)
	require.GreaterOrEqual(t, i, 0, "no %s in %s", key, line)
	rest := line[i+len(key)+3:]
	v, err := strconv.QuotedPrefix(rest)
	require.NoError(t, err, line)
	s, err := strconv.Unquote(v)
	require.NoError(t, err, line)
	if q, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		return q
	}
	return s
}
