package unitfile

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/emit/units/unitstest"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/internal/testenv"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden unit files under examples/homelab/out/<node>/units")

// TestGolden renders every example node's units and compares them with
// the committed files (go test ./emit/unitfile -update rewrites them).
// A second render must give the same bytes.
func TestGolden(t *testing.T) {
	for _, ex := range unitstest.Examples(t) {
		t.Run(ex.Node, func(t *testing.T) {
			files, err := Render(ex.Plan, DefaultProgram)
			require.NoError(t, err)
			again, err := Render(ex.Plan, DefaultProgram)
			require.NoError(t, err)
			if diff := cmp.Diff(files, again); diff != "" {
				t.Fatalf("a second render differs (-first +second):\n%s", diff)
			}
			dir := filepath.Join(ex.Dir, "units")
			if *update {
				require.NoError(t, os.RemoveAll(dir))
				require.NoError(t, os.MkdirAll(dir, 0o755))
				for _, f := range files {
					require.NoError(t, os.WriteFile(filepath.Join(dir, goldenName(f.Name)), f.Data, 0o644))
				}
			}
			want := map[string]string{}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err, "golden folder missing; run go test ./emit/unitfile -update")
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				require.NoError(t, err)
				want[e.Name()] = string(data)
			}
			got := map[string]string{}
			for _, f := range files {
				got[goldenName(f.Name)] = string(f.Data)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("units differ from %s (-want +got); run go test ./emit/unitfile -update and review the diff:\n%s", dir, diff)
			}
		})
	}
}

