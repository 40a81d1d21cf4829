package emitfuzz

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/emit/nas"
	"github.com/holthome/bakc/emit/nixos"
	"github.com/holthome/bakc/emit/runbook"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/internal/testenv"
)

// corpusEntry is one fuzz input: the two (slot, value) pairs.
type corpusEntry struct {
	name   string
	i1, i2 uint8
	v1, v2 string
}

// readCorpus reads every committed fuzz input of every target (Go's
// "go test fuzz v1" files: one Go literal a line).
func readCorpus(t *testing.T) []corpusEntry {
	files, err := filepath.Glob("testdata/fuzz/*/*")
	require.NoError(t, err)
	var out []corpusEntry
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		require.Equal(t, "go test fuzz v1", lines[0], file)
		require.Len(t, lines, 5, file)
		var vals []any
		for _, l := range lines[1:] {
			typ, lit, _ := strings.Cut(strings.TrimSuffix(l, ")"), "(")
			switch typ {
			case "string":
				s, err := strconv.Unquote(lit)
				require.NoError(t, err, "%s: %s", file, l)
				vals = append(vals, s)
			case "byte":
				r, _, _, err := strconv.UnquoteChar(lit[1:len(lit)-1], '\'')
				require.NoError(t, err, "%s: %s", file, l)
				vals = append(vals, uint8(r))
			case "uint8":
				n, err := strconv.ParseUint(lit, 0, 8)
				require.NoError(t, err, "%s: %s", file, l)
				vals = append(vals, uint8(n))
			default:
				t.Fatalf("%s: %s", file, l)
			}
		}
		out = append(out, corpusEntry{name: filepath.Base(filepath.Dir(file)) + "/" + filepath.Base(file),
			i1: vals[0].(uint8), v1: vals[1].(string), i2: vals[2].(uint8), v2: vals[3].(string)})
	}
	return out
}

// nixStandIns are the module's arguments: a pkgs with the packages the
// base fleet names and writeText, and config with the ZFS package.
const nixStandIns = `{ config = { boot.zfs.package = "/stand-in/zfs"; bakc.fleet = "/stand-in/fleet"; }; pkgs = { bakc = "/stand-in/bakc"; openssh = "/stand-in/openssh"; curl = "/stand-in/curl"; postgresql = "/stand-in/postgresql"; writeText = name: text: { inherit name text; }; }; }`

// TestCorpusRealConsumers gives every output of every committed fuzz
// input the fleet compiles to its real consumer: backup.nix to
// nix-instantiate (parsed, and evaluated strictly against stand-in
// arguments), the unit files to systemd-analyze verify, the NAS script
// and the runbook's restore commands to sh -n.
func TestCorpusRealConsumers(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	sh := testenv.LookPath(t, "sh")
	entries := readCorpus(t)
	require.NotEmpty(t, entries)
	compiled := 0
	for _, e := range entries {
		t.Run(e.name, func(t *testing.T) {
			c := compile(t, fuzzFleet(e.i1, e.v1, e.i2, e.v2))
			if c == nil {
				return
			}
			compiled++
			dir := t.TempDir()

			module, err := nixos.Render(c.plan)
			require.NoError(t, err)
			file := filepath.Join(dir, "backup.nix")
			require.NoError(t, os.WriteFile(file, module, 0o644))
			if out, err := exec.Command(nix, "--parse", file).CombinedOutput(); err != nil {
				t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
			}
			out, err := exec.Command(nix, "--eval", "--strict", "--json", "--expr", "import "+file+" "+nixStandIns).CombinedOutput()
			if err != nil && !bytes.Contains(out, []byte("pkgs has no such attribute")) {
				t.Fatalf("nix-instantiate --eval: %v\n%s", err, out)
			}

			files, err := unitfile.Render(c.plan, unitfile.DefaultProgram)
			require.NoError(t, err)
			unitDir := filepath.Join(dir, "units")
			require.NoError(t, os.Mkdir(unitDir, 0o755))
			standIns := map[string]bool{}
			for _, f := range files {
				require.NoError(t, os.WriteFile(filepath.Join(unitDir, f.Name), f.Data, 0o644))
				for _, l := range strings.Split(string(f.Data), "\n") {
					if v, ok := strings.CutPrefix(l, "OnFailure="); ok {
						if pre, _, ok := strings.Cut(v, "@"); ok {
							v = pre + "@.service"
						}
						standIns[v] = true
					}
				}
			}
			for u := range standIns {
				require.NoError(t, os.WriteFile(filepath.Join(unitDir, u), []byte("[Service]\nType=oneshot\nExecStart="+unitfile.DefaultProgram+"\n"), 0o644))
			}
			if out, err := testenv.SystemdVerify(t, unitDir, unitfile.DefaultProgram, units.SanoidProgram, units.ZFSProgram); err != nil || out != "" {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}

			for _, np := range c.nas {
				script, err := nas.Script(np)
				require.NoError(t, err)
				if out, err := exec.Command(sh, "-n", "-c", string(script)).CombinedOutput(); err != nil {
					t.Errorf("sh -n on the NAS script: %v\n%s", err, out)
				}
			}
			md, err := runbook.Render(c.plan, runbook.Options{})
			require.NoError(t, err)
			for _, b := range runbookShell(md) {
				if b.hook {
					continue
				}
				if out, err := exec.Command(sh, "-n", "-c", b.script).CombinedOutput(); err != nil {
					t.Errorf("sh -n on a runbook block: %v\n%s\n%s", err, out, b.script)
				}
			}
		})
	}
	t.Logf("%d corpus entries, %d compiled and went through the real consumers", len(entries), compiled)
}
