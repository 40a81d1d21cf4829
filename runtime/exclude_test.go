package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

// excludeTree is a source folder whose names are exclude patterns taken
// literally (and the names those patterns would match if restic read
// them otherwise), each a file with a short content.
var excludeTree = []string{
	"${NOPE}", "$HOME", "HOME", "sub/$HOME", "#c", "c", "sub/#c",
	"a$$b", "a$b", "ab", "$", "end$", "end",
	`x\y`, "xy", "  lead", " lead", "lead", "trail ", "trail",
	"x.tmp", "sub/y.tmp", "a", "b", "d",
	"Grüße", "日本", "\u00a0nbsp", "nbsp", "\ufeffbom", "bom", "\ttab", "tab",
	"verylong", "longer",
}

// longestPattern is an exclude pattern whose line is the longest restic
// reads (64 KiB less its "\n"): "**/", stars, "long".
var longestPattern = "**/" + strings.Repeat("*", 64*1024-1-len("**/")-len("long")) + "long"

// Every hostile exclude pattern excludes exactly the files it names, as
// the real restic 0.14 and 0.18.1 read the exclude file the runtime
// writes: restic expands $VAR in that file, skips a line starting with
// "#" and trims white space, so each case backs up the tree and lists
// the snapshot. Before escape.ResticExcludeLine, "**/${NOPE}" excluded
// everything, "$HOME" and "#c" nothing, "a$$b" the file "a$b", "trail "
// the file "trail".
func TestExcludesReadLiterally(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	require.Empty(t, os.Getenv("NOPE"), "the test needs NOPE unset")
	require.NotEqual(t, "$HOME", os.Getenv("HOME"))
	cases := []struct {
		name     string
		patterns []string
		excluded []string
	}{
		{"unset braced variable", []string{"**/${NOPE}"}, []string{"${NOPE}"}},
		{"variable", []string{"$HOME"}, []string{"$HOME", "sub/$HOME"}},
		{"variable at any depth", []string{"**/$HOME"}, []string{"$HOME", "sub/$HOME"}},
		{"comment", []string{"#c"}, []string{"#c", "sub/#c"}},
		{"comment at any depth", []string{"**/#c"}, []string{"#c", "sub/#c"}},
		{"double dollar", []string{"a$$b"}, []string{"a$$b"}},
		{"dollar", []string{"a$b"}, []string{"a$b"}},
		{"lone dollar", []string{"$"}, []string{"$"}},
		{"dollar at the end", []string{"end$"}, []string{"end$"}},
		{"backslash escapes the next character", []string{`x\y`}, []string{"xy"}},
		{"escaped backslash", []string{`x\\y`}, []string{`x\y`}},
		{"leading spaces", []string{"  lead"}, []string{"  lead"}},
		{"trailing space", []string{"trail "}, []string{"trail "}},
		{"escaped trailing space", []string{`trail\ `}, []string{"trail "}},
		{"glob", []string{"*.tmp"}, []string{"x.tmp", "sub/y.tmp"}},
		{"class", []string{"[abc]"}, []string{"a", "b", "c"}},
		{"unicode", []string{"Grüße", "日本"}, []string{"Grüße", "日本"}},
		{"leading no-break space", []string{"\u00a0nbsp"}, []string{"\u00a0nbsp"}},
		{"byte order mark on the first line", []string{"\ufeffbom"}, []string{"\ufeffbom"}},
		{"leading tab", []string{"\ttab"}, []string{"\ttab"}},
		{"negation", []string{"*.tmp", "!x.tmp"}, []string{"sub/y.tmp"}},
		{"several", []string{"#c", "$HOME", "trail ", "  lead"}, []string{"#c", "sub/#c", "$HOME", "sub/$HOME", "trail ", "  lead"}},
		{"longest line", []string{longestPattern}, []string{"verylong"}},
	}
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					f := newFixture(t, r)
					require.NoError(t, os.RemoveAll(f.src))
					for _, name := range excludeTree {
						f.write(name, "x")
					}
					f.job().Exclude = tc.patterns
					rep := f.backup(f.options())
					require.Equal(t, runtime.ExitOK, rep.ExitCode, "failures: %v", rep.Failures)

					excluded := map[string]bool{}
					for _, n := range tc.excluded {
						excluded[n] = true
					}
					want := []string{"sub"}
					for _, n := range excludeTree {
						if !excluded[n] {
							want = append(want, n)
						}
					}
					sort.Strings(want)
					if diff := cmp.Diff(want, f.listed()); diff != "" {
						t.Errorf("restic %s with excludes %q stored (-want +got):\n%s", r.Version, tc.patterns, diff)
					}
				})
			}
		})
	}
}

// The longest line is the consumer's limit, not a guess: one byte more
// and restic refuses to read the exclude file at all.
func TestExcludeLineLimitIsRestics(t *testing.T) {
	t.Parallel()
	testenvRoot(t)
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, r)
			file := filepath.Join(f.dir, "excludes.txt")
			for _, tc := range []struct {
				line string
				ok   bool
			}{{longestPattern, true}, {"*" + longestPattern, false}} {
				require.NoError(t, os.WriteFile(file, []byte(tc.line+"\n"), 0o644))
				err := f.resticFor("local").Run(context.Background(), []string{"backup", "--dry-run", "--exclude-file", file, f.src}, nil)
				if tc.ok {
					require.NoError(t, err, "a line of %d bytes", len(tc.line))
				} else if err == nil || !strings.Contains(err.Error(), "token too long") {
					t.Errorf("restic %s read a line of %d bytes: %v; want token too long", r.Version, len(tc.line), err)
				}
			}
		})
	}
}

// listed returns what the latest snapshot holds below the source folder,
// relative to it, sorted, from restic ls --json.
func (f *fixture) listed() []string {
	f.t.Helper()
	var got []string
	err := f.resticFor("local").Run(context.Background(), []string{"ls", "--json", "--no-lock", "latest"}, func(line []byte) {
		var node struct {
			StructType string `json:"struct_type"`
			Path       string `json:"path"`
		}
		require.NoError(f.t, json.Unmarshal(line, &node), "ls line %s", line)
		if rel, ok := strings.CutPrefix(node.Path, f.src+"/"); ok && node.StructType == "node" {
			got = append(got, rel)
		}
	})
	require.NoError(f.t, err)
	sort.Strings(got)
	return got
}