// goldenName is the name a unit file is committed under: a backslash
// (mnt-nas\x2dbackup.mount) is not allowed in the file names of a Go
// module, so it is stored as %5C.
func goldenName(name string) string { return strings.ReplaceAll(name, `\`, "%5C") }

// writeFiles puts rendered files into a fresh folder.
func writeFiles(t *testing.T, files []File) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	return dir
}

// TestVerifyExamples: systemd-analyze verify accepts every unit of every
// example node, installed with a bakc binary where ExecStart= expects it.
func TestVerifyExamples(t *testing.T) {
	for _, ex := range unitstest.Examples(t) {
		t.Run(ex.Node, func(t *testing.T) {
			files, err := Render(ex.Plan, DefaultProgram)
			require.NoError(t, err)
			// Debian's sanoid and zfs where a replicating node's units expect them.
			out, err := testenv.SystemdVerify(t, writeFiles(t, files), DefaultProgram, units.SanoidProgram, units.ZFSProgram)
			if err != nil || out != "" {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}
}

// TestVerifyCatchesAMissingProgram makes sure the verify test above can
// fail: without the bakc binary in place, verify must complain.
func TestVerifyCatchesAMissingProgram(t *testing.T) {
	ex := unitstest.Examples(t)[0]
	files, err := Render(ex.Plan, DefaultProgram)
	require.NoError(t, err)
	out, err := testenv.SystemdVerify(t, writeFiles(t, files))
	if err == nil || !strings.Contains(out, DefaultProgram) {
		t.Errorf("verify accepted units whose program is missing: %v\n%s", err, out)
	}
}

// TestHostile writes a plan full of quotes, %, $, ${, backslashes and
// spaces, and checks with systemd itself that every value comes back as
// it was: verify accepts the units, systemd's own parser (systemd
// --test) reads back the descriptions, mountpoints, writable paths,
// command lines and mounts, and systemd-sysusers and systemd-tmpfiles
// create the user and the folders at the hostile paths.
func TestHostile(t *testing.T) {
	p := unitstest.Hostile()
	program := "/opt/bakc 2/bin/bakc"
	files, err := Render(p, program)
	require.NoError(t, err)
	dir := writeFiles(t, files)
	unitstest.WriteStandIns(t, dir)

	out, err := testenv.SystemdVerify(t, dir, program, unitstest.StandInProgram)
	if err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The host keys as they are, after the comments, for ssh to read.
	kh, err := os.ReadFile(filepath.Join(dir, KnownHostsFile))
	require.NoError(t, err)
	if !strings.HasSuffix(string(kh), "\n"+unitstest.HostileKnownHosts+"\n") {
		t.Errorf("known_hosts does not end with the line as it is:\n%s", kh)
	}

	// A target that pulls in every unit, so that one systemd --test
	// run dumps them all.
	var names []string
	for _, f := range files {
		if strings.Contains(f.Name, ".") && !strings.HasSuffix(f.Name, ".json") && !strings.HasSuffix(f.Name, ".conf") {
			names = append(names, f.Name)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "all.target"), []byte("[Unit]\nWants="+strings.Join(names, " ")+"\n"), 0o644))
	dump := testenv.SystemdDump(t, dir, "all.target")

	media := dump["bakc-backup-media.service"]
	require.NotNil(t, media, "bakc-backup-media.service not loaded")
	if diff := cmp.Diff([]string{"bakc backup media: " + unitstest.HostileDescription}, media["Description"]); diff != "" {
		t.Errorf("Description (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{program, "run", "backup", "media", "--plan", unitstest.HostilePlanPath}}, commandLines(media["ExecStart"])); diff != "" {
		t.Errorf("ExecStart (-want +got):\n%s", diff)
	}
	// The repository's mount is not required (PrivateTmp= adds
	// /var/tmp); its automount is wanted and comes first.
	if diff := cmp.Diff([]string{"/var/tmp"}, slices.Sorted(slices.Values(fileOrigin(media["RequiresMountsFor"])))); diff != "" {
		t.Errorf("RequiresMountsFor (-want +got):\n%s", diff)
	}
	automount := escape.SystemdUnitNameFromPath(unitstest.HostileMountpoint, ".automount")
	for _, k := range []string{"Wants", "After"} {
		if !slices.Contains(unitNames(media[k]), automount) {
			t.Errorf("%s=%q lacks %s", k, media[k], automount)
		}
	}
	// systemd prints ReadWritePaths= joined by spaces; the escape
	// package's corpus test checks single hostile paths strictly. The
	// repositories' folders may be missing ("-").
	wantRW := []string{"-" + unitstest.HostileMountpoint, "-" + unitstest.HostileLocalRepo, "/var/cache/bakc", "/var/lib/bakc state/%i", "/var/lib/node_exporter/textfile collector", "/var/log/bakc"}
	// The hook's declared writes follow, with "-": ignored if missing.
	if diff := cmp.Diff([]string{strings.Join(slices.Sorted(slices.Values(wantRW)), " ") + " -" + unitstest.HostileWrites}, media["ReadWritePaths"]); diff != "" {
		t.Errorf("ReadWritePaths (-want +got):\n%s", diff)
	}
	// %n is the failed unit's full name: the instance is
	// "bakc-backup-media.service".
	if diff := cmp.Diff([]string{"notify-failure@bakc-backup-media.service.service"}, unitNames(media["OnFailure"])); diff != "" {
		t.Errorf("OnFailure (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{"User": "bakc", "Group": "bakc", "Nice": "5", "ProtectSystem": "strict", "PrivateTmp": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "ProtectKernelModules": "yes", "IOSchedulingClass": "best-effort", "CPUQuotaPerSecSec": "500ms", "TimeoutStartSec": "2h 30min"} {
		if diff := cmp.Diff([]string{want}, media[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}

	// The declared PATH folder before systemd's default, read back whole.
	if diff := cmp.Diff([]string{"PATH=" + unitstest.HostilePathDir + ":" + units.DefaultPath}, media["Environment"]); diff != "" {
		t.Errorf("Environment (-want +got):\n%s", diff)
	}

	system := dump["bakc-backup-system.service"]
	require.NotNil(t, system)
	if diff := cmp.Diff([]string{"page-oncall.service"}, unitNames(system["OnFailure"])); diff != "" {
		t.Errorf("system OnFailure (-want +got):\n%s", diff)
	}
	if got := system["User"]; len(got) != 0 {
		t.Errorf("the ZFS backup runs as %q, want root", got)
	}

	mount := dump[escape.SystemdUnitNameFromPath(unitstest.HostileMountpoint, ".mount")]
	require.NotNil(t, mount, "mount unit not loaded")
	if diff := cmp.Diff([]string{unitstest.HostileMountpoint}, mount["Where"]); diff != "" {
		t.Errorf("mount Where (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{unitstest.HostileServer + ":" + unitstest.HostileExport}, mount["What"]); diff != "" {
		t.Errorf("mount What (-want +got):\n%s", diff)
	}

	timer := dump["bakc-prune-local.timer"]
	require.NotNil(t, timer)
	if diff := cmp.Diff([]string{"bakc-prune-local.service"}, timer["Unit"]); diff != "" {
		t.Errorf("timer Unit (-want +got):\n%s", diff)
	}

	checkTmpfilesAndSysusers(t, p, files)
}

// checkTmpfilesAndSysusers creates the user and the folders with the
// real tools under a scratch root and looks at the result.
func checkTmpfilesAndSysusers(t *testing.T, p *plan.Plan, files []File) {
	sysusers := testenv.LookPath(t, "systemd-sysusers")
	tmpfiles := testenv.LookPath(t, "systemd-tmpfiles")
	testenv.Root(t)
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	data := map[string][]byte{}
	for _, f := range files {
		data[f.Name] = f.Data
	}
	// The runbook, installed beside the plan as units' help says.
	book := filepath.Join(root, units.RunbookPath(p))
	require.NoError(t, os.MkdirAll(filepath.Dir(book), 0o755))
	require.NoError(t, os.WriteFile(book, data[RunbookFile], 0o644))
	for _, run := range []struct {
		bin, file string
		args      []string
	}{
		{sysusers, SysusersFile, []string{"--root=" + root, "-"}},
		{tmpfiles, TmpfilesFile, []string{"--root=" + root, "--create", "-"}},
	} {
		cmd := exec.Command(run.bin, run.args...)
		cmd.Stdin = bytes.NewReader(data[run.file])
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", run.bin, run.file, err, out)
		}
	}
	// The runbook's link in the docs folder (the hostile plan's own,
	// else the seed's /var/lib/backup-docs): absolute, so read through
	// the scratch root.
	link := filepath.Join(root, p.Paths.DocsDir(), units.RunbookName)
	target, err := os.Readlink(link)
	require.NoError(t, err, "systemd-tmpfiles did not link the runbook")
	require.Equal(t, units.RunbookPath(p), target)
	got, err := os.ReadFile(filepath.Join(root, target))
	require.NoError(t, err)
	require.Contains(t, string(got), "# Backup runbook: `"+p.Node.Name+"`")
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	require.NoError(t, err)
	if !strings.Contains(string(passwd), "bakc:x:2049:2049:") {
		t.Errorf("systemd-sysusers did not create bakc with uid 2049:\n%s", passwd)
	}
	for dir, mode := range map[string]os.FileMode{
		p.Paths.State:              0o750,
		p.Paths.Cache:              0o750,
		p.Paths.Log:                0o750,
		p.Monitoring.TextfileDir:   0o755,
		unitstest.HostileLocalRepo: 0o700,
	} {
		fi, err := os.Stat(filepath.Join(root, dir))
		if err != nil {
			t.Errorf("systemd-tmpfiles did not create %q: %v", dir, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uint32(p.User.UID) || st.Gid != uint32(p.User.GID) {
			t.Errorf("%q is owned by %d:%d, want %d:%d", dir, st.Uid, st.Gid, p.User.UID, p.User.GID)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%q has mode %v, want %v", dir, fi.Mode().Perm(), mode)
		}
	}
}

// commandLines parses systemd's dump of command lines into the argv the
// program gets: the dump shows the arguments before the substitution of
// $VAR at start, where $$ stands for a literal $ (systemd.service(5),
// "Command lines").
func commandLines(lines []string) [][]string {
	var out [][]string
	for _, l := range lines {
		argv := testenv.ParseCommandLine(l)
		for i := 1; i < len(argv); i++ {
			argv[i] = strings.ReplaceAll(argv[i], "$$", "$")
		}
		out = append(out, argv)
	}
	return out
}

// fileOrigin keeps the values systemd took from the unit file itself.
func fileOrigin(vals []string) []string {
	var out []string
	for _, v := range vals {
		if p, ok := strings.CutSuffix(v, " (origin-file)"); ok {
			out = append(out, p)
		}
	}
	return out
}

// unitNames strips the "(origin-…)" systemd prints after dependencies.
func unitNames(vals []string) []string {
	var out []string
	for _, v := range vals {
		name, _, _ := strings.Cut(v, " ")
		out = append(out, name)
	}
	return out
}

// TestRejects: a value that cannot be carried is refused with the field
// named, and nothing is rendered.
func TestRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *plan.Plan)
		want   string
	}{
		{"newline in description", func(p *plan.Plan) { p.Jobs[0].Description = "a\nb" }, `job "media": description`},
		{"trailing backslash in description", func(p *plan.Plan) { p.Jobs[0].Description = `a\` }, `job "media": description`},
		{"relative state folder", func(p *plan.Plan) { p.Paths.State = "var/lib/bakc" }, "paths.state"},
		{"unclean mountpoint", func(p *plan.Plan) {
			p.Repositories[3].NFS.Mountpoint = "/mnt/x/../y"
		}, `repository "nas": nfs.mountpoint`},
		{"control character in local repository", func(p *plan.Plan) { p.Repositories[2].URL = "/srv/a\x1bb" }, `repository "local": url`},
		{"template instance in a job name", func(p *plan.Plan) { p.Jobs[0].Name = "a@b" }, `job "a@b": name`},
		{"unknown specifier in OnFailure", func(p *plan.Plan) { p.Monitoring.OnFailureUnit = "x@%z.service" }, "monitoring.on_failure_unit"},
		{"space in CPUQuota", func(p *plan.Plan) { p.Jobs[0].Resources.CPUQuota = "50 %" }, "resources.cpu_quota"},
		{"comma in a mount option", func(p *plan.Plan) { p.Repositories[3].NFS.Options = []string{"a,b"} }, "nfs.options"},
		{"bad user name", func(p *plan.Plan) { p.User.Name = "bakc user" }, "user.name"},
		{"NUL in the plan path", func(p *plan.Plan) { p.Paths.Plan = "/etc/a\x00b" }, "paths.plan"},
		{"newline in a known_hosts line", func(p *plan.Plan) { p.Repositories[1].SSH.KnownHosts = []string{"a\nb"} }, `repository "far": ssh.known_hosts`},
		{"inline host keys elsewhere than paths.known_hosts", func(p *plan.Plan) { p.Repositories[1].SSH.KnownHostsFile = "/etc/other" }, `repository "far": ssh.known_hosts_file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unitstest.Hostile()
			tt.mutate(p)
			files, err := Render(p, DefaultProgram)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Render: err = %v, want one naming %s", err, tt.want)
			}
			if files != nil {
				t.Errorf("Render returned files with an error")
			}
		})
	}
	if _, err := Render(unitstest.Hostile(), "bin/bakc"); err == nil {
		t.Error("Render accepted a relative program path")
	}
}

