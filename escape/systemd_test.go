package escape

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestSystemdString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Home folders", "Home folders"},
		{"100% sure", "100%% sure"},
		{"%n %i", "%%n %%i"},
		{`quotes "a" 'b' back\slash $HOME ${x}`, `quotes "a" 'b' back\slash $HOME ${x}`},
		{"", ""},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, SystemdString(tt.in)); diff != "" {
			t.Errorf("SystemdString(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"a\nb", "a\rb", "tab\t", " lead", "trail ", `ends\`, "nul\x00", "\xff"} {
		if CheckSystemdLine(bad) == nil {
			t.Errorf("CheckSystemdLine(%q) accepted it", bad)
		}
	}
	require.Panics(t, func() { SystemdString("a\nb") })
}

func TestSystemdPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/mnt/nas-backup", "/mnt/nas-backup"},
		{"/var/lib/node_exporter/textfile_collector", "/var/lib/node_exporter/textfile_collector"},
		{"/mnt/a b", `"/mnt/a b"`},
		{"/mnt/100%", "/mnt/100%%"},
		{`/mnt/q"uote`, `"/mnt/q\"uote"`},
		{`/mnt/back\slash`, `"/mnt/back\\slash"`},
		{"/mnt/it's", `"/mnt/it's"`},
		{"/mnt/$x/${y}", "/mnt/$x/${y}"},
		{"/", "/"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, SystemdPath(tt.in)); diff != "" {
			t.Errorf("SystemdPath(%q) (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff("-"+tt.want, SystemdOptionalPath(tt.in)); diff != "" {
			t.Errorf("SystemdOptionalPath(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"relative", "/a/../b", "/a/", "/a//b", "/a/./b", "/a\nb", "/a\tb", "", "/" + strings.Repeat("x", 256)} {
		if CheckSystemdPath(bad) == nil {
			t.Errorf("CheckSystemdPath(%q) accepted it", bad)
		}
	}
}

func TestSystemdExec(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"/usr/local/bin/bakc", "run", "backup", "system", "--plan", "/etc/bakc/plan.json"},
			"/usr/local/bin/bakc run backup system --plan /etc/bakc/plan.json"},
		{"program with space and percent", []string{"/opt/my bakc/100%/bakc", "run"}, `"/opt/my bakc/100%%/bakc" run`},
		{"dollar", []string{"/bin/bakc", "$HOME", "${x}", "a$"}, `/bin/bakc $$HOME "$${x}" a$$`},
		{"space", []string{"/bin/bakc", "a b"}, `/bin/bakc "a b"`},
		{"quote and backslash", []string{"/bin/bakc", `q"u\o`}, `/bin/bakc "q\"u\\o"`},
		{"single quote", []string{"/bin/bakc", "it's"}, `/bin/bakc "it's"`},
		{"semicolon", []string{"/bin/bakc", ";", "a;b"}, `/bin/bakc ";" "a;b"`},
		{"empty", []string{"/bin/bakc", ""}, `/bin/bakc ""`},
		{"newline and escape", []string{"/bin/bakc", "a\nb\x1b"}, `/bin/bakc "a\nb\x1b"`},
		{"specifier", []string{"/bin/bakc", "%n"}, `/bin/bakc %%n`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SystemdExec(tt.argv)); diff != "" {
				t.Errorf("SystemdExec(%q) (-want +got):\n%s", tt.argv, diff)
			}
		})
	}
	for _, bad := range []string{"bakc", "/a/../bakc", `/a"b`, `/a\b`, "/a'b", "/a$b", "/a\nb"} {
		if CheckSystemdExecProgram(bad) == nil {
			t.Errorf("CheckSystemdExecProgram(%q) accepted it", bad)
		}
	}
	for _, bad := range []string{"a\x00b", "\xff", "\u0085"} {
		if CheckSystemdExecArg(bad) == nil {
			t.Errorf("CheckSystemdExecArg(%q) accepted it", bad)
		}
	}
}