// TestMountsMatchFstabGenerator: the mount and automount units of a
// plain host are what systemd-fstab-generator makes of the fstab line
// that NixOS writes for the same repository (fileSystems → /etc/fstab),
// so that both hosts mount the repository the same way.
func TestMountsMatchFstabGenerator(t *testing.T) {
	generator := ""
	for _, g := range []string{"/lib/systemd/system-generators/systemd-fstab-generator", "/usr/lib/systemd/system-generators/systemd-fstab-generator"} {
		if _, err := os.Stat(g); err == nil {
			generator = g
			break
		}
	}
	if generator == "" {
		testenv.LookPath(t, "systemd-fstab-generator")
	}
	plans := []*plan.Plan{unitstest.Hostile()}
	for _, ex := range unitstest.Examples(t) {
		plans = append(plans, ex.Plan)
	}
	for _, p := range plans {
		set, err := units.Build(p)
		require.NoError(t, err)
		for _, r := range p.Repositories {
			if r.Kind != plan.KindNFS {
				continue
			}
			t.Run(p.Node.Name+"/"+r.Name, func(t *testing.T) {
				// nixos/modules/tasks/filesystems.nix: fields escaped
				// with \040 for space and \011 for tab.
				line := r.NFS.NixOSFstabLine()
				dir := t.TempDir()
				fstab := filepath.Join(dir, "fstab")
				require.NoError(t, os.WriteFile(fstab, []byte(line), 0o644))
				out := filepath.Join(dir, "out")
				for _, d := range []string{"out", "early", "late"} {
					require.NoError(t, os.Mkdir(filepath.Join(dir, d), 0o755))
				}
				cmd := exec.Command(generator, out, filepath.Join(dir, "early"), filepath.Join(dir, "late"))
				cmd.Env = []string{"SYSTEMD_FSTAB=" + fstab, "SYSTEMD_PROC_CMDLINE="}
				if o, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("fstab generator: %v\n%s", err, o)
				}
				for _, suffix := range []string{".mount", ".automount"} {
					name := escape.SystemdUnitNameFromPath(r.NFS.Mountpoint, suffix)
					genData, err := os.ReadFile(filepath.Join(out, name))
					require.NoError(t, err, "the generator wrote no %s", name)
					mine := set.Unit(name)
					require.NotNil(t, mine, "bakc wrote no %s", name)
					section := strings.TrimPrefix(suffix, ".")
					section = strings.ToUpper(section[:1]) + section[1:]
					gen := parseIni(string(genData))[section]
					ours := map[string][]string{}
					for _, k := range mine.Section(section).Keys() {
						ours[k] = mine.Section(section).Values(k)
					}
					for k, v := range gen {
						if strings.HasPrefix(k, "Timeout") {
							v = normalizeSpans(t, v)
							ours[k] = normalizeSpans(t, ours[k])
						}
						if diff := cmp.Diff(v, ours[k]); diff != "" {
							t.Errorf("%s [%s] %s: generator vs bakc (-generator +bakc):\n%s", name, section, k, diff)
						}
					}
					for k := range ours {
						if _, ok := gen[k]; !ok {
							t.Errorf("%s [%s] %s is set by bakc, not by the generator", name, section, k)
						}
					}
				}
			})
		}
	}
}

// parseIni reads a unit file into section → key → values.
func parseIni(s string) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	sec := ""
	for _, line := range strings.Split(s, "\n") {
		switch {
		case line == "", strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			sec = strings.Trim(line, "[]")
			out[sec] = map[string][]string{}
		default:
			k, v, _ := strings.Cut(line, "=")
			out[sec][k] = append(out[sec][k], v)
		}
	}
	return out
}

// normalizeSpans turns systemd time spans into microseconds with
// systemd-analyze timespan, so that "600" and "10min" compare equal.
func normalizeSpans(t *testing.T, spans []string) []string {
	analyze := testenv.SystemdAnalyze(t)
	var out []string
	for _, s := range spans {
		o, err := exec.Command(analyze, "timespan", s).Output()
		require.NoError(t, err, "systemd-analyze timespan %s", s)
		for _, line := range strings.Split(string(o), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "μs:"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}