func TestCheckSystemdUnitName(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"notify-failure.service", true},
		{"status-email@%n.service", true},
		{"mnt-nas\\x2dbackup.mount", true},
		{"backup.target", true},
		{"notify", false},
		{".service", false},
		{"a b.service", false},
		{"a%x.service", false},
		{"a%.service", false},
		{"a\n.service", false},
		{"a\"b.service", false},
		{"a$b.service", false},
	}
	for _, tt := range tests {
		if err := CheckSystemdUnitName(tt.in); (err == nil) != tt.ok {
			t.Errorf("CheckSystemdUnitName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestCheckUserName(t *testing.T) {
	for _, ok := range []string{"bakc", "_bakc", "bakc-2", "B_k"} {
		if err := CheckUserName(ok); err != nil {
			t.Errorf("CheckUserName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "2bakc", "-bakc", "bak c", "bakc$", "bakc%n", "b.k", strings.Repeat("a", 32)} {
		if CheckUserName(bad) == nil {
			t.Errorf("CheckUserName(%q) accepted it", bad)
		}
	}
}

// hostilePaths are absolute, clean paths with everything a unit file
// gives a meaning to.
var hostilePaths = []string{
	"/mnt/nas-backup",
	"/mnt/a b",
	"/mnt/  two  spaces",
	"/mnt/100%",
	"/mnt/%n%%",
	`/mnt/q"uote`,
	"/mnt/it's",
	`/mnt/back\slash`,
	`/mnt/\x41`,
	"/mnt/$HOME/${x}/$$",
	"/mnt/;/#/=/,",
	"/mnt/-minus",
	"/mnt/café",
	"/mnt/\"${x}\" '%i' \\n",
	"/",
}

var systemdAlphabet = []string{"a", "b", " ", "%", "$", "{", "}", "\"", "'", "\\", ";", "#", "-", "é", "n", "x", "="}

// randomPaths turns random text into clean absolute paths.
func randomPaths(seed uint64, n int) []string {
	var out []string
	for _, s := range randomText(seed, n, 10, systemdAlphabet) {
		var parts []string
		for _, c := range strings.Split(s, "/") {
			if c != "" && c != "." && c != ".." {
				parts = append(parts, c)
			}
		}
		p := "/r/" + strings.Join(parts, "/")
		if CheckSystemdPath(p) == nil {
			out = append(out, p)
		}
	}
	return out
}

// TestSystemdRealCorpus writes hostile and random values into unit
// files with the escaping functions, loads them with systemd's own
// parser (systemd --test) and checks that systemd read back exactly the
// values; and that `systemd-analyze verify` accepts every one of those
// units, with their hostile program paths present as real executables.
func TestSystemdRealCorpus(t *testing.T) {
	analyze := testenv.SystemdAnalyze(t)

	texts := append([]string{}, hostileStrings...)
	texts = append(texts, randomText(2, 400, 12, systemdAlphabet)...)
	paths := append(append([]string{}, hostilePaths...), randomPaths(3, 400)...)

	// The programs must exist for verify; put them in a world-readable
	// folder whose name is itself hostile.
	progRoot, err := os.MkdirTemp("", "bakc esc 100%")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(progRoot) })
	require.NoError(t, os.Chmod(progRoot, 0o755))
	var programs []string
	for _, name := range []string{"bakc", "my bakc", "100%", "semi;colon", "x=y", "café", "{brace}"} {
		p := filepath.Join(progRoot, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
		require.NoError(t, CheckSystemdExecProgram(p), "program %q", p)
		programs = append(programs, p)
	}

	type want struct {
		description string
		mountsFor   string
		rwPath      string
		roPath      string // optional: written with SystemdOptionalPath
		argv        []string
		env         string
	}
	dir := t.TempDir()
	wants := map[string]want{}
	var names []string
	n := max(len(texts), len(paths))
	for i := 0; i < n; i++ {
		w := want{
			description: "d",
			mountsFor:   paths[i%len(paths)],
			rwPath:      paths[(i+7)%len(paths)],
			roPath:      paths[(i+13)%len(paths)],
			argv:        []string{programs[i%len(programs)], "run", texts[i%len(texts)], texts[(i+1)%len(texts)], paths[i%len(paths)]},
			env:         paths[(i+3)%len(paths)] + ":" + texts[(i+2)%len(texts)],
		}
		if CheckSystemdEnvironment("PATH", w.env) != nil {
			w.env = paths[(i+3)%len(paths)]
		}
		if d := texts[i%len(texts)]; CheckSystemdLine(d) == nil && d != "" {
			w.description = d
		}
		var argsOK = true
		for _, a := range w.argv[1:] {
			if CheckSystemdExecArg(a) != nil {
				argsOK = false
			}
		}
		if !argsOK {
			w.argv = w.argv[:2]
		}
		name := fmt.Sprintf("corpus-%04d.service", i)
		unit := "[Unit]\n" +
			"Description=" + SystemdString(w.description) + "\n" +
			"RequiresMountsFor=" + SystemdPath(w.mountsFor) + "\n" +
			"\n[Service]\nType=oneshot\n" +
			"ExecStart=" + SystemdExec(w.argv) + "\n" +
			"ReadWritePaths=" + SystemdPath(w.rwPath) + "\n" +
			"Environment=" + SystemdEnvironment("PATH", w.env) + "\n" +
			"ReadOnlyPaths=" + SystemdOptionalPath(w.roPath) + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644))
		wants[name] = w
		names = append(names, name)
	}
	sort.Strings(names)
	target := "[Unit]\nDescription=corpus\nWants=" + strings.Join(names, " ") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "corpus.target"), []byte(target), 0o644))

	dump := testenv.SystemdDump(t, dir, "corpus.target")
	for _, name := range names {
		w := wants[name]
		got, ok := dump[name]
		if !ok {
			t.Errorf("%s: not loaded by systemd", name)
			continue
		}
		if diff := cmp.Diff([]string{w.description}, got["Description"]); diff != "" {
			t.Errorf("%s Description (-want +got):\n%s", name, diff)
		}
		var mounts []string
		for _, m := range got["RequiresMountsFor"] {
			if p, ok := strings.CutSuffix(m, " (origin-file)"); ok {
				mounts = append(mounts, p)
			}
		}
		if diff := cmp.Diff([]string{w.mountsFor}, mounts); diff != "" {
			t.Errorf("%s RequiresMountsFor (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff([]string{w.rwPath}, got["ReadWritePaths"]); diff != "" {
			t.Errorf("%s ReadWritePaths (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff([]string{"PATH=" + w.env}, got["Environment"]); diff != "" {
			t.Errorf("%s Environment (-want +got):\n%s", name, diff)
		}
		// systemd keeps the "-" of a path it may skip in front of it.
		if diff := cmp.Diff([]string{"-" + w.roPath}, got["ReadOnlyPaths"]); diff != "" {
			t.Errorf("%s ReadOnlyPaths (-want +got):\n%s", name, diff)
		}
		if len(got["ExecStart"]) != 1 {
			t.Errorf("%s ExecStart: got %q", name, got["ExecStart"])
			continue
		}
		// The dump shows argv before the start-time $VAR substitution,
		// where $$ stands for $ (systemd.service(5), "Command lines").
		var argv []string
		for i, a := range testenv.ParseCommandLine(got["ExecStart"][0]) {
			if i > 0 {
				var err error
				if a, err = substituteEnv(a); err != nil {
					t.Errorf("%s ExecStart argument %q: %v", name, a, err)
				}
			}
			argv = append(argv, a)
		}
		if diff := cmp.Diff(w.argv, argv); diff != "" {
			t.Errorf("%s ExecStart argv (-want +got):\n%s", name, diff)
		}
		// The model the fuzz tests use must agree with systemd.
		if model, err := readExec(SystemdExec(w.argv)); err != nil || !cmp.Equal(model, w.argv) {
			t.Errorf("%s: model reads ExecStart as %q (%v), systemd as %q", name, model, err, argv)
		}
	}

	// verify: every unit, once, with the target; it must say nothing.
	args := []string{"verify", "--man=no", filepath.Join(dir, "corpus.target")}
	for _, name := range names {
		args = append(args, filepath.Join(dir, name))
	}
	var out bytes.Buffer
	cmd := exec.Command(analyze, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out.String())
	}
	t.Logf("%d units read back by systemd", len(names))
}

// TestSystemdUnitNameFromPathReal compares with systemd-escape itself.
func TestSystemdUnitNameFromPathReal(t *testing.T) {
	sdEscape := testenv.LookPath(t, "systemd-escape")
	paths := append(append([]string{}, hostilePaths...), "/.hidden", "/mnt/.x", "/a/b.c", "/x:y_z", "/mnt/nas-backup")
	paths = append(paths, randomPaths(4, 200)...)
	for _, suffix := range []string{".mount", ".automount"} {
		args := append([]string{"--path", "--suffix=" + strings.TrimPrefix(suffix, ".")}, paths...)
		out, err := exec.Command(sdEscape, args...).Output()
		require.NoError(t, err)
		got := strings.Fields(string(out))
		require.Len(t, got, len(paths))
		for i, p := range paths {
			if want := got[i]; SystemdUnitNameFromPath(p, suffix) != want {
				t.Errorf("SystemdUnitNameFromPath(%q, %s) = %q, systemd-escape says %q", p, suffix, SystemdUnitNameFromPath(p, suffix), want)
			}
		}
	}
}

func FuzzSystemdString(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSystemdLine(s) != nil {
			return
		}
		v, err := readUnitLine(SystemdString(s))
		if err == nil {
			v, err = expandSpecifiers(v)
		}
		if err != nil || v != s {
			t.Fatalf("SystemdString(%q) = %q reads back as %q (%v)", s, SystemdString(s), v, err)
		}
	})
}

func FuzzSystemdPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p, "/second")
	}
	f.Fuzz(func(t *testing.T, p, q string) {
		if CheckSystemdPath(p) != nil || CheckSystemdPath(q) != nil {
			return
		}
		// The second word may be skipped when missing ("-" in front).
		line := SystemdPath(p) + " " + SystemdOptionalPath(q)
		v, err := readUnitLine(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		words, err := extractWords(v, false)
		if err != nil || len(words) != 2 {
			t.Fatalf("%q splits into %q (%v)", line, words, err)
		}
		for i, want := range []string{p, "-" + q} {
			got, err := expandSpecifiers(words[i])
			if err != nil || got != want {
				t.Fatalf("%q word %d reads back as %q (%v), want %q", line, i, got, err, want)
			}
		}
	})
}

func FuzzSystemdExec(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add("/usr/bin/bakc", s, "x")
	}
	f.Add("/opt/a b/100%/bakc", ";", "")
	f.Fuzz(func(t *testing.T, prog, a, b string) {
		if CheckSystemdExecProgram(prog) != nil || CheckSystemdExecArg(a) != nil || CheckSystemdExecArg(b) != nil {
			return
		}
		argv := []string{prog, a, b}
		line := SystemdExec(argv)
		got, err := readExec(line)
		if err != nil || !cmp.Equal(argv, got) {
			t.Fatalf("SystemdExec(%q) = %q reads back as %q (%v)", argv, line, got, err)
		}
		if args := SystemdExecArgs(argv[1:]); line != SystemdExecProgram(prog)+" "+args {
			t.Fatalf("SystemdExec is not program + args: %q", line)
		}
	})
}

func FuzzSystemdUnitNameFromPath(f *testing.F) {
	for _, p := range hostilePaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CheckSystemdPath(p) != nil {
			return
		}
		name := SystemdUnitNameFromPath(p, ".mount")
		if err := CheckSystemdUnitName(name); err != nil && len(name) <= 255 {
			t.Fatalf("SystemdUnitNameFromPath(%q) = %q is not a unit name: %v", p, name, err)
		}
		got, err := unescapeUnitPath(name, ".mount")
		if err != nil || got != p {
			t.Fatalf("SystemdUnitNameFromPath(%q) = %q unescapes to %q (%v)", p, name, got, err)
		}
	})
}
